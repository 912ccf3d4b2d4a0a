#!/usr/bin/env bash
# The GPU check, on a CUDA machine, at short sizes: `make gpu-check` (the gpu-marked tests), then the
# training, unlearning, forgetting-quality and qualification benchmarks on CUDA (the last one with the
# GPU configuration, resnet18, for per-model training and unlearning times).
#
#   ./scripts/gpu-check.sh                 # writes to benchmarks/out/gpu/
#   OUT=/some/dir ./scripts/gpu-check.sh   # writes to $OUT
#   PYTHON=python3 ./scripts/gpu-check.sh  # an interpreter that already has the project's dependencies
#                                          # (no .venv, no install: pytest -m gpu instead of make gpu-check)
#
# Every step runs under its own time limit (seconds, overridable: GPU_CHECK_TESTS_S, ..._TRAIN_S,
# ..._UNLEARN_S, ..._FQ_S, ..._QUALIFY_S); a failing step does not stop the others. What comes out:
# summary.json (card, driver, torch, each step's exit code and wall time), one JSON per benchmark, one
# log per step, nvidia-smi.txt. Exit code: 0 when every step passed, 1 when one failed, 3 without CUDA.
set -uo pipefail

cd "$(dirname "$0")/.."
DEST="${OUT:-benchmarks/out/gpu}"
mkdir -p "$DEST"
PY="${PYTHON:-.venv/bin/python}"
GPU_TESTS=(make gpu-check)
[ -n "${PYTHON:-}" ] && GPU_TESTS=("$PY" -m pytest -q -m gpu -p no:cacheprovider)
export PYTHONUNBUFFERED=1

if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu-check: no nvidia-smi on this machine" >&2
fi
nvidia-smi >"$DEST/nvidia-smi.txt" 2>&1 || true

[ -n "${PYTHON:-}" ] || [ -x "$PY" ] || make .venv/.installed # bootstraps .venv as `make test` does
if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 3)'; then
    echo '{"cuda": false, "steps": []}' >"$DEST/summary.json"
    echo "gpu-check: torch sees no CUDA device; the GPU figures are still missing" >&2
    exit 3
fi

STEPS_FILE="$DEST/.steps"
: >"$STEPS_FILE"
failed=0

# step NAME LIMIT_S JSON_OUT|- COMMAND...: run with a time limit; stdout to JSON_OUT (when given), log beside.
step() {
    local name=$1 limit=$2 json=$3
    shift 3
    local start end rc
    echo "== $name (limit ${limit}s): $*" >&2
    start=$EPOCHREALTIME
    if [ "$json" = "-" ]; then
        timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$DEST/$name.log"
    else
        timeout --kill-after=10 "$limit" "$@" >"$DEST/$json" 2> >(tee "$DEST/$name.log" >&2)
    fi
    rc=${PIPESTATUS[0]}
    end=$EPOCHREALTIME
    printf '%s %s %s\n' "$name" "$rc" "$(awk "BEGIN { print $end - $start }")" >>"$STEPS_FILE"
    [ "$rc" -eq 0 ] || failed=1
}

step gpu_tests "${GPU_CHECK_TESTS_S:-180}" - "${GPU_TESTS[@]}"
step training_throughput "${GPU_CHECK_TRAIN_S:-90}" training_throughput.json \
    "$PY" benchmarks/training_throughput.py --device cuda --epochs 4 --json
step unlearning "${GPU_CHECK_UNLEARN_S:-120}" unlearning.json \
    "$PY" benchmarks/unlearning_leaderboard.py --device cuda --methods finetune,neggrad_plus,scrub \
    --cache "$DEST/.unlearning-cache" --json
step forgetting_quality "${GPU_CHECK_FQ_S:-45}" forgetting_quality.json \
    "$PY" benchmarks/forgetting_quality_speed.py --models 512 --examples 500 --json
step qualification_resnet18 "${GPU_CHECK_QUALIFY_S:-150}" qualification_resnet18.json \
    "$PY" benchmarks/qualification.py --models 6 --arch resnet18 --epochs 4 --device cuda \
    --methods finetune --home "$DEST/.qualification-home" --json

"$PY" - "$DEST" "$STEPS_FILE" <<'EOF'
import json, platform, sys, torch
dest, steps_file = sys.argv[1], sys.argv[2]
steps = []
for line in open(steps_file, encoding="utf-8"):
    name, rc, wall = line.split()
    steps.append({"step": name, "exit_code": int(rc), "wall_s": round(float(wall), 1)})
summary = {
    "cuda": True,
    "card": torch.cuda.get_device_name(0),
    "cuda_version": torch.version.cuda,
    "torch": torch.__version__,
    "platform": platform.platform(),
    "steps": steps,
}
with open(f"{dest}/summary.json", "w", encoding="utf-8") as f:
    json.dump(summary, f, indent=2)
print(json.dumps(summary, indent=2))
EOF
rm -f "$STEPS_FILE"
exit "$failed"
