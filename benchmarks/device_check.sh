#!/usr/bin/env bash
# GPU check of `dpomath train`, prepared to finish within 8 minutes on one GPU without
# downloading anything (see benchmarks/device_check.py for what it measures and its criteria):
#   1. the device's measured bf16 matmul rate;
#   2. SmolLM2-135M-Instruct fine-tuned for a few updates on CUDA (bf16), compared with the
#      same run on the CPU (float32);
#   3. a Llama-3.1-8B-shaped model with random weights: one DPO update with LoRA and one with
#      full fine-tuning (where memory allows): tokens/s, peak memory, fraction of the matmul rate.
# Usage: benchmarks/device_check.sh [--dry-run] [--skip smollm2|llama] [--out DIR]
#   --dry-run: CPU only, tiny stand-in model (checks the script where no GPU is lent)
# Results: $OUT/device_check.json (OUT defaults to a temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TQDM_DISABLE=1
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
if ! "$PY" -c "import torch, transformers, peft, safetensors" 2>/dev/null; then
  echo "device_check: $PY lacks torch, transformers, peft or safetensors (pip install -e '.[all]' first)" >&2
  exit 3
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec timeout 470 "$PY" benchmarks/device_check.py --budget-s 400 "$@"
