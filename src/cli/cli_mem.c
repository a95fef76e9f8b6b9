/* The memory check of a card at the start of a command (lf_cli_memory_check, cli.h): the
 * estimate per rank (latflow/mem.h) against what this rank may use, refused before
 * anything is allocated when it cannot fit. */
#include "cli.h"

#include "latflow/io.h"
#include "latflow/log.h"
#include "latflow/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The estimate's command for cmd; 0 for the commands without one. */
static int mem_cmd(const char *cmd, lf_mem_cmd *m) {
  static const struct {
    const char *name;
    lf_mem_cmd cmd;
  } t[] = {{"train", LF_MEM_TRAIN},
           {"sample", LF_MEM_SAMPLE},
           {"hmc", LF_MEM_HMC},
           {"run", LF_MEM_RUN},
           {"bench", LF_MEM_BENCH}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (!strcmp(cmd, t[i].name)) {
      *m = t[i].cmd;
      return 1;
    }
  return 0;
}

/* What to lower, by the biggest part of the estimate. */
static const char *mem_hint(const lf_mem_est *e) {
  const char *big = e->nparts ? e->part[0].name : "";
  if (!strcmp(big, "Dirac matrices"))
    return "use theory.logdet: sparse or a smaller theory.shape (the Schwinger model's Dirac "
           "matrices are dense)";
  if (!strcmp(big, "Dirac factor")) return "use a smaller theory.shape";
  if (!strcmp(big, "flow ensemble") || !strcmp(big, "hmc ensemble"))
    return "lower sample.proposals or hmc.trajectories, or run train, sample and hmc separately";
  if (!strcmp(big, "epoch buffer")) return "lower sample.epoch or sample.block, or use save: none";
  if (!strcmp(big, "flow parameters"))
    return "lower model.layers, model.hidden or model.kernel, or use model.precision: single";
  if (!strcmp(e->phase, "train"))
    return "lower train.batch (and train.schedule.batch_max), model.layers or model.hidden, or "
           "use model.precision: single";
  if (!strcmp(e->phase, "sample"))
    return "lower sample.block, model.layers or model.hidden, or use model.precision: single";
  return "use a smaller card";
}

/* LATFLOW_MEM_CHECK=0 (off, no, false): log the estimate, do not refuse. */
static int mem_check_off(void) {
  const char *v = getenv("LATFLOW_MEM_CHECK");
  return v && (!strcmp(v, "0") || !strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false"));
}

/* Collective: the estimate is the same on every rank; the refusal is agreed. */
lf_status lf_cli_memory_check(MPI_Comm comm, const char *cmd, const lf_cli_opts *o,
                              const lf_config *cfg) {
  lf_mem_cmd mc;
  if (!mem_cmd(cmd, &mc)) return LF_OK;
  int nranks = 1, node_ranks = 1;
  MPI_Comm_size(comm, &nranks);
  MPI_Comm node;
  if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
    MPI_Comm_size(node, &node_ranks);
    MPI_Comm_free(&node);
  }
  /* sample --model M samples M's architecture, whatever the card's model section says */
  lf_config c = *cfg;
  if (mc == LF_MEM_SAMPLE && o->model) {
    lf_config mcfg;
    if (lf_io_model_peek(o->model, &mcfg) == LF_OK) c.model = mcfg.model;
    lf_clear_error();
  }
  lf_mem_est e;
  lf_mem_estimate(&c, mc, nranks, &e);
  double avail = -1.0;
  char what[256] = "", need[32], have[32], parts[640] = "";
  const char *lim = getenv("LATFLOW_MEM_LIMIT");
  lf_status rc = LF_OK;
  if (lim && lim[0]) {
    if (lf_mem_parse_size(lim, &avail) != LF_OK)
      rc = lf_fail_msg(LF_ERR_USAGE, "LATFLOW_MEM_LIMIT: %s", lf_last_error());
    snprintf(what, sizeof what, "LATFLOW_MEM_LIMIT=%s per rank", lim);
  } else {
    lf_mem_sources src;
    char buf[2048];
    lf_mem_sources_default(&src, buf, sizeof buf);
    lf_mem_available(&src, node_ranks, &avail, what, sizeof what);
  }
  lf_mem_format(e.total, need, sizeof need);
  lf_mem_format(avail, have, sizeof have);
  for (int i = 0, k = 0; i < e.nparts && i < 3; i++) {
    char b[32];
    k += snprintf(parts + k, sizeof parts - (size_t)k, "%s%s %s: %s", i ? "; " : "", e.part[i].name,
                  lf_mem_format(e.part[i].bytes, b, sizeof b), e.part[i].detail);
    if (k >= (int)sizeof parts) break;
  }
  const int off = mem_check_off();
  lf_log_info("latflow", "memory: about %s per rank (peak in %s; %s); available %s (%s)%s", need,
              e.phase, parts, avail >= 0 ? have : "unknown", avail >= 0 ? what : "no source",
              off ? "; LATFLOW_MEM_CHECK=0: not checked" : "");
  if (rc == LF_OK && !off && avail >= 0 && e.total > avail)
    rc = lf_fail_msg(LF_ERR_CONFIG,
                     "this card needs about %s per rank for %s (%s), but %s %s available (%s): "
                     "%s; LATFLOW_MEM_CHECK=0 skips this check (docs/CONFIG.md, \"Memory\")",
                     need, e.phase, parts, have, "is", what, mem_hint(&e));
  return lf_cli_agree(comm, rc);
}
