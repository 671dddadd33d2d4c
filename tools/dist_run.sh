#!/usr/bin/env bash
# torchrun of one of our tools: the shared half of dist_train.sh and
# dist_test.sh.
#
#   tools/dist_run.sh NPROC SCRIPT [SCRIPT arguments, --launcher pytorch]
#
# NPROC processes per machine (one per GPU; on a CPU-only machine any
# number, run with gloo, see docs/distributed.md). Environment, as in
# mmdet's scripts: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1),
# PORT (29500); TORCHRUN (torchrun) to use another launcher binary.
# The repository root is put on PYTHONPATH.
set -eo pipefail
NPROC=$1
SCRIPT=$2
TOOLS=$(cd "$(dirname "$0")" && pwd)

export PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}"
exec ${TORCHRUN:-torchrun} \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$SCRIPT" "${@:3}"
