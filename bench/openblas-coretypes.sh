#!/usr/bin/env bash
# Measures SGEMM throughput of the cpu backend (Backend.gemm -> CpuGemm -> netlib JNI -> the system's OpenBLAS) at
# the training shapes (bench/GemmBench.java: the Fashion-MNIST MLP's products at batch 128, two im2col convolutions,
# 1024^3) under each OpenBLAS core type this CPU can run, on 1 and on 2 threads, and writes a table.
#
# OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS are read when the library loads, so every configuration is its own JVM.
# The configurations run interleaved: each round runs every one once, in an order rotated from round to round, so
# a burst of load on a shared machine lands on different configurations; the table gives per shape the median over
# rounds of each run's median GFLOP/s and the best sample of all rounds, and the same for the MLP's GEMM
# milliseconds per training step (forward + backward of layers 1-3, the 8 products AffineLayer calls; layer 4's
# 100x10 products are left out). On one thread it also gives GFLOP/s by the calling thread's CPU time, on which
# time slices lost to other processes do not count: the steadier figure on a loaded machine.
# Each run also records the core OpenBLAS reports (OPENBLAS_VERBOSE=2 prints "Core: ..."): a name this OpenBLAS
# does not know is rejected ("Core not found") and it falls back to its own choice, which the table shows.
#
# Usage: bench/openblas-coretypes.sh [--rounds N] [--types "auto Prescott ..."] [--threads "1 2"] [--out DIR]
#   auto = OPENBLAS_CORETYPE unset for that run (OpenBLAS autodetects); default types: auto Prescott Nehalem
#   Sandybridge Haswell Zen SkylakeX Cooperlake, minus those the CPU cannot run (from /proc/cpuinfo flags).
# Needs: JDK 17, Maven (compiles api + cpu-backend into their target/ folders; nothing is installed), python3.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rounds=5
types="auto Prescott Nehalem Sandybridge Haswell Zen SkylakeX Cooperlake"
threads="1 2"
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --types) types=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "openblas-coretypes.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
out=${out:-$(mktemp -d "${TMPDIR:-/tmp}/layerkit-coretypes.XXXXXX")}
mkdir -p "$out"
py=$(command -v /usr/bin/python3 || command -v python3)

# the core types this CPU can execute: each kernel set needs its instruction set (Excavator's FMA4/XOP, for one,
# kills the process with SIGILL on Intel); the rest are skipped with the reason
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() { for f in "$@"; do [[ $flags == *" $f "* ]] || return 1; done; }
runnable=()
for t in $types; do
  case "$t" in
    auto|Prescott|Core2|Nehalem) ok=1 ;;
    Sandybridge) has avx && ok=1 || ok=0 ;;
    Haswell|Zen) has avx2 fma && ok=1 || ok=0 ;;
    SkylakeX|Cooperlake|SapphireRapids) has avx512f avx512cd avx512bw avx512dq avx512vl && ok=1 || ok=0 ;;
    Bulldozer|Piledriver|Steamroller|Excavator) has avx fma4 xop && ok=1 || ok=0 ;;
    Barcelona|Bobcat|Opteron_SSE3|Opteron|Athlon) has sse4a && ok=1 || ok=0 ;;
    *) ok=1 ;;
  esac
  if [ "$ok" = 1 ]; then runnable+=("$t"); else echo "skipping $t: this CPU lacks its instruction set" >&2; fi
done

cd "$root"
echo "compiling api + cpu-backend and GemmBench" >&2
mvn -B -ntp -q -pl cpu-backend -am compile dependency:build-classpath -DincludeScope=runtime \
  -Dmdep.outputFile="$out/cp.txt" >/dev/null
cp="$root/cpu-backend/target/classes:$(cat "$out/cp.txt")"
mkdir -p "$out/classes"
javac -nowarn -d "$out/classes" -cp "$cp" bench/GemmBench.java
openblas=$(readlink -f /usr/lib/x86_64-linux-gnu/libopenblas.so.0 2>/dev/null || echo unknown)
{
  echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine:  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(grep -m1 vendor_id /proc/cpuinfo | cut -d: -f2 | tr -d ' ') family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ') model $(grep -m1 '^model\s' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "openblas: $openblas ($(dpkg-query -W -f '${Package} ${Version}' libopenblas0-pthread 2>/dev/null || echo 'package unknown'))"
  echo "java:     $(java -version 2>&1 | head -1)"
  echo "command:  bench/openblas-coretypes.sh --rounds $rounds --types \"${runnable[*]}\" --threads \"$threads\""
  echo "OPENBLAS_CORETYPE in the environment: ${OPENBLAS_CORETYPE:-(unset)} (each run sets or unsets its own)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/machine.txt" >&2

configs=()
for n in $threads; do
  for t in "${runnable[@]}"; do configs+=("$t/$n"); done
done
echo "round,coretype,threads,core,name,form,m,k,n,gflop,median_ms,min_ms,median_gflops,median_cpu_ms" > "$out/raw.csv"
count=${#configs[@]}
for ((r = 0; r < rounds; r++)); do
  for ((i = 0; i < count; i++)); do
    c=${configs[$(((i + r * 3) % count))]}
    t=${c%/*}
    n=${c#*/}
    if [ "$t" = auto ]; then envset=(-u OPENBLAS_CORETYPE); else envset=("OPENBLAS_CORETYPE=$t"); fi
    log="$out/run-$r-$t-$n"
    if ! env "${envset[@]}" OPENBLAS_NUM_THREADS="$n" OPENBLAS_VERBOSE=2 \
      java -cp "$out/classes:$cp" GemmBench > "$log.csv" 2> "$log.err"; then
      echo "round $((r + 1))/$rounds  $t ($n thread(s)) failed; see $log.err" >&2
      continue
    fi
    core=$(sed -n 's/^Core: //p' "$log.err" "$log.csv" | head -1)
    grep -v -e '^#' -e '^name,' "$log.csv" | sed "s|^|$r,$t,$n,${core:-?},|" >> "$out/raw.csv"
    echo "round $((r + 1))/$rounds  $t ($n thread(s)) -> Core: ${core:-?}" >&2
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt" >&2

"$py" - "$out/raw.csv" <<'EOF' | tee "$out/table.md"
import csv, statistics, sys
from collections import defaultdict, OrderedDict
rows = list(csv.DictReader(open(sys.argv[1])))
wall = defaultdict(list)      # (threads, type, name) -> each round's median GFLOP/s (wall clock)
best = defaultdict(list)      # (threads, type, name) -> each round's fastest sample, GFLOP/s
cpu = defaultdict(list)       # (threads, type, name) -> each round's median GFLOP/s by the caller's CPU time
step = defaultdict(lambda: defaultdict(float))   # metric -> (threads, type, round) -> MLP GEMM ms per step
core = {}
names = list(OrderedDict.fromkeys(r["name"] for r in rows))
types = list(OrderedDict.fromkeys(r["coretype"] for r in rows))
shapes = {r["name"]: f'{r["m"]}×{r["k"]}·{r["k"]}×{r["n"]} ({r["form"]})' for r in rows}
for r in rows:
    key = (r["threads"], r["coretype"])
    g = float(r["gflop"])
    wall[key + (r["name"],)].append(float(r["median_gflops"]))
    best[key + (r["name"],)].append(g / (float(r["min_ms"]) / 1e3))
    cpu[key + (r["name"],)].append(g / (float(r["median_cpu_ms"]) / 1e3))
    core.setdefault(key, set()).add(r["core"])
    if r["name"].startswith("fc"):
        for metric, col in (("wall", "median_ms"), ("best", "min_ms"), ("cpu", "median_cpu_ms")):
            step[metric][key + (r["round"],)] += float(r[col])

def steps(metric, n, t):
    return [v for (nn, tt, _), v in step[metric].items() if nn == n and tt == t]

def table(n, cols, title, cell, step_cell):
    print(f"\n**{title}**\n")
    print("| product | " + " | ".join(f"{t} (→ {'/'.join(sorted(core[(n, t)]))})" for t in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for name in names:
        print(f"| {name} {shapes[name]} | " + " | ".join(cell(n, t, name) for t in cols) + " |")
    print(step_cell(n, cols))

for n in OrderedDict.fromkeys(r["threads"] for r in rows):
    cols = [t for t in types if (n, t) in core]
    rel = lambda metric, t, agg: agg(steps(metric, n, t)) / agg(steps(metric, n, "auto")) if "auto" in cols else float("nan")
    if n == "1":
        table(n, cols, "1 thread, by the calling thread's CPU time (OpenBLAS computes on it): GFLOP/s, median over rounds",
              lambda n, t, name: f"{statistics.median(cpu[(n, t, name)]):.0f}",
              lambda n, cols: "| **MLP step: the 8 GEMMs of layers 1-3, CPU ms** (relative to auto) | " + " | ".join(
                  f"**{statistics.median(steps('cpu', n, t)):.2f}** ({rel('cpu', t, statistics.median):.2f}×)"
                  for t in cols) + " |")
    table(n, cols, f"{n} thread(s), wall clock: GFLOP/s, median over rounds (best sample of all rounds)",
          lambda n, t, name: f"{statistics.median(wall[(n, t, name)]):.0f} ({max(best[(n, t, name)]):.0f})",
          lambda n, cols: "| **MLP step: the 8 GEMMs of layers 1-3, ms**, median (best) | " + " | ".join(
              f"**{statistics.median(steps('wall', n, t)):.2f}** ({min(steps('best', n, t)):.2f})"
              for t in cols) + " |")
EOF
echo "results in $out" >&2
