#!/usr/bin/env bash
# Distributed evaluation of a checkpoint with torchrun.
#
#   tools/dist_test.sh CONFIG CHECKPOINT NPROC [tools/test.py options]
#
# Environment (NNODES, NODE_RANK, MASTER_ADDR, PORT, TORCHRUN): see
# tools/dist_run.sh.
set -eo pipefail
if [ $# -lt 3 ]; then
  echo "usage: [NNODES=1 NODE_RANK=0 MASTER_ADDR=127.0.0.1 PORT=29500]" \
       "$0 CONFIG CHECKPOINT NPROC [test.py options]" >&2
  exit 2
fi
TOOLS=$(cd "$(dirname "$0")" && pwd)
exec bash "$TOOLS/dist_run.sh" "$3" "$TOOLS/test.py" "$1" "$2" \
    --launcher pytorch "${@:4}"
