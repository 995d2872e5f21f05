#!/usr/bin/env bash
# Compares layerkit's CPU kernels with PyTorch (and numpy for dropout) on this machine, in ONE run:
#   1. bench/pytorch_bench.py ops --with-4d   PyTorch 1.13 CPU (2 threads) and numpy, plus numpy's copy GB/s
#   2. bench/CpuBench.java                    layerkit's CPU backend, same ops and shapes, plus System.arraycopy
#                                             GB/s on one thread and on both (512 MiB, bytes read + written)
#   3. a table: per op and shape, forward and forward+backward median ms, effective GB/s (minimum traffic: each
#      input read once, each output written once), its share of the faster two-thread copy bandwidth of the same
#      run (System.arraycopy split over both cores, or torch's Tensor.copy_ on two threads), and
#      the speed-up over PyTorch (PyTorch ms / layerkit ms; > 1 means layerkit is faster) and, for dropout, numpy.
#   With --baseline REV: also layerkit's CPU kernels as of git revision REV (cpu-backend/src/main compiled from
#   `git archive`), timed by the same harness in the same run: a before/after column.
#   With --net [EPOCHS]: also the Fashion-MNIST MLP (784-256-128-100-10, BatchNorm, ReLU, dropout 0.2, Adam 1e-3,
#   batch 128) per epoch, PyTorch (1 thread) against layerkit's FashionMnistTraining example on the cpu backend.
#
#   With --conv: instead of all that, conv2d and max pool at a small Fashion-MNIST CNN's shapes (N=128: 1->32 at
#   28x28 and 32->64 at 14x14, 3x3 pad 1; 2x2 pools): bench/pytorch_bench.py conv on 1 and on 2 threads (PyTorch
#   at its fastest is one of the two), bench/ConvBench.java (layerkit's cpu backend, plus its GEMMs alone at the
#   same shapes and FLOPs) on 1 thread and on both cores, and tables of ms, GFLOP/s, % of GEMM and speed-ups. Both
#   run with GLIBC_TUNABLES keeping freed memory and the same OPENBLAS_CORETYPE (the launcher's rule below, as
#   in the other modes).
#
#   The JVMs run with --add-modules jdk.incubator.vector (the cpu backend's Vector API kernels, as the launcher
#   runs them); --loops leaves the module out, which times the auto-vectorized loops instead.
# Usage: bench/compare.sh [--repeats N] [--baseline REV] [--net [EPOCHS]] [--loops] [--out DIR]
#        bench/compare.sh --conv [--repeats N] [--out DIR]
# Needs: JDK 17, Maven (offline is fine once dependencies are in ~/.m2), /usr/bin/python3 with python3-torch.
# Compiles cpu-backend and api in a reactor build (mvn -o compile -pl cpu-backend -am; nothing is installed); --net uses
# the models jar installed in ~/.m2. When OPENBLAS_CORETYPE is unset it is exported as the launcher does
# (scripts/openblas-coretype.sh: only on Intel models that Debian 12's OpenBLAS sends to its generic kernels), for
# layerkit and PyTorch alike and in every mode, --conv included (see docs/benchmarks.md); set OPENBLAS_CORETYPE
# yourself to override, or `env -u OPENBLAS_CORETYPE` to keep OpenBLAS's own detection where the rule would set it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
repeats=20
net_epochs=0
out=""
baseline=""
loops=0
conv=0
while [ $# -gt 0 ]; do
  case "$1" in
    --repeats) repeats=$2; shift 2 ;;
    --net) if [ $# -gt 1 ] && [[ $2 =~ ^[0-9]+$ ]]; then net_epochs=$2; shift 2; else net_epochs=4; shift; fi ;;
    --out) out=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    --loops) loops=1; shift ;;
    --conv) conv=1; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
out=${out:-$(mktemp -d "${TMPDIR:-/tmp}/layerkit-compare.XXXXXX")}
mkdir -p "$out"
py=/usr/bin/python3

# the launcher's OpenBLAS core type (scripts/openblas-coretype.sh), for layerkit and PyTorch alike, in every mode
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  coretype=$("$root/scripts/openblas-coretype.sh" 2>/dev/null || true)
  [ -n "$coretype" ] && export OPENBLAS_CORETYPE="$coretype"
fi

cd "$root"
# the cpu backend's Vector API kernels, as the layerkit launcher runs them; --loops times the auto-vectorized
# loops that a JVM without the module runs
vec="--add-modules jdk.incubator.vector"
[ "$loops" = 1 ] && vec=""
# a reactor build (no install): the classpath names api/target/classes, not a jar in ~/.m2
echo "compare.sh: compiling cpu-backend and api" >&2
mvn -q -o -B compile dependency:build-classpath -pl cpu-backend -am -Dmdep.outputFile="$out/cp.txt" >/dev/null
cp="$root/cpu-backend/target/classes:$(cat "$out/cp.txt")"

{
  echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine:  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') (family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ') model $(grep -m1 '^model\s' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "java:     $(java -version 2>&1 | head -1)"
  echo "torch:    $($py -c 'import torch, numpy; print(torch.__version__, "numpy", numpy.__version__)')"
  echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/machine.txt"

if [ "$conv" = 1 ]; then
  export GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736
  echo "GLIBC_TUNABLES=$GLIBC_TUNABLES" | tee -a "$out/machine.txt"
  for t in 1 2; do
    echo "== PyTorch conv, $t thread(s) (bench/pytorch_bench.py conv --threads $t --repeats $repeats)" >&2
    $py bench/pytorch_bench.py conv --threads "$t" --repeats "$repeats" | sed "s/^pytorch,/pytorch${t},/" \
      | tee "$out/pytorch$t.csv" >&2
  done
  echo "== layerkit cpu on 1 thread (OPENBLAS_NUM_THREADS=1, no ForkJoin workers; bench/ConvBench.java $repeats 5)" >&2
  OPENBLAS_NUM_THREADS=1 java -Djava.util.concurrent.ForkJoinPool.common.parallelism=0 $vec -cp "$cp" \
    bench/ConvBench.java "$repeats" 5 2>&1 | sed "s/^layerkit,/layerkit1,/" | tee "$out/layerkit1.csv" >&2
  echo "== layerkit cpu on both cores, OpenBLAS single-threaded as the launcher runs it (bench/ConvBench.java $repeats 5)" >&2
  OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} java $vec -cp "$cp" bench/ConvBench.java "$repeats" 5 2>&1 \
    | sed "s/^layerkit,/layerkit2,/" \
    | tee "$out/layerkit2.csv" >&2
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"
  $py bench/conv_table.py "$out/pytorch1.csv" "$out/pytorch2.csv" "$out/layerkit1.csv" "$out/layerkit2.csv" \
    | tee "$out/table.md"
  echo "results in $out" >&2
  exit 0
fi

echo "== PyTorch / numpy (bench/pytorch_bench.py ops --threads 2 --repeats $repeats --with-4d)" >&2
$py bench/pytorch_bench.py ops --threads 2 --repeats "$repeats" --with-4d | tee "$out/pytorch.csv" >&2
echo "== layerkit cpu (bench/CpuBench.java $repeats 5)" >&2
java $vec -cp "$cp" bench/CpuBench.java "$repeats" 5 2>&1 | tee "$out/layerkit.csv" >&2
tables=("$out/pytorch.csv" "$out/layerkit.csv")
if [ -n "$baseline" ]; then
  rev=$(git rev-parse --short "$baseline")
  echo "== layerkit cpu at $rev (baseline)" >&2
  rm -rf "$out/baseline" && mkdir -p "$out/baseline/src" "$out/baseline/classes"
  git archive "$rev" cpu-backend/src/main | tar -x -C "$out/baseline/src"
  javac -nowarn $vec -d "$out/baseline/classes" -cp "$(cat "$out/cp.txt")" $(find "$out/baseline/src" -name '*.java')
  cp -r "$out/baseline/src/cpu-backend/src/main/resources/." "$out/baseline/classes/" 2>/dev/null || true
  java $vec -cp "$out/baseline/classes:$(cat "$out/cp.txt")" bench/CpuBench.java "$repeats" 5 2>&1 \
    | sed "s/^layerkit,/before,/" | tee "$out/baseline.csv" >&2
  tables+=("$out/baseline.csv")
  echo "baseline: cpu-backend at $rev" >> "$out/machine.txt"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"

$py - "${tables[@]}" <<'EOF' | tee "$out/table.md"
import re, sys
rows = {}
copy = {}

def records(path):
    """CSV rows whose shape field ([4096,1024]) holds unquoted commas."""
    lines = [l.strip() for l in open(path) if re.match(r"^[a-z]+,", l)]
    header = lines[0].split(",")
    for line in lines[1:]:
        m = re.match(r"^([^,]*),([^,]*),(\[[^\]]*\]),?(.*)$", line)
        if m:
            yield dict(zip(header, [m.group(1), m.group(2), m.group(3)] + m.group(4).split(",")))

for path in sys.argv[1:]:
    for r in records(path):
        if r["op"].startswith("copy_GBps"):
            copy[(r["impl"], r["op"])] = float(r["forward_ms"])
        else:
            rows[(r["impl"], r["op"], r["shape"])] = r
# the reference for "% copy": the faster of the two-thread copies of this run (System.arraycopy split over both
# cores, torch's Tensor.copy_ on two threads)
two = [v for v in (copy.get(("layerkit", "copy_GBps_2thread")), copy.get(("pytorch", "copy_GBps_2thread"))) if v]
bw = max(two) if two else None
print(f"host copy, 512 MiB, bytes read + written: System.arraycopy {copy.get(('layerkit', 'copy_GBps_1thread'))} GB/s "
      f"on one thread, {copy.get(('layerkit', 'copy_GBps_2thread'))} GB/s on two; numpy.copyto "
      f"{copy.get(('numpy', 'copy_GBps'))} GB/s (one thread); torch copy_ {copy.get(('pytorch', 'copy_GBps_2thread'))} "
      f"GB/s (two threads). % copy below is against {bw} GB/s, the faster two-thread copy.")
print()
others = ["pytorch", "numpy"] + (["before"] if any(k[0] == "before" for k in rows) else [])
print("| op | shape | fwd ms | f+b ms | fwd GB/s | f+b GB/s | fwd % copy | f+b % copy | "
      + " | ".join(f"{o} fwd / f+b ms | speed-up vs {o}" for o in others) + " |")
print("|---|---|" + "---:|" * (6 + 2 * len(others)))
for (impl, op, shape), r in rows.items():
    if impl != "layerkit":
        continue
    f, fb = float(r["forward_ms"]), float(r["forward_backward_ms"])
    gf, gfb = int(r["fwd_bytes"]) / f / 1e6, int(r["fwd_bwd_bytes"]) / fb / 1e6
    cells = [op, shape, f"{f:.3f}", f"{fb:.3f}", f"{gf:.1f}", f"{gfb:.1f}",
             f"{100 * gf / bw:.0f}%" if bw else "", f"{100 * gfb / bw:.0f}%" if bw else ""]
    for other in others:
        o = rows.get((other, op, shape))
        if o is None:
            cells += ["", ""]
            continue
        of, ofb = float(o["forward_ms"]), float(o["forward_backward_ms"])
        cells += [f"{of:.3f} / {ofb:.3f}", f"{of / f:.2f}x / {ofb / fb:.2f}x"]
    print("| " + " | ".join(cells) + " |")
print()
print("GB/s counts the minimum traffic (4 bytes per float; n elements, F features, S statistics): batchnorm forward "
      "2n + 8F floats (x in, out out), backward 3n + 4F (dOut and x in, dX out); layernorm/groupnorm forward "
      "2n + 2F + 2S, backward 3n + 3F + S; dropout "
      "3n each way. % copy is against the faster two-thread copy of the same run. Speed-up = other ms / "
      "layerkit ms (fwd / f+b); 'before' is the --baseline revision.")
EOF

if [ "$net_epochs" -gt 0 ]; then
  echo "== Fashion-MNIST MLP, $net_epochs epochs each" >&2
  mvn -q -o -B dependency:build-classpath -pl models -Dmdep.outputFile="$out/cpm.txt" >/dev/null
  models_jar=$(ls ~/.m2/repository/org/layerkit/layerkit-models/0.1.0-SNAPSHOT/layerkit-models-0.1.0-SNAPSHOT.jar)
  $py bench/pytorch_bench.py net --threads 1 --epochs "$net_epochs" | tee "$out/net-pytorch.csv" >&2
  # layerkit: the same net and optimizer; --val=5000 keeps a real validation split (the solver keeps the best
  # epoch's parameters), so it trains on 55 000 examples per epoch where PyTorch trains on 60 000
  java $vec -Dlayerkit.backend=cpu -cp "$root/cpu-backend/target/classes:$models_jar:$(cat "$out/cpm.txt")" \
    org.layerkit.models.examples.FashionMnistTraining --epochs="$net_epochs" --keep=0.8 --lr=1e-3 --lr-decay=1 \
    --batch=128 --val=5000 2>&1 | tee "$out/net-layerkit.txt" >&2
  $py - "$out/net-pytorch.csv" "$out/net-layerkit.txt" <<'EOF' | tee -a "$out/table.md"
import csv, re, statistics, sys
pt = list(csv.DictReader(l for l in open(sys.argv[1]) if not l.startswith("#")))
lk = re.findall(r"\(Epoch (\d+) / \d+\).*?; ([0-9.]+) s", open(sys.argv[2]).read())
acc = re.search(r"test acc ([0-9.]+)", open(sys.argv[2]).read())
pts = [float(r["seconds"]) for r in pt]
lks = [float(s) * 60000 / 55000 for _, s in lk]
later = lambda v: v[1:] if len(v) > 1 else v
print()
print("| Fashion-MNIST MLP, batch 128 | s/epoch, every epoch (per 60 000 examples) | median from epoch 2 | test accuracy |")
print("|---|---|---:|---:|")
print(f"| PyTorch 1.13 (1 thread + OpenBLAS) | {', '.join(f'{v:.2f}' for v in pts)} | {statistics.median(later(pts)):.2f} | {pt[-1]['test_accuracy']} (last epoch) |")
print(f"| layerkit cpu (2 cores + OpenBLAS) | {', '.join(f'{v:.2f}' for v in lks)} | {statistics.median(later(lks)):.2f} | {acc.group(1) if acc else '?'} (best-validation epoch) |")
print()
print("layerkit's epoch seconds are its training steps on 55 000 examples scaled by 60/55; epoch 1 includes JIT warm-up.")
EOF
fi
echo "results in $out" >&2
