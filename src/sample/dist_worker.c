/* src/sample/dist_worker.c: the workers of the distributed sampler (ranks 1..P-1): the
 * proposals of a block and the message loop that computes blocks ahead, sends their log
 * weights and packs the stored states the coordinator decided (src/sample/dist_impl.h;
 * docs/ARCHITECTURE.md "Distributed sampling protocol"). */
#include "dist_impl.h"

#include <string.h>

void lf_dist_propose(source *s, uint64_t b, double *phi, double *logw) {
  if (s->p) {
    lf_propose_block(s->p, b, phi, s->logq, s->S, logw);
    return;
  }
  lf_rng_normal(s->key, 1u, b * (uint64_t)s->B, (size_t)s->B, logw);
  for (int i = 0; i < s->B; i++) logw[i] *= 2.0;
}

/* Rank r >= 1: blocks fm, fm + (P-1), ... of [b0, nblocks) with owner r; at most
 * LF_DIST_WINDOW of them computed and undecided. */
lf_status lf_dist_run_worker(const run_args *a, MPI_Comm comm, int rank, int P, source *src,
                             shared *sh, bufs *u, lf_comm_idler *id) {
  lf_status rc = LF_OK, rc2;
  enum { W = LF_DIST_WINDOW };
  const int B = a->cfg->sample.block;
  const size_t n = a->th ? (size_t)a->th->C * (size_t)a->th->V : 1;
  const uint64_t stride = (uint64_t)(P - 1), mine = (uint64_t)(rank - 1);
  const uint64_t fm = a->b0 + (mine + stride - a->b0 % stride) % stride;
  const uint64_t nmine = a->nblocks > fm ? (a->nblocks - fm + stride - 1) / stride : 0;
  MPI_Request rw[W];
  for (int s = 0; s < W; s++) rw[s] = MPI_REQUEST_NULL;
  uint64_t comp = 0, done = 0, sent = 0;
  int aborted = 0;
  for (uint64_t eb = a->b0; eb < a->nblocks && rc == LF_OK;) {
    const uint64_t ee = eb + (uint64_t)a->E < a->nblocks ? eb + (uint64_t)a->E : a->nblocks;
    lf_status rc0 = LF_OK;
    /* until every decision of this epoch is in and the window is full: the blocks
     * computed ahead are ready when the epoch step ends (workers never idle in it for
     * want of work they could have done before) */
    while (!aborted &&
           ((done < nmine && fm + done * stride < ee) || (comp < nmine && comp - done < W))) {
      int flag = 0;
      if (MPI_Iprobe(0, TAG_C2W, comm, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
        rc0 = LF_FAIL(LF_ERR_MPI, "MPI_Iprobe (decision)");
        break;
      }
      if (flag) {
        lf_comm_busy(id);
        msg_hdr h;
        if (MPI_Recv(u->cm, (int)u->dec_bytes, MPI_BYTE, 0, TAG_C2W, comm, MPI_STATUS_IGNORE) !=
            MPI_SUCCESS) {
          rc0 = LF_FAIL(LF_ERR_MPI, "MPI_Recv (decision)");
          break;
        }
        memcpy(&h, u->cm, sizeof h);
        if (h.type != MSG_DECISION) {
          aborted = 1;
          break;
        }
        const uint64_t b = fm + done * stride;
        if (h.block != b || done >= comp) { /* a bug: recorded, agreed at the epoch end */
          if (rc0 == LF_OK)
            rc0 = LF_FAIL(LF_ERR_MPI, "decision for block %llu, expected %llu",
                          (unsigned long long)h.block, (unsigned long long)b);
        } else if (rc0 == LF_OK) {
          rc0 = lf_dist_pack_rows(&sh->eb, a->th, B, u->wphi + (size_t)(done % W) * (size_t)B * n,
                                  u->cm + sizeof h, h.n, h.first_row);
        }
        done++;
        continue;
      }
      if (comp < nmine && comp - done < W) {
        lf_comm_busy(id);
        const int s = (int)(comp % W);
        if ((rc2 = lf_comm_wait(&rw[s], id, LF_COMM_BACKOFF_P2P)) != LF_OK) {
          rc0 = rc2;
          break;
        }
        const uint64_t b = fm + comp * stride;
        unsigned char *m = u->lwm + (size_t)s * u->lw_bytes;
        msg_hdr h = {b, 0, 0, B, 0};
        memcpy(m, &h, sizeof h);
        lf_dist_propose(src, b, u->wphi + (size_t)s * (size_t)B * n,
                        (double *)(void *)(m + sizeof h));
        if (MPI_Isend(m, (int)u->lw_bytes, MPI_BYTE, 0, TAG_LOGW, comm, &rw[s]) != MPI_SUCCESS) {
          rc0 = LF_FAIL(LF_ERR_MPI, "MPI_Isend (log w)");
          break;
        }
        comp++;
        sent++;
        continue;
      }
      lf_comm_idle(id, LF_COMM_BACKOFF_P2P);
    }
    sh->since += (ee - eb) * (uint64_t)B;
    rc = lf_dist_epoch_end(a, comm, rank, sh, ee, rc0);
    eb = ee;
  }
  /* shutdown: take the ABORT that rank 0 sent if not yet read, say how many log w
   * messages were sent, and wait for them to be received */
  while (sh->abort_sent && !aborted) {
    msg_hdr h;
    if (MPI_Recv(u->cm, (int)u->dec_bytes, MPI_BYTE, 0, TAG_C2W, comm, MPI_STATUS_IGNORE) !=
        MPI_SUCCESS) {
      if (rc == LF_OK) rc = LF_FAIL(LF_ERR_MPI, "MPI_Recv (abort)");
      break;
    }
    memcpy(&h, u->cm, sizeof h);
    aborted = h.type != MSG_DECISION;
  }
  if (MPI_Send(&sent, 1, MPI_UINT64_T, 0, TAG_BYE, comm) != MPI_SUCCESS && rc == LF_OK)
    rc = LF_FAIL(LF_ERR_MPI, "MPI_Send (bye)");
  for (int s = 0; s < W; s++)
    if ((rc2 = lf_comm_wait(&rw[s], id, LF_COMM_BACKOFF_P2P)) != LF_OK && rc == LF_OK) rc = rc2;
  return rc;
}
