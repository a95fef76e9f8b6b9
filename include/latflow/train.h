/* latflow/train.h: reverse-KL self-training of a flow model (DESIGN.md section 6).
 *
 * One step at batch B and training step t (t = 0, 1, ...):
 *   eps_i = N(0,1)^(C V) from stream LF_STREAM_TRAIN at (step t, index i)
 *   phi_i = f(A eps_i),  log q_i,  S_i,  log w_i = -S_i - log q_i,  s_i = log q_i + S_i
 *   rt: loss = mean_i s_i, back-propagated through S, the flow and the base
 *       (dL/dphi = dS/dphi / B, dL/dlogq = 1/B);
 *   re: REINFORCE (Bialas, Korcyl, Stebel, CPC 2024, arXiv 2308.13294): phi and s_i
 *       are fixed; the inverse flow recomputes log q_theta(phi_i) and
 *       loss = 1/(B-1) sum_i log q_theta(phi_i) (s_i - mean s) is back-propagated (the
 *       leave-one-out baseline, which keeps the estimator unbiased at any B >= 2). The
 *       action's gradient is never evaluated.
 * The reported loss is mean_i s_i (= KL(q||p) - log Z) for both estimators. ESS of the
 * batch is (sum w)^2 / (B sum w^2); ess_smoothed is its mean over the last ess_window
 * steps. Both are cheap indicators biased high: the batch is small and the parameters
 * were just fitted to it. Schedules: lr = lr0 / 2^floor(t / lr_halve_every); B =
 * min(batch_max, batch * 2^floor(t / batch_double_every)).
 *
 * Fresh-sample evaluations (lf_train_eval): after every step t with (t + 1) a multiple of
 * train.eval_every (> 0), and once when training ends (unless its last step was just
 * evaluated), lf_train_run evaluates the model on train.eval_samples (> 0) fresh samples
 * from their own stream, LF_STREAM_EVAL at RNG steps 2k and 2k + 1 for the evaluation
 * after k training steps, so no training draw is touched and the trained parameters are
 * bitwise the same whatever eval_every and eval_samples are. Each evaluation is logged
 * ("eval step=... ess=... acc=..."), passed to the evaluation callback
 * (lf_trainer_set_eval_callback) and counted in the checkpointed state (evals,
 * last_eval). Training stops at train.stop.steps, at the first evaluation whose ESS
 * reaches target_ess (> 0), or at wall_time, whichever is first.
 * A step whose loss, gradient or updated parameters are not finite is skipped (the
 * parameters and optimizer moments are restored) and reported; max_bad_steps
 * consecutive skips stop training with LF_ERR_NUMERIC, the model holding the last good
 * parameters.
 *
 * Data parallel (docs/ARCHITECTURE.md "Data-parallel training"): after
 * lf_trainer_set_comm(tr, comm) with P ranks, rank r of a step at global batch B handles
 * the global sample indices [r*B/P, (r+1)*B/P) (B >= P), draws their noise exactly as
 * the serial run does, and back-propagates with the global normalization (RT 1/B; RE the
 * global mean s and 1/(B-1), from an all-reduce of sum s before the backward). The grad
 * arena is summed by ONE MPI_Allreduce per step, so every rank holds the full-batch
 * gradient and applies the same optimizer step; loss, ESS (global max log w, then the
 * sums of w and w^2) and grad norm are global. lf_trainer_check_sync compares
 * lf_model_hash over comm (every LF_TRAIN_SYNC_EVERY steps and at the end of
 * lf_train_run). With one rank (the default, MPI_COMM_SELF) no MPI call is made, so the
 * serial trainer works without MPI_Init. lf_trainer_gradient, _step, lf_train_run,
 * lf_train_eval and lf_trainer_check_sync are collective over comm and return the same
 * status on every rank; everything else is local.
 *
 * Checkpoints and exact resume (docs/FORMAT.md "Train checkpoints"): the trajectory of a
 * run is a pure function of the config, the step t and the state below, because every
 * draw comes from the counter-based RNG at (seed, stream, t, index) and the schedules
 * are functions of t. lf_trainer_save stores that state bitwise: the parameter arena,
 * both optimizer-moment arenas (Adam m and v, SGD momentum, Adadelta accumulators; the
 * arenas of the network precision, as bytes), the optimizer step counter, the ESS ring
 * (ess_ring, ess_n, ess_pos, ess_sum), next_step, skipped, bad_in_row, dead_in_row, seconds,
 * records, evals and last_eval. lf_trainer_load restores it into a trainer built from a config with
 * the same result-relevant keys, so training on from next_step gives the bits of an uninterrupted
 * run. After lf_trainer_set_checkpoint, lf_train_run writes checkpoints itself (rank 0 of comm)
 * every train.checkpoint_every steps and when a signal arrives (latflow/signal.h): at every step
 * boundary t it calls lf_signal_test_hook("train", t, rank) and lf_signal_agree over comm, so all
 * ranks stop at the same t; it then writes the checkpoint (next_step = t) and returns
 * LF_INTERRUPTED ("interrupted by SIGTERM at step t; checkpoint <path>"). */
#ifndef LATFLOW_TRAIN_H
#define LATFLOW_TRAIN_H

#include "latflow/ckpt.h"
#include "latflow/config.h"
#include "latflow/model.h"
#include "latflow/status.h"
#include "latflow/theory.h"

#include <mpi.h>
#include <stdint.h>

/* lf_train_run compares the parameter hash across ranks every this many steps. */
#define LF_TRAIN_SYNC_EVERY 100

/* lf_train_run fails (LF_ERR_NUMERIC, "the network is dead") after this many consecutive
 * steps whose global gradient norm is exactly 0: the parameters then no longer learn
 * (a step size that threw every unit into saturation or every ReLU off), and the steps
 * left would be wasted. A trained-out flow is not affected: its gradient estimate is a
 * noisy sample mean, never exactly 0. */
#define LF_TRAIN_DEAD_STEPS 25

typedef struct lf_train_step_info {
  long step;           /* 0-based step just finished */
  double loss;         /* mean s (NaN if skipped) */
  double ess;          /* batch ESS */
  double ess_smoothed; /* window mean */
  double lr;
  int batch;
  double seconds; /* training wall seconds so far (evaluations excluded) */
  double grad_norm;
  int skipped; /* 1 if the step was skipped (NaN/Inf) */
  /* Wall seconds (lf_wtime) of this step's phases on this rank. Diagnostics only: the
   * trainer never reads them, so no result depends on them. lf_trainer_gradient fills
   * all but t_update; lf_trainer_step adds t_update and makes t_total the whole step.
   * The phases do not overlap; t_total - (their sum) is the rest (the loss and ESS
   * sums, all-reduces, gradient norm). latflow bench reports them (docs/PERFORMANCE.md). */
  double t_noise;       /* base noise eps, zeroing the grad arena */
  double t_sample;      /* flow forward eps -> phi with log q (rt: saving for backward) */
  double t_logq;        /* re: the inverse pass log q_theta(phi) (rt: 0) */
  double t_action;      /* S(phi) */
  double t_action_grad; /* rt: dS/dphi (re: 0) */
  double t_backward;    /* parameter gradients (through the flow, or the inverse flow) */
  double t_update;      /* clipping, backup, optimizer step, finiteness check */
  double t_total;       /* the whole lf_trainer_gradient / lf_trainer_step call */
} lf_train_step_info;

/* Called after every step; a non-OK return stops training with that status. */
typedef lf_status (*lf_train_callback)(void *ctx, const lf_train_step_info *info);

/* One evaluation on fresh samples (lf_train_eval). */
typedef struct lf_eval_result {
  long step; /* training steps done (the RNG counter of the draws, see above) */
  long n;    /* fresh samples evaluated (0: no evaluation) */
  double ess;
  double acceptance;      /* of an IMH chain over the n samples in order */
  double log_mean_weight; /* log <w>: estimate of log Z (+ the constant of p~) */
  double mean_loss;       /* <log q + S> = KL(q||p) - log Z estimate */
  int64_t n_train;        /* samples flowed through training in steps [0, step) */
  double train_seconds;   /* training wall seconds so far, evaluations excluded */
  double seconds;         /* wall seconds of this evaluation */
} lf_eval_result;

typedef struct lf_train_result {
  long steps;          /* steps taken */
  long skipped;        /* steps skipped for NaN/Inf */
  double loss;         /* last loss */
  double ess_smoothed; /* at the end (batch ESS) */
  double wall_seconds;
  const char *stop_reason; /* static: "steps", "target_ess", "wall_time", "signal" */
  long nevals;             /* evaluations made by this call */
  double eval_seconds;     /* their wall seconds */
  lf_eval_result eval;     /* the last of them (eval.n = 0: none) */
} lf_train_result;

/* Called by lf_train_run after every evaluation, on every rank that set it; a non-OK
 * return stops training with that status (agreed over comm). */
typedef lf_status (*lf_train_eval_callback)(void *ctx, const lf_eval_result *ev);

/* Called by lf_train_run on rank 0 just before it writes a checkpoint: make the step
 * callback's output durable (flush the metrics file) and set *records to the number of
 * step records it holds (stored in the checkpoint; on resume the output is cut back to
 * it). A non-OK return stops training with that status. */
typedef lf_status (*lf_train_ckpt_hook)(void *ctx, int64_t *records);

typedef struct lf_trainer {
  const lf_config *cfg;    /* borrowed */
  lf_model *model;         /* borrowed */
  const lf_theory *theory; /* borrowed */
  int Bmax, C, V;
  double *eps, *phi, *logq, *logq2, *S, *dphi, *dlogq, *logw; /* owned (Bmax...) */
  void *backup;     /* owned: params, m, v copy for a skipped step */
  double *ess_ring; /* owned (ess_window) */
  int ess_n, ess_pos;
  double ess_sum;
  MPI_Comm comm; /* borrowed: training communicator (MPI_COMM_SELF after init) */
  int rank, P;   /* rank in comm, size of comm */
  /* run state carried by checkpoints; lf_train_run keeps it current at step boundaries */
  long next_step;  /* first step not taken yet */
  long skipped;    /* steps skipped for NaN/Inf so far, earlier runs included */
  int bad_in_row;  /* skipped steps in a row just before next_step */
  int dead_in_row; /* steps in a row with gradient norm exactly 0 just before next_step */
  double seconds;  /* training wall seconds so far, earlier runs included (no evals) */
  int64_t records; /* step records of the callback's output at the last checkpoint */
  int64_t evals;   /* evaluations so far, earlier runs included */
  long last_eval;  /* training step of the last evaluation; -1: none yet */
  lf_train_eval_callback eval_cb; /* may be NULL */
  void *eval_ctx;                 /* borrowed */
  /* checkpointing (lf_trainer_set_checkpoint) */
  char ckpt_path[LF_PATH_MAX];  /* "" = no checkpoints */
  lf_train_ckpt_hook ckpt_hook; /* may be NULL */
  void *ckpt_ctx;               /* borrowed */
} lf_trainer;

lf_status lf_trainer_init(lf_trainer *tr, const lf_config *cfg, lf_model *m, const lf_theory *t);
void lf_trainer_free(lf_trainer *tr);
/* Trains data-parallel over comm (borrowed; must outlive tr). Local; the checks depend
 * only on cfg and the size of comm, so every rank returns the same code:
 * LF_ERR_CONFIG if train.batch < the rank count, LF_ERR_INVALID if the arena is too
 * large for one MPI count, LF_ERR_MPI if comm cannot be queried. */
lf_status lf_trainer_set_comm(lf_trainer *tr, MPI_Comm comm);
/* Collective: LF_ERR_MPI ("parameters diverged across ranks at step ...") unless
 * lf_model_hash is the same on every rank of the training communicator. */
lf_status lf_trainer_check_sync(lf_trainer *tr, long step);
/* The slice [*lo, *hi) of a global batch B that rank r of P handles. */
void lf_train_split(int B, int P, int r, int *lo, int *hi);
/* Learning rate and batch at step t from the schedules. */
double lf_train_lr(const lf_config *cfg, long t);
int lf_train_batch(const lf_config *cfg, long t);
/* Samples flowed through training by steps [0, t): the sum of lf_train_batch (skipped
 * steps count: their samples were drawn and flowed). */
int64_t lf_train_samples(const lf_config *cfg, long t);
/* The gradient of step t at global batch B with estimator est, into the model's grad
 * arena (zeroed first; summed over comm); fills info (loss, ess, grad_norm; lr, seconds
 * 0). A non-finite loss leaves the grads zero and grad_norm NaN. No parameter changes.
 * LF_ERR_CONFIG if B < the rank count. Collective. */
lf_status lf_trainer_gradient(lf_trainer *tr, long t, int B, lf_estimator est,
                              lf_train_step_info *info);
/* One training step t at batch B (B <= tr->Bmax): gradient, clipping, optimizer step,
 * with the NaN/Inf skip described above; fills info (seconds left 0). */
lf_status lf_trainer_step(lf_trainer *tr, long t, int B, double lr, lf_train_step_info *info);
/* The whole loop from step `first` (0 for a fresh run, tr->next_step after
 * lf_trainer_load): schedules, evaluations, stopping, progress lines (lf_log_progress
 * every cfg->train.log_every steps, with the batch ESS and the last fresh-sample ESS),
 * callback per step, checkpoints and signals as described above. res->steps is the
 * absolute step reached, res->skipped counts earlier runs too, res->wall_seconds is
 * this call's (evaluations included); train.stop.wall_time applies to this call. The
 * final evaluation also runs after a wall-time or target stop, and when first >=
 * train.stop.steps unless the step `first` was evaluated already. On a signal:
 * LF_INTERRUPTED after the checkpoint (res filled, stop_reason "signal", no final
 * evaluation); a failed checkpoint stops training with its status. */
lf_status lf_train_run(lf_trainer *tr, long first, lf_train_callback cb, void *ctx,
                       lf_train_result *res);

/* Makes lf_train_run call cb(ctx, ev) after every evaluation (cb NULL: none). Local. */
void lf_trainer_set_eval_callback(lf_trainer *tr, lf_train_eval_callback cb, void *ctx);

/* Makes lf_train_run write checkpoints to path (copied; "what" = "train") on rank 0 of
 * the training communicator, calling hook(ctx, &records) there first (hook may be NULL:
 * records = next_step). path NULL or "" switches checkpoints off. LF_ERR_INVALID if
 * path is too long. Local. */
lf_status lf_trainer_set_checkpoint(lf_trainer *tr, const char *path, lf_train_ckpt_hook hook,
                                    void *ctx);
/* Stores the trainer state (see above) into c, created by lf_ckpt_create. Local.
 * Errors: those of lf_ckpt_put. */
lf_status lf_trainer_save(const lf_trainer *tr, lf_ckpt *c);
/* A whole checkpoint file at path: lf_ckpt_create(path, "train", tr->cfg, tr->P),
 * lf_trainer_save, lf_ckpt_commit (atomic, previous kept as .prev). Local. */
lf_status lf_trainer_checkpoint(const lf_trainer *tr, const char *path);
/* Restores the state stored by lf_trainer_save into tr (built with lf_trainer_init and,
 * for data-parallel runs, lf_trainer_set_comm). Refuses (nothing restored): a model of
 * another architecture, precision or parameter count (LF_ERR_CONFIG naming both), a
 * checkpoint written by another number of training ranks (LF_ERR_CONFIG: the gradient
 * sums, so the bits, depend on P), and a parameter arena whose hash differs from the
 * stored one (LF_ERR_FORMAT, corrupted file). A changed train.stop.ess_window keeps the
 * newest min(ess_n, window) ESS values. Local. */
lf_status lf_trainer_load(lf_trainer *tr, lf_ckpt *c);

/* Evaluation of the model as it is after tr->next_step training steps, on n fresh
 * samples: LF_STREAM_EVAL, RNG step 2 next_step for the noise and 2 next_step + 1 for
 * the IMH uniforms, index = sample; in batches of at most tr->Bmax. Fills res (step =
 * next_step, n_train = lf_train_samples(cfg, next_step), train_seconds = tr->seconds).
 * The trainer's sample buffers are overwritten, nothing else: the training trajectory
 * does not change. Collective: rank r computes log w of the samples [r*n/P, (r+1)*n/P),
 * an MPI_Allgatherv gives every rank all n (in sample order), and each rank runs the
 * same serial IMH chain and sums on them, so the result is the same on every rank and
 * equals the serial one up to the rounding of the flow itself. n <= 0: res->n = 0 and no
 * work. LF_ERR_INVALID if n > INT_MAX with several ranks or next_step > 2^31 - 2. */
lf_status lf_train_eval(lf_trainer *tr, long n, lf_eval_result *res);
/* The same, also copying the n log w (sample order, every rank) into logw_out when not
 * NULL (the jackknife of lf_eval_model). */
lf_status lf_train_eval_logw(lf_trainer *tr, long n, lf_eval_result *res, double *logw_out);

#endif
