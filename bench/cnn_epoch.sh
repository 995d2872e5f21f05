#!/usr/bin/env bash
# Times epochs of the default CNN (`layerkit train --net cnn`, preset fashion) against the same net in PyTorch, on
# this machine, in one run (docs/benchmarks.md, "Training: the Fashion-MNIST CNN").
#
#   1. PyTorch at its fastest: bench/pytorch_bench.py cnn on 1 and on 2 threads, with OpenBLAS autodetecting its core
#      (env -u OPENBLAS_CORETYPE) and, on AVX-512 CPUs, with OPENBLAS_CORETYPE=SkylakeX (the launcher's choice for
#      layerkit; Debian 12's OpenBLAS does not know newer Xeons), each for a short probe (--max-steps); the fastest
#      setting is the one compared.
#   2. ROUNDS rounds, each a PyTorch run and a layerkit run back to back (alternating which goes first): the first
#      round trains EPOCHS epochs each, the others 2. layerkit is `layerkit train --net cnn` on the cpu backend as the
#      launcher runs it (Vector API, OPENBLAS_NUM_THREADS=1 and OPENBLAS_CORETYPE=SkylakeX on AVX-512 CPUs unless
#      set), its per-epoch seconds
#      from the epoch lines (training steps only; the accuracy evaluation after each epoch is excluded, as in
#      PyTorch's). On a shared machine the load changes from minute to minute: pairing runs that ran minutes apart and
#      taking the median over rounds keeps a change of load from deciding the ratio.
#   Both get GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 (glibc keeps freed memory).
#   The table: seconds per epoch of every run, each round's ratio layerkit / PyTorch (layerkit's epochs after its
#   first, JIT warm-up, against PyTorch's), their median, and layerkit's spread within a run (every epoch after the
#   first against the fastest; target within 1.20).
#
# Usage: bench/cnn_epoch.sh [--epochs N] [--rounds R] [--out DIR] [--skip-probe]
# Needs: JDK 17, Maven (offline is fine once the dependencies are in ~/.m2), /usr/bin/python3 with python3-torch,
# the Fashion-MNIST files in /usr/share/datasets/fashion-mnist. Builds cli/target/layerkit.jar with a reactor build
# (nothing is installed into ~/.m2).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
epochs=4
rounds=3
out=""
probe=1
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --skip-probe) probe=0; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
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
# layerkit's environment as the launcher sets it: OpenBLAS single-threaded (the backend splits the work over the cores
# itself) and, on AVX-512 CPUs, OPENBLAS_CORETYPE=SkylakeX
lk_env=(OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}")
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ "$avx512" = 1 ]; then
  lk_env+=(OPENBLAS_CORETYPE=SkylakeX)
fi
lk_run() { # epochs file
  env "${lk_env[@]}" java --add-modules jdk.incubator.vector -jar cli/target/layerkit.jar train --net cnn \
    --epochs "$1" --backend cpu --progress none 2>&1 | grep -v '^WARNING: Using incubator' > "$2"
}
for r in $(seq 1 "$rounds"); do
  e=2
  [ "$r" = 1 ] && e=$epochs
  if [ $((r % 2)) = 1 ]; then
    echo "== round $r: PyTorch ($bt thread(s), OPENBLAS_CORETYPE=$bc), then layerkit, $e epochs each" >&2
    torch_run "$bt" "$bc" --epochs "$e" > "$out/pytorch-$r.csv"
    lk_run "$e" "$out/layerkit-$r.txt"
  else
    echo "== round $r: layerkit, then PyTorch, $e epochs each" >&2
    lk_run "$e" "$out/layerkit-$r.txt"
    torch_run "$bt" "$bc" --epochs "$e" > "$out/pytorch-$r.csv"
  fi
  grep '^pytorch,' "$out/pytorch-$r.csv" >&2
  grep '^epoch\|^final' "$out/layerkit-$r.txt" >&2
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt" >&2
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt" >&2

$py - "$out" "$rounds" "$bt" "$bc" "${lk_env[*]} ${OPENBLAS_CORETYPE:+OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE}" <<'PYEOF' | tee "$out/table.md"
import re, statistics, sys
out, rounds, bt, bc, lkenv = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
med = statistics.median
print(f"| round | PyTorch ({bt} thread(s), OPENBLAS_CORETYPE={bc}) s/epoch | layerkit cpu ({lkenv}) s/epoch "
      f"| layerkit epochs 2.. / PyTorch | layerkit slowest epoch 2.. / its fastest |")
print("|---|---|---|---|---|")
ratios, spreads, accs = [], [], []
for r in range(1, rounds + 1):
    rows = [l.strip().split(",") for l in open(f"{out}/pytorch-{r}.csv") if l.startswith("pytorch,")]
    pt = [float(x[2]) for x in rows]
    lk = []
    for line in open(f"{out}/layerkit-{r}.txt"):
        m = re.match(r"epoch \d+/\d+ .* (\d+\.\d) s \(", line)
        if m:
            lk.append(float(m.group(1)))
        m = re.search(r"final: .*test acc ([0-9.]+)", line)
        if m:
            accs.append((r, m.group(1), rows[-1][3]))
    later = lk[1:] if len(lk) > 1 else lk
    ratio = med(later) / med(pt)
    spread = max(later) / min(later)
    ratios.append(ratio)
    spreads.append(spread)
    print(f"| {r} | {', '.join(f'{x:.1f}' for x in pt)} | {', '.join(f'{x:.1f}' for x in lk)} | {ratio:.2f} "
          f"| {spread:.2f} |")
print()
print(f"layerkit / PyTorch, median over the rounds: {med(ratios):.2f} (> 1: layerkit slower; rounds "
      f"{', '.join(f'{x:.2f}' for x in ratios)})")
print(f"layerkit's epochs after the first, slowest / fastest within a run: at most {max(spreads):.2f} (target 1.20)")
for r, lka, pta in accs:
    print(f"round {r} test accuracy after its epochs: layerkit {lka}, PyTorch {pta} (not the same initialisation)")
PYEOF
echo "results in $out" >&2
