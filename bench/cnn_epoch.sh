#!/usr/bin/env bash
# Times one epoch of the default CNN (`layerkit train --net cnn`, preset fashion) against the same net in PyTorch,
# on this machine, in one run (docs/benchmarks.md, "Training: the Fashion-MNIST CNN").
#
#   1. PyTorch at its fastest: bench/pytorch_bench.py cnn on 1 and on 2 threads, with OpenBLAS autodetecting its core
#      (env -u OPENBLAS_CORETYPE) and, on AVX-512 CPUs, with OPENBLAS_CORETYPE=SkylakeX (the launcher's choice for
#      layerkit; Debian 12's OpenBLAS does not know newer Xeons), each for a short probe (--max-steps); the fastest
#      setting then trains EPOCHS full epochs.
#   2. layerkit: `layerkit train --net cnn --epochs EPOCHS` on the cpu backend, as the launcher runs it (Vector API,
#      OPENBLAS_CORETYPE=SkylakeX on AVX-512 CPUs unless set), its per-epoch seconds from the epoch lines (training
#      steps only; the accuracy evaluation after each epoch is excluded, as in PyTorch's).
#   3. PyTorch's fastest setting again, so that a change of load during the run shows (the machine may be shared).
#   Both get GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 (glibc keeps freed memory).
#   The table: seconds per epoch, the fastest epoch and the median of epochs 2.., layerkit's spread (every epoch after
#   the first against its fastest), and the ratio layerkit / PyTorch (> 1: layerkit slower).
#
# Usage: bench/cnn_epoch.sh [--epochs N] [--out DIR] [--skip-probe]
# Needs: JDK 17, Maven (offline is fine once the dependencies are in ~/.m2), /usr/bin/python3 with python3-torch,
# the Fashion-MNIST files in /usr/share/datasets/fashion-mnist. Builds cli/target/layerkit.jar with a reactor build
# (nothing is installed into ~/.m2).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
epochs=4
out=""
probe=1
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --skip-probe) probe=0; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "cnn_epoch.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
out=${out:-$(mktemp -d "${TMPDIR:-/tmp}/layerkit-cnn-epoch.XXXXXX")}
mkdir -p "$out"
py=/usr/bin/python3
cd "$root"

export GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736
avx512=0
grep -q -m1 -w avx512f /proc/cpuinfo 2>/dev/null && avx512=1
{
  echo "date:     $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
  echo "java:     $(java -version 2>&1 | head -1)"
  echo "torch:    $($py -c 'import torch; print(torch.__version__)')"
  echo "GLIBC_TUNABLES=$GLIBC_TUNABLES"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/machine.txt" >&2

echo "== building cli/target/layerkit.jar (mvn -o -q -pl cli -am package -DskipTests)" >&2
mvn -o -q -B -pl cli -am package -DskipTests >&2

# PyTorch's settings: threads x OpenBLAS core type
settings=("1 auto" "2 auto")
[ "$avx512" = 1 ] && settings+=("1 SkylakeX" "2 SkylakeX")
torch_run() { # threads coretype args...
  local t=$1 c=$2; shift 2
  if [ "$c" = auto ]; then
    env -u OPENBLAS_CORETYPE "$py" bench/pytorch_bench.py cnn --threads "$t" "$@"
  else
    OPENBLAS_CORETYPE=$c "$py" bench/pytorch_bench.py cnn --threads "$t" "$@"
  fi
}
best="1 auto"
if [ "$probe" = 1 ]; then
  best_s=""
  for s in "${settings[@]}"; do
    set -- $s
    secs=$(torch_run "$1" "$2" --max-steps 60 | tail -1 | cut -d, -f3)
    echo "probe: PyTorch $1 thread(s), OPENBLAS_CORETYPE=$2: $secs s per epoch (60 steps, scaled)" | tee -a "$out/probe.txt" >&2
    if [ -z "$best_s" ] || awk -v a="$secs" -v b="$best_s" 'BEGIN { exit !(a < b) }'; then
      best_s=$secs
      best="$s"
    fi
  done
fi
set -- $best
bt=$1
bc=$2
echo "== PyTorch ($bt thread(s), OPENBLAS_CORETYPE=$bc), $epochs epochs" >&2
torch_run "$bt" "$bc" --epochs "$epochs" | tee "$out/pytorch-a.csv" >&2

echo "== layerkit train --net cnn --epochs $epochs (cpu backend)" >&2
lk_env=()
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ "$avx512" = 1 ]; then
  lk_env=(OPENBLAS_CORETYPE=SkylakeX)
fi
env "${lk_env[@]}" java --add-modules jdk.incubator.vector -jar cli/target/layerkit.jar train --net cnn \
  --epochs "$epochs" --backend cpu --progress none 2>&1 | grep -v '^WARNING: Using incubator' | tee "$out/layerkit.txt" >&2

echo "== PyTorch again ($bt thread(s), OPENBLAS_CORETYPE=$bc), $epochs epochs" >&2
torch_run "$bt" "$bc" --epochs "$epochs" | tee "$out/pytorch-b.csv" >&2
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt" >&2

$py - "$out" "$bt" "$bc" "${lk_env[*]:-OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-}}" <<'PYEOF' | tee "$out/table.md"
import re, statistics, sys
out, bt, bc, lkenv = sys.argv[1:5]

def torch_epochs(name):
    rows = [l.split(",") for l in open(f"{out}/{name}") if l.startswith("pytorch,")]
    return [float(r[2]) for r in rows], [r[3] for r in rows]

lk, lk_acc = [], None
for line in open(f"{out}/layerkit.txt"):
    m = re.match(r"epoch \d+/\d+ .* (\d+\.\d) s \(", line)
    if m:
        lk.append(float(m.group(1)))
    m = re.search(r"test acc ([0-9.]+)", line)
    if m:
        lk_acc = m.group(1)
a, acc_a = torch_epochs("pytorch-a.csv")
b, acc_b = torch_epochs("pytorch-b.csv")

def later(xs):
    return statistics.median(xs[1:]) if len(xs) > 1 else xs[0]

print(f"| run | seconds per epoch | fastest | median of epochs 2.. | test accuracy |")
print(f"|---|---|---|---|---|")
print(f"| PyTorch ({bt} thread(s), OPENBLAS_CORETYPE={bc}), before | {', '.join(f'{x:.1f}' for x in a)} | {min(a):.1f} | {later(a):.1f} | {acc_a[-1]} |")
print(f"| layerkit cpu ({lkenv}) | {', '.join(f'{x:.1f}' for x in lk)} | {min(lk):.1f} | {later(lk):.1f} | {lk_acc} |")
print(f"| PyTorch, after | {', '.join(f'{x:.1f}' for x in b)} | {min(b):.1f} | {later(b):.1f} | {acc_b[-1]} |")
torch_best = min(min(a), min(b))
torch_med = statistics.median(a[1:] + b[1:]) if len(a) > 1 else statistics.median(a + b)
print()
print(f"layerkit / PyTorch: fastest epoch {min(lk) / torch_best:.2f}, median of epochs 2.. {later(lk) / torch_med:.2f} "
      f"(> 1: layerkit slower)")
spread = max(lk[1:]) / min(lk) if len(lk) > 1 else 1.0
print(f"layerkit epochs after the first: slowest {spread:.2f}x its fastest (target: within 1.20)")
PYEOF
echo "results in $out" >&2
