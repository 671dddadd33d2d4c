#!/usr/bin/env bash
# Training on a Slurm cluster: srun starts one task per GPU.
#
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
#
# Environment (GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS, GRES, PYTHON):
# see tools/slurm_run.sh; GRES= (empty) on a CPU-only partition.
set -eo pipefail
if [ $# -lt 4 ]; then
  echo "usage: [GPUS=8 GPUS_PER_NODE=8 CPUS_PER_TASK=5 SRUN_ARGS=...]" \
       "$0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]" >&2
  exit 2
fi
TOOLS=$(cd "$(dirname "$0")" && pwd)
exec bash "$TOOLS/slurm_run.sh" "$1" "$2" "$TOOLS/train.py" "$3" \
    --work-dir="$4" --launcher=slurm "${@:5}"
