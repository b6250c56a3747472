#!/usr/bin/env bash
# Creates bench/.venv with the Python peers of the benchmark:
#   tensorflow-cpu 2.15.1 — the same TensorFlow release whose libtensorflow the
#                           native tfjs backend of this project is built from,
#   torch 2.13.0 (CPU build) and numpy (whose matmul is also the sgemm probe
#                           of the report's limit line).
# Safe to run again: an existing venv is reused and satisfied packages are kept.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"

tf_version="2.15.1"
torch_version="2.13.0"

if [ -x "$venv/bin/python" ]; then
  echo "setup: reusing the virtual environment $venv"
else
  echo "setup: creating the virtual environment $venv with $("$python" --version 2>&1)"
  "$python" -m venv "$venv"
fi

pip=("$venv/bin/python" -m pip --disable-pip-version-check)

echo "setup: installing tensorflow-cpu==$tf_version and numpy"
"${pip[@]}" install "tensorflow-cpu==$tf_version" numpy

# PyTorch's CPU build: the +cpu local version keeps pip from choosing a CUDA
# wheel (which would pull gigabytes of CUDA libraries that this benchmark never uses).
echo "setup: installing torch==$torch_version (CPU build)"
if ! "${pip[@]}" install "torch==$torch_version+cpu" 2>/dev/null; then
  "${pip[@]}" install "torch==$torch_version"
fi

echo "setup: checking the installed versions"
"$venv/bin/python" - <<'PY'
import numpy, tensorflow as tf, torch
print(f"setup: numpy {numpy.__version__}, tensorflow {tf.__version__}, torch {torch.__version__}")
if torch.version.cuda is not None:
    print(f"setup: warning: torch was built for CUDA {torch.version.cuda}; the benchmark runs on the CPU only")
PY
echo "setup: done; run the benchmark with: npm run bench"
