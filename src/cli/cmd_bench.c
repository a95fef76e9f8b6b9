/* latflow bench CONFIG [--json] [--seconds S] [--estimator rt|re|both] [--train-only]:
 * throughput of the training step with its split into phases, of proposal generation,
 * peak memory, and the forward pass's FLOP efficiency against this CPU's FP32 FMA peak
 * measured by a probe in the same run. The command parses its options and calls the
 * benchmark driver (latflow/bench.h, src/driver/bench.c). */
#include "cli.h"
#include "cmd_train.h"

#include "latflow/bench.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: latflow bench [CONFIG] [--seconds S] [--json] [--set key=value]...\n"
    "                     [--estimator rt|re|both] [--train-only] [--isa ISA]\n"
    "Measures, for the model and theory of CONFIG (float or double per model.precision):\n"
    "  train_steps_per_s   training steps per second at train.batch (the first estimator)\n"
    "  train               one object per estimator (--estimator; default train.estimator),\n"
    "                      each trained from the same fresh initialization:\n"
    "    step_s            mean wall seconds per training step (lf_trainer_step), split into\n"
    "    forward_s         = sample_s + logq_s: the flow eps -> phi with log q (rt: saving\n"
    "                      for the backward), plus for re the inverse pass log q_theta(phi)\n"
    "    action_s          = action_eval_s + action_grad_s: S(phi) (schwinger: the LU of\n"
    "                      D), plus for rt dS/dphi (schwinger: LU again and the inverse)\n"
    "    backward_s        parameter gradients through the flow (re: the inverse flow)\n"
    "    other_s           step_s minus the three: noise_s (base noise), update_s\n"
    "                      (optimizer, clipping, checks), loss/ESS sums, reductions\n"
    "    cpu_step_s        process CPU seconds per step (CLOCK_PROCESS_CPUTIME_ID; on a\n"
    "                      loaded machine step_s - cpu_step_s is time waiting for a core)\n"
    "    steps             timed steps (after 1-2 warm-up steps)\n"
    "    rss_before_mb     peak RSS of the process before this estimator's model and trainer\n"
    "    peak_rss_mb       peak RSS after its steps (a high-water mark of the whole process:\n"
    "                      per estimator only if it is the only one in the process, e.g.\n"
    "                      --estimator re --train-only)\n"
    "  proposals_per_s     proposals (noise, phi = f(z), log q, S; no gradients: the no-grad\n"
    "                      forward) per second,\n"
    "                      sample.block proposals per call\n"
    "  peak_rss_mb         peak resident memory of the process (everything it ran)\n"
    "  flop_efficiency     forward pass conv FLOP rate / FP32 FMA peak of this CPU (probe)\n"
    "  coordinator_weights_per_s      the sampling coordinator alone on synthetic log\n"
    "                      weights (IMH decide, row assignment, message packing; one process)\n"
    "  coordinator_weights_per_s_mpi  the same under mpiexec with P-1 workers sending\n"
    "                      synthetic blocks (P > 1 only), with the coordinator's idle CPU\n"
    "  sample_proposals_per_s         the distributed sampler on all P ranks (no file)\n"
    "--isa auto|generic|avx2|avx512 caps the SIMD level of the kernels and of the FMA\n"
    "probe (as the environment variable LATFLOW_ISA does for every command); the level in\n"
    "use is reported as isa.\n"
    "--train-only measures the training step(s) only (no proposals, FLOP probe or sampler):\n"
    "then peak_rss_mb is that of model + trainer + theory and the training steps.\n"
    "Under mpiexec -n P the model measurements run on rank 0 only.\n"
    "Each measurement runs for about S seconds (default 3; at least 3 steps) after a\n"
    "warm-up. Writes nothing. The text output (log) gives the same split.\n"
    "Fix OPENBLAS_NUM_THREADS (1 is the fair default on this machine).\n";

/* Takes --estimator and --train-only out of argv (into bo and *rest / *nrest, the
 * remaining arguments for lf_cli_setup). 0 on success; 2 (usage) with a message. */
static int bench_args(int argc, char **argv, lf_bench_opts *bo, char **rest, int *nrest) {
  memset(bo, 0, sizeof *bo);
  int k = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (i >= 2 && !strcmp(a, "--train-only")) {
      bo->train_only = 1;
    } else if (i >= 2 && (!strcmp(a, "--isa") || !strncmp(a, "--isa=", 6))) {
      const char *v = a[5] == '=' ? a + 6 : (i + 1 < argc ? argv[++i] : "");
      if (lf_nn_isa_parse(v, "--isa", &bo->isa) != LF_OK) {
        fprintf(stderr, "latflow: bench: %s\n", lf_last_error());
        return 2;
      }
      bo->isa_given = 1;
    } else if (i >= 2 && (!strcmp(a, "--estimator") || !strncmp(a, "--estimator=", 12))) {
      const char *v = a[11] == '=' ? a + 12 : (i + 1 < argc ? argv[++i] : "");
      if (!strcmp(v, "rt") || !strcmp(v, "re")) {
        bo->nest = 1;
        bo->est[0] = !strcmp(v, "rt") ? LF_EST_RT : LF_EST_RE;
      } else if (!strcmp(v, "both")) {
        bo->nest = 2;
        bo->est[0] = LF_EST_RT;
        bo->est[1] = LF_EST_RE;
      } else {
        fprintf(stderr, "latflow: bench: --estimator needs rt, re or both, got '%s'\n", v);
        return 2;
      }
    } else {
      rest[k++] = argv[i];
    }
  }
  rest[k] = NULL;
  *nrest = k;
  return 0;
}

/* Parses the options, loads the card and runs the benchmark; rank 0 prints --json. */
int lf_cmd_bench(int argc, char **argv, MPI_Comm comm) {
  lf_cli_opts o;
  lf_config cfg;
  lf_bench_opts bo;
  int code, nrest = 0;
  char **rest = malloc(((size_t)argc + 1) * sizeof *rest);
  if (!rest) {
    fprintf(stderr, "latflow: bench: out of memory\n");
    return 1;
  }
  if ((code = bench_args(argc, argv, &bo, rest, &nrest)) != 0 ||
      !lf_cli_setup(nrest, rest, comm, "bench", help, &o, &cfg, &code)) {
    free(rest);
    return code;
  }
  free(rest);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  bo.seconds = o.seconds; /* 0 (not given): the driver's default */
  cJSON *json = cJSON_CreateObject();
  cJSON_AddStringToObject(json, "command", "bench");
  code = lf_cli_report(lf_bench_run(&cfg, &bo, comm, json));
  if (code == 0 && o.json && rank == 0) code = lf_cli_print_json(json);
  cJSON_Delete(json);
  return code;
}
