/* src/sample/dist_coord.c: the coordinator of the distributed sampler (rank 0): the decide
 * arithmetic that P = 1 and P > 1 share, so the output cannot depend on P, and its
 * message loop over the epochs (src/sample/dist_impl.h; docs/ARCHITECTURE.md
 * "Distributed sampling protocol"). */
#include "dist_impl.h"

#include "latflow/timer.h"

#include <math.h>
#include <string.h>

void lf_dist_coord_init(coord *co, const lf_config *cfg, int8_t *acc) {
  memset(co, 0, sizeof *co);
  lf_imh_init(&co->c, cfg->seed);
  co->es = LF_ESS_ACC_INIT;
  co->reweight = cfg->sample.mode == LF_SAMPLE_REWEIGHT;
  co->save_all = cfg->sample.save == LF_SAVE_ALL;
  co->B = cfg->sample.block;
  co->acc = acc;
}

/* Decides block b exactly as lf_sample_run does: flags[i] (FLAG_ACC, FLAG_STORE), the chain
 * steps of the block, *first_row; returns the number of stored proposals. */
int lf_dist_coord_decide(coord *co, uint64_t b, const double *logw, uint8_t *flags,
                         lf_ens_step *steps, size_t *nsteps, int64_t *first_row) {
  const int B = co->B;
  const uint64_t g0 = b * (uint64_t)B;
  lf_imh *c = &co->c;
  size_t ns = 0;
  int nst = 0;
  *first_row = co->next_row;
  for (int i = 0; i < B; i++) {
    lf_ess_acc_add(&co->es, logw[i]);
  }
  if (co->reweight) {
    for (int i = 0; i < B; i++) {
      flags[i] = 0;
      c->steps++;
      if (!isfinite(logw[i])) {
        c->bad++;
        continue;
      }
      flags[i] = FLAG_ACC | FLAG_STORE;
      c->accepted++;
      steps[ns++] =
          (lf_ens_step){co->next_row++, (int64_t)(g0 + (uint64_t)i), logw[i], NAN, 1, 0, 0};
      nst++;
    }
  } else {
    lf_imh_decide(c, g0, B, logw, co->acc);
    for (int i = 0; i < B; i++) {
      flags[i] = 0;
      if (co->acc[i] || (co->save_all && isfinite(logw[i]))) {
        const int64_t row = co->next_row++;
        flags[i] = FLAG_STORE;
        nst++;
        if (co->acc[i]) {
          c->cur_row = row;
          flags[i] |= FLAG_ACC;
        }
      }
      if (c->cur_row < 0) continue; /* no state yet: nothing to record */
      steps[ns++] =
          (lf_ens_step){c->cur_row, (int64_t)(g0 + (uint64_t)i), logw[i], NAN, co->acc[i], 0, 0};
    }
  }
  *nsteps = ns;
  return nst;
}

/* The worker that computes block b. */
static int owner(uint64_t b, int P) {
  return 1 + (int)(b % (uint64_t)(P - 1));
}

/* Rank 0 with P > 1: receives each block's log w from its owner in order, decides it, sends
 * the decision back; every epoch ends in lf_dist_epoch_end (ABORT to the workers first on a
 * failure); then receives every worker's BYE and the log w messages still in flight. */
lf_status lf_dist_run_coordinator(const run_args *a, MPI_Comm comm, int P, shared *sh, bufs *u,
                                  lf_comm_idler *id) {
  lf_status rc = LF_OK, rc2;
  const int B = a->cfg->sample.block;
  const uint64_t total = a->nblocks * (uint64_t)B;
  for (uint64_t eb = a->b0; eb < a->nblocks && rc == LF_OK;) {
    const uint64_t ee = eb + (uint64_t)a->E < a->nblocks ? eb + (uint64_t)a->E : a->nblocks;
    lf_status rc0 = LF_OK;
    int s = 0;
    for (uint64_t b = eb; b < ee && rc0 == LF_OK; b++, s++) {
      const int src = owner(b, P);
      MPI_Status st;
      msg_hdr h;
      if ((rc0 = lf_comm_wait_msg(comm, src, TAG_LOGW, &st, id)) != LF_OK) break;
      if (MPI_Recv(u->rbuf, (int)u->lw_bytes, MPI_BYTE, src, TAG_LOGW, comm, MPI_STATUS_IGNORE) !=
          MPI_SUCCESS) {
        rc0 = LF_FAIL(LF_ERR_MPI, "MPI_Recv (log w) from rank %d", src);
        break;
      }
      u->recvd[src]++;
      memcpy(&h, u->rbuf, sizeof h);
      if (h.block != b || h.n != B) {
        rc0 = LF_FAIL(LF_ERR_MPI, "rank %d sent block %llu (%d weights), expected %llu (%d)", src,
                      (unsigned long long)h.block, h.n, (unsigned long long)b, B);
        break;
      }
      unsigned char *m = u->decs + (size_t)s * u->dec_bytes;
      msg_hdr d = {b, 0, MSG_DECISION, 0, 0};
      size_t ns = 0;
      d.n = lf_dist_coord_decide(sh->co, b, (const double *)(const void *)(u->rbuf + sizeof h),
                                 m + sizeof d, sh->eb.steps + sh->eb.nsteps, &ns, &d.first_row);
      sh->eb.nsteps += ns;
      memcpy(m, &d, sizeof d);
      if (MPI_Isend(m, (int)u->dec_bytes, MPI_BYTE, src, TAG_C2W, comm, &u->reqs[s]) !=
          MPI_SUCCESS) {
        rc0 = LF_FAIL(LF_ERR_MPI, "MPI_Isend (decision) to rank %d", src);
        break;
      }
      const uint64_t done = (b + 1) * (uint64_t)B;
      if (a->o.cb && a->o.cb(&sh->co->c, done, total, lf_wtime() - sh->t0, a->o.ctx))
        rc0 = LF_FAIL(LF_ERR_INVALID, "sampling stopped by the caller after %llu proposals",
                      (unsigned long long)done);
    }
    if (rc0 != LF_OK) { /* workers may wait for decisions that will not come */
      msg_hdr e = {0, 0, MSG_ABORT, 0, 0};
      for (int r = 1; r < P; r++) MPI_Send(&e, (int)sizeof e, MPI_BYTE, r, TAG_C2W, comm);
      sh->abort_sent = 1;
    }
    sh->since += (ee - eb) * (uint64_t)B;
    rc = lf_dist_epoch_end(a, comm, 0, sh, ee, rc0);
    for (int k = 0; k < s; k++)
      if ((rc2 = lf_comm_wait(&u->reqs[k], id, LF_COMM_BACKOFF_P2P)) != LF_OK && rc == LF_OK)
        rc = rc2;
    eb = ee;
  }
  /* shutdown: every worker says how many log w messages it sent; receive the rest */
  for (int r = 1; r < P; r++) {
    MPI_Status st;
    uint64_t sent = 0;
    if ((rc2 = lf_comm_wait_msg(comm, r, TAG_BYE, &st, id)) != LF_OK ||
        MPI_Recv(&sent, 1, MPI_UINT64_T, r, TAG_BYE, comm, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
      if (rc == LF_OK) rc = rc2 != LF_OK ? rc2 : LF_FAIL(LF_ERR_MPI, "MPI_Recv (bye) from %d", r);
      continue;
    }
    for (; u->recvd[r] < sent; u->recvd[r]++)
      if (MPI_Recv(u->rbuf, (int)u->lw_bytes, MPI_BYTE, r, TAG_LOGW, comm, MPI_STATUS_IGNORE) !=
              MPI_SUCCESS &&
          rc == LF_OK)
        rc = LF_FAIL(LF_ERR_MPI, "MPI_Recv (drain) from rank %d", r);
  }
  return rc;
}
