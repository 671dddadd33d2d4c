#!/usr/bin/env bash
# Distributed training on one or more machines with torchrun.
#
#   tools/dist_train.sh CONFIG NPROC [tools/train.py options]
#
# Environment (NNODES, NODE_RANK, MASTER_ADDR, PORT, TORCHRUN): see
# tools/dist_run.sh.
set -eo pipefail
if [ $# -lt 2 ]; then
  echo "usage: [NNODES=1 NODE_RANK=0 MASTER_ADDR=127.0.0.1 PORT=29500]" \
       "$0 CONFIG NPROC [train.py options]" >&2
  exit 2
fi
TOOLS=$(cd "$(dirname "$0")" && pwd)
exec bash "$TOOLS/dist_run.sh" "$2" "$TOOLS/train.py" "$1" \
    --launcher pytorch "${@:3}"
