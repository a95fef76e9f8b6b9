/* src/train/train_impl.h: what the trainer's files share, private to src/train:
 *   train.c       the trainer's lifecycle and communicator, schedules, the RT and RE
 *                 gradient estimators, the optimizer step, the evaluation
 *   train_run.c   the training loop (lf_train_run): stops, checkpoints, evaluations, progress
 *   train_ckpt.c  the trainer's checkpoint: save, load, the architecture check */
#ifndef LATFLOW_TRAIN_IMPL_H
#define LATFLOW_TRAIN_IMPL_H

#include "latflow/train.h"

/* In-place all-reduce over the training communicator; the identity on one rank (no MPI
 * call, so the serial trainer runs without MPI_Init). LF_ERR_MPI with `what`. */
lf_status lf_train_allreduce(lf_trainer *tr, void *buf, int n, MPI_Datatype type, MPI_Op op,
                             const char *what);

/* Agrees a possibly rank-local status before a collective (lf_comm_agree over the training
 * communicator; rc itself on one rank, without an MPI call). */
lf_status lf_train_agree(lf_trainer *tr, lf_status rc);

#endif
