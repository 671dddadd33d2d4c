#!/usr/bin/env bash
# Distributed training on one or more machines with torchrun.
#
#   tools/dist_train.sh CONFIG NPROC [tools/train.py options]
#
# NPROC processes per machine (one per GPU; on a CPU-only machine any
# number, trained with gloo, see docs/distributed.md). Environment, as in
# mmdet's script: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1),
# PORT (29500); TORCHRUN (torchrun) to use another launcher binary.
# The repository root is put on PYTHONPATH.
set -eo pipefail
if [ $# -lt 2 ]; then
  echo "usage: [NNODES=1 NODE_RANK=0 MASTER_ADDR=127.0.0.1 PORT=29500]" \
       "$0 CONFIG NPROC [train.py options]" >&2
  exit 2
fi
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
TOOLS=$(cd "$(dirname "$0")" && pwd)

export PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}"
exec ${TORCHRUN:-torchrun} \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" \
    --nproc_per_node="$NPROC" \
    "$TOOLS/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
