#!/usr/bin/env bash
# srun of one of our tools: the shared half of slurm_train.sh and
# slurm_test.sh. srun starts one task per GPU.
#
#   tools/slurm_run.sh PARTITION JOB_NAME SCRIPT [SCRIPT arguments]
#
# Environment, as in mmdet's scripts: GPUS (8, total tasks), GPUS_PER_NODE
# (8, tasks per node), CPUS_PER_TASK (5), SRUN_ARGS (extra srun options);
# GRES (gpu:$GPUS_PER_NODE): set it empty (GRES=) on a CPU-only partition,
# where the tasks run with gloo (docs/distributed.md); PYTHON (python).
set -xeo pipefail
PARTITION=$1
JOB_NAME=$2
SCRIPT=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
GRES=${GRES-gpu:$GPUS_PER_NODE}
SRUN_ARGS=${SRUN_ARGS:-""}
TOOLS=$(cd "$(dirname "$0")" && pwd)

export PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}"
# SRUN_ARGS is split into words on purpose (several srun options)
# shellcheck disable=SC2086
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    ${GRES:+--gres="$GRES"} \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "${PYTHON:-python}" -u "$SCRIPT" "${@:4}"
