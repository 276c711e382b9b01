#!/usr/bin/env bash
# Create (or update) the project's virtual environment from requirements/.
#
# Idempotent: when every requirement file is unchanged since the last
# successful run, it prints one line and exits. The mmcv 2.1.0 wheel (built
# from its sdist with ops, C++20 patch, see ../shared/STACK.md) is cached
# outside the clone, keyed on the Python and torch versions, so a fresh clone
# on the same machine reuses it instead of compiling for ~8 minutes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CMID_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3.11}"
CACHE="${CMID_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cmid-mm}"
STAMP="$VENV/.cmid-env-stamp"

cd "$ROOT"
want=$(cat requirements/*.txt setup.py tools/setup_env.sh | sha256sum | cut -d' ' -f1)
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" && -x "$VENV/bin/python" ]]; then
  echo "[env] $VENV is up to date"
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "[env] creating $VENV with $PY"
  "$PY" -m venv "$VENV"
fi
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }

echo "[env] build tools"
pip install -q -r requirements/build.txt
echo "[env] torch / torchvision and runtime requirements"
pip install -q -r requirements/runtime.txt -r requirements/tests.txt

torch_ver=$("$VENV/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])')
py_ver=$("$VENV/bin/python" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')
mmcv_ver=$(sed -n 's/^mmcv==\(.*\)$/\1/p' requirements/mminstall.txt)
wheel_dir="$CACHE/mmcv-$mmcv_ver-$py_ver-torch$torch_ver"

if ! "$VENV/bin/python" -c 'import mmcv, mmcv.ops' >/dev/null 2>&1; then
  if ! ls "$wheel_dir"/mmcv-*.whl >/dev/null 2>&1; then
    echo "[env] building mmcv $mmcv_ver with ops against torch $torch_ver (about 8 minutes on 2 cores)"
    src=$(mktemp -d)
    pip download -q --no-deps --no-binary :all: --no-build-isolation "mmcv==$mmcv_ver" -d "$src"
    tar xzf "$src/mmcv-$mmcv_ver.tar.gz" -C "$src"
    # torch >= 2.10 headers require C++20; mmcv hard-codes c++14/c++17.
    sed -i 's/-std=c++14/-std=c++20/g; s/-std=c++17/-std=c++20/g' "$src/mmcv-$mmcv_ver/setup.py"
    mkdir -p "$wheel_dir.tmp"
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" \
      pip wheel --no-build-isolation --no-deps --no-cache-dir -w "$wheel_dir.tmp" "$src/mmcv-$mmcv_ver"
    rm -rf "$wheel_dir" && mv "$wheel_dir.tmp" "$wheel_dir"   # publish atomically
    rm -rf "$src"
  fi
  echo "[env] installing cached mmcv wheel from $wheel_dir"
  pip install -q --no-deps --force-reinstall "$wheel_dir"/mmcv-*.whl
  # mmcv's own runtime deps (addict, yapf, ...) without letting pip rebuild mmcv
  pip install -q addict packaging pyyaml yapf opencv-python
fi

echo "[env] OpenMMLab packages"
grep -v '^mmcv==' requirements/mminstall.txt | pip install -q -r /dev/stdin 'mmcv==2.1.0' \
  --no-build-isolation
pip install -q --no-deps -r requirements/optional.txt
pip install -q --no-deps --no-build-isolation -e .
# mmengine imports pkg_resources at run time, which setuptools >= 81 removed;
# torch's own `setuptools>=77` requirement lets pip move it past that.
pip install -q -r requirements/build.txt

"$VENV/bin/python" -c 'import pkg_resources, mmcv.ops, mmpretrain, mmseg, mmdet, mmrotate, cmid_mm; print("[env] ok: torch", __import__("torch").__version__, "mmcv", mmcv.__version__)'
echo "$want" > "$STAMP"
