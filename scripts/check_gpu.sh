#!/usr/bin/env bash
# End-to-end check of GPU capture on a machine with an NVIDIA GPU: records a short busy job
# with `gitruns record` and checks that per-GPU system metrics and the GPU inventory landed
# in the run. Prints PASS or FAIL; exits non-zero on failure.
#
# Usage, from a checkout of the repository:
#   scripts/check_gpu.sh
#       makes a venv (with --system-site-packages, so a system-wide torch is usable) in a
#       temporary folder and runs `pip install .` into it (needs the package index).
#   GITRUNS_CHECK_PYTHON=/path/to/python scripts/check_gpu.sh
#       uses an interpreter where gitruns is already installed (offline machines).
# With torch and CUDA importable the job multiplies matrices on GPU 0 for ~6 s (and the
# check also demands non-zero utilisation, GPU 0 counted as used, GPU-hours and a cost
# from the configured rate); otherwise it sleeps for ~6 s. The run's resource totals
# (docs/resources.md) are checked either way.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/gitruns-check-gpu.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader
else
    echo "note: nvidia-smi is not on PATH"
fi

if [[ -n ${GITRUNS_CHECK_PYTHON:-} ]]; then
    py=$GITRUNS_CHECK_PYTHON
else
    python3 -m venv --system-site-packages "$work/venv" || fail "could not create a venv"
    "$work/venv/bin/python" -m pip install -q "$root" || fail "pip install $root failed"
    py=$work/venv/bin/python
fi
"$py" -c "import gitruns" || fail "$py cannot import gitruns"

repo=$work/repo
mkdir "$repo" && cd "$repo" || fail "cannot make $repo"
git init -q . && git config user.name "GPU Check" && git config user.email gpu@example.com
echo "print('hi')" > train.py && git add train.py && git commit -q -m init || fail "git setup"
"$py" -m gitruns config resources.gpuHourCost 2.5 || fail "gitruns config failed"

busy='
import time
end = time.time() + 6
try:
    import torch
    if not torch.cuda.is_available():
        raise RuntimeError("torch sees no CUDA device")
    x = torch.randn(8192, 8192, device="cuda")
    while time.time() < end:
        x = torch.tanh(x @ x)
    torch.cuda.synchronize()
    print("gpu work done")
except Exception as exc:
    print("no GPU work (" + repr(exc) + "); sleeping")
    time.sleep(max(end - time.time(), 0))
'

"$py" -m gitruns record --system-interval 1 -- "$py" -c "$busy" \
    >"$work/stdout.txt" 2>"$work/stderr.txt"
status=$?
cat "$work/stdout.txt"
cat "$work/stderr.txt" >&2
[[ $status -eq 0 ]] || fail "gitruns record exited $status"
run=$(sed -n 's/^gitruns: recording run \([^ ]*\) .*/\1/p' "$work/stderr.txt" | head -n 1)
[[ -n $run ]] || fail "no 'gitruns: recording run <id>' line on stderr"
echo "run: $run"

"$py" -m gitruns show "$run" --format json >"$work/show.json" || fail "gitruns show failed"
git cat-file -p "refs/runs/$run:env/platform.yaml" >"$work/platform.yaml" \
    || fail "the run has no env/platform.yaml"
gpu_work=no
grep -q "gpu work done" "$work/stdout.txt" && gpu_work=yes

"$py" - "$work/show.json" "$work/platform.yaml" "$gpu_work" <<'PY' || fail "see above"
import json
import sys

import yaml

show = json.load(open(sys.argv[1]))
platform = yaml.safe_load(open(sys.argv[2]))
gpu_work = sys.argv[3] == "yes"
problems = []
metrics = show["metrics"]
for key in ("utilization_percent", "memory_used_mb", "temperature_c", "power_w"):
    name = f"system/gpu/0/{key}"
    if name not in metrics:
        (print if key == "power_w" else problems.append)(f"metric {name} missing")
    else:
        print(f"{name}: {metrics[name]}")
for name in ("system/cpu_percent", "system/rss_mb", "system/memory_used_mb"):
    if name not in metrics:
        problems.append(f"metric {name} missing")
gpus = platform.get("gpus") or []
print("platform.yaml gpus:", json.dumps(gpus, indent=2))
if not gpus or not gpus[0].get("name"):
    problems.append("env/platform.yaml lists no GPU")
for key in ("uuid", "memory_total_mb", "driver_version", "cuda_version"):
    if gpus and key not in gpus[0]:
        problems.append(f"env/platform.yaml GPU 0 has no {key}")
resources = show.get("resources") or {}
print("resources:", json.dumps(resources, indent=2))
for key in ("wall_s", "cpu_s", "cpu_hours", "peak_rss_mb", "gpus", "gpu_hours"):
    if key not in resources:
        problems.append(f"resources has no {key}")
gpu0 = (resources.get("gpus") or [{}])[0]
if gpus and gpu0.get("name") != gpus[0].get("name"):
    problems.append("resources.gpus[0] is not GPU 0 of env/platform.yaml")
if "energy_wh" not in gpu0:
    print("note: no energy_wh (NVML has no energy counter on this GPU)")
if gpu_work:
    if not gpu0.get("used"):
        problems.append(f"the job used GPU 0 but resources counts it unused ({resources.get('gpu_attribution')})")
    if not resources.get("gpu_hours", 0) > 0 or not resources.get("cost", {}).get("total", 0) > 0:
        problems.append("the job used a GPU but gpu_hours or the cost estimate is 0")
    if gpu0.get("peak_memory_mb", 0) < 256 or not gpu0.get("peak_utilization_percent", 0) > 0:
        problems.append("resources.gpus[0] peak memory < 256 MiB or peak utilisation 0")
    print("GPU attribution:", resources.get("gpu_attribution"))
    util = metrics.get("system/gpu/0/utilization_percent", {})
    if not util.get("max", 0) > 0:
        problems.append("the job used the GPU but utilization_percent never rose above 0")
    if metrics.get("system/gpu/0/memory_used_mb", {}).get("max", 0) < 256:
        problems.append("the job allocated 256 MiB on the GPU but memory_used_mb stayed lower")
for problem in problems:
    print("problem:", problem, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

echo "PASS (GPU work: $gpu_work)"
