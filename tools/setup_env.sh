#!/usr/bin/env bash
# Create .venv with the pinned stack and yolox_mm (editable, with test
# extras). Re-running when everything is installed takes a few seconds.
#
# mmcv 2.1.0 has no wheel for torch 2.13, so it is built from source with its
# compiled ops (~5 min on an idle 2-core machine the first time; pip keeps the built
# wheel in its cache, so later set-ups take seconds). Its setup.py imports
# torch (hence --no-build-isolation) and pkg_resources (hence
# setuptools<70; pip then warns that torch asks for setuptools>=77, which
# only torch's C++-extension builder uses).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
STAMP="$VENV/.yolox_mm-setup"
say() { echo "[setup $(date +%H:%M:%S)] $*"; }
t0=$SECONDS
elapsed() { local s=$((SECONDS - ${1:-$t0})); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

want=$(cat tools/setup_env.sh setup.py requirements.txt | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
   "$PY" -c 'import mmcv.ops, mmdet, yolox_mm, onnxruntime, mmdeploy' 2>/dev/null; then
  say ".venv is up to date ($("$PY" -c 'import torch, mmcv, mmdet; print(f"torch {torch.__version__}, mmcv {mmcv.__version__}, mmdet {mmdet.__version__}")'))"
  exit 0
fi

if [ ! -x "$PY" ]; then
  say "creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
pip() { "$PY" -m pip --disable-pip-version-check "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2); }

say "torch 2.13.0 (CPU wheel), ninja, wheel"
pip install -q torch==2.13.0 ninja wheel
say "setuptools<70 for mmcv's build"
pip install -q 'setuptools<70' 2>&1 | grep -v 'torch .* requires setuptools' || true

if ! "$PY" -c 'import mmcv.ops' 2>/dev/null; then
  log="$VENV/mmcv-build.log"
  say "mmcv 2.1.0 with compiled ops: from pip's cache if built before, else"
  say "a source build (~5 min on an idle 2-core machine); progress below, full log in $log"
  set +e
  # -g0 drops the debug info that Python's sysconfig CFLAGS ask for (-g) and
  # -O1 lowers the optimisation of mmcv's CPU host code (its ops are NMS,
  # RoI pooling and friends; our models use only NMS). Both change compile
  # time only: docs/setup.md has the before/after build times, and the
  # parity and deployment tests check that no detection changes.
  build_start=$SECONDS
  CFLAGS="${MMCV_CFLAGS--g0 -O1}" MMCV_WITH_OPS=1 MAX_JOBS=$(nproc) "$PY" -m pip --disable-pip-version-check \
    install -v --no-build-isolation mmcv==2.1.0 >"$log" 2>&1 &
  pid=$!
  last=""
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30
    # ninja's lines are "  [N/77] c++ ...", indented by pip's -v output.
    step=$(grep -oE '^[[:space:]]*\[[0-9]+/[0-9]+\]' "$log" | tail -n1 | tr -d ' []')
    if [ -n "$step" ] && [ "$step" != "$last" ]; then
      say "mmcv build: compiled $step ($(elapsed "$build_start"))"
    elif [ -z "$step" ]; then
      say "mmcv build: preparing ($(elapsed "$build_start"))"
    fi
    last=$step
  done
  wait "$pid"; rc=$?
  set -e
  if [ $rc -ne 0 ] || ! "$PY" -c 'import mmcv.ops' 2>/dev/null; then
    tail -n 40 "$log"
    say "mmcv build FAILED (exit $rc); full log in $log"
    exit 1
  fi
  say "mmcv ready after $(elapsed "$build_start")"
fi

say "mmengine 0.10.7, mmdet 3.3.0, pycocotools, opencv 5.0 (refuses truncated JPEGs; 4.x decodes them partly), yolox_mm (editable)"
pip install -q mmengine==0.10.7 mmdet==3.3.0 pycocotools opencv-python==5.0.0.93 numpy
pip install -q --no-build-isolation -e '.[tests]'
say "references for the parity tests: Megvii's YOLOX (yolox-datamint 0.3.1, pure Python, without its heavy dependencies)"
pip install -q --no-deps yolox-datamint==0.3.1
pip install -q loguru tabulate
say "deployment: onnx, onnxruntime, and mmdeploy 1.3.1 without its pins (protobuf<=3.20.2 conflicts with onnx)"
pip install -q onnx==1.23.2 onnxruntime==1.31.1
pip install -q --no-deps mmdeploy==1.3.1 aenum==3.1.17
say "tools: tensorboard (tools/train.py --tensorboard), matplotlib (curves, pictures)"
pip install -q tensorboard==2.21.0 matplotlib
# torch asks for setuptools>=77 and the installs above pull the newest (84),
# which has no pkg_resources; mmengine 0.10.7 needs it to resolve
# package-scoped configs ('mmdet::...', 'yolox_mm::...'). 80.x has both.
say "setuptools 80.9 (torch wants >=77; mmengine's 'mmdet::' configs need pkg_resources)"
pip install -q 'setuptools==80.9.0'
"$PY" -W ignore -c 'import pkg_resources, mmcv.ops, mmdet.models, yolox_mm, onnxruntime, mmdeploy.apis' 
echo "$want" >"$STAMP"
say "done in $(elapsed): $("$PY" -c 'import torch, mmcv, mmdet, yolox_mm; print(f"torch {torch.__version__}, mmcv {mmcv.__version__}, mmdet {mmdet.__version__}, yolox_mm {yolox_mm.__version__}")')"
