/* latflow/fault.h: a test-only fault hook (docs/ARCHITECTURE.md "Test hooks").
 *
 * lf_fault_point(name) marks a point of the on-disk protocol where a crash must be
 * recoverable (between the steps of an atomic commit, of the final rename and the removal
 * of the checkpoints, of the merge of part files). When the environment variable
 * LATFLOW_FAULT="<name>[:<count>]" names it, the count-th time (default 1) this process
 * reaches the point it raises SIGKILL: the process dies there as on a power cut or an
 * OOM kill, without any handler or cleanup, so tests can check that --resume recovers
 * from every such point. Unset (production), a point costs one getenv at the first call
 * and a compare afterwards; nothing else changes.
 *
 * The points (each named where it is called):
 *   after_checkpoint_tmp   a checkpoint's .tmp is complete and synced, not yet renamed
 *   after_checkpoint_prev  the old checkpoint renamed to .prev, the new .tmp not yet renamed
 *   after_checkpoint       a checkpoint is committed (the run goes on)
 *   before_final_rename    train: train.h5 is final, model.h5 not yet written
 *   after_final_rename     the final output is in place, its checkpoints not yet removed
 *   after_parts            hmc on P ranks: every part file is final, the merge not begun
 *   merge_tmp              hmc merge: <out>.tmp written, not yet renamed to hmc.h5
 *   after_merge            hmc merge: hmc.h5 in place, no part file removed yet
 *   after_part_removed     hmc merge: one part file removed (count: which one, 1-based)
 *
 * Local; not thread-safe (called from the main thread only). */
#ifndef LATFLOW_FAULT_H
#define LATFLOW_FAULT_H

/* Raises SIGKILL if LATFLOW_FAULT names this point and its count is reached (see above). */
void lf_fault_point(const char *name);

#endif
