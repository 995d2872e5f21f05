#!/usr/bin/env bash
# Issue 19's forgotten-close() probe, as a benchmark: batchnorm forward + backward on [128,256], 10,000 steps, on
# cpu and opencl, with the results closed and dropped, one JVM per run (bench/LeakBench.java). Prints a table of
# resident memory (before the loop, after it, after System.gc(), after backend.close()), the backend's live tensor
# count, ms per step and how many tensors the leak detector reclaimed.
#   With --baseline REV: the same runs on layerkit as of git revision REV (api, cpu-backend, opencl-backend compiled
#   from `git archive`) first, in the same session: a before/after comparison.
# Usage: bench/leak.sh [--steps N] [--baseline REV] [--leak-detection off|sampled|paranoid]
# Needs: JDK 17, Maven (offline once dependencies are in ~/.m2), an OpenCL ICD (PoCL) for the opencl rows.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
steps=10000
baseline=""
detect=""
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    --leak-detection) detect="-Dlayerkit.leakDetection=$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "leak.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
cd "$root"
out=$(mktemp -d "${TMPDIR:-/tmp}/layerkit-leak.XXXXXX")
# compile the reactor up to opencl-backend and take its classpath (reactor modules as target/classes; no install)
mvn -q -o -B compile dependency:build-classpath -pl opencl-backend -am -Dmdep.outputFile="$out/cp.txt" >&2
deps=$(tr ':' '\n' < "$out/cp.txt" | grep -v '/target/classes$' | paste -sd: -)
vec="--add-modules jdk.incubator.vector"
# PoCL may install a SIGSEGV handler that swallows the JVM's own: chain them as the launcher does
jsig="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")/lib/libjsig.so"
[ -r "$jsig" ] || jsig=""
run() { # classes-dir-prefix label
  local cp="$1:$deps" label="$2"
  for backend in cpu opencl; do
    for mode in close leak; do
      LD_PRELOAD="${jsig}" java $vec $detect -Xmx4g -cp "$cp" bench/LeakBench.java "$backend" "$mode" "$steps" 2>"$out/err.txt" \
        | sed "s/^/$label,/" || { echo "$label $backend $mode failed:" >&2; tail -5 "$out/err.txt" >&2; }
    done
  done
}
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "java: $(java -version 2>&1 | head -1); opencl: $(clinfo -l 2>/dev/null | sed -n 2p | sed 's/^ *//')"
  echo "command: bench/leak.sh --steps $steps ${baseline:+--baseline $baseline} ${detect}"
} >&2
echo "build,backend,results,steps,rss_before_MB,rss_after_loop_MB,rss_after_gc_MB,rss_after_close_MB,live_before,live_after_loop,live_after_gc,live_after_close,ms_per_step,reclaimed" > "$out/rows.csv"
if [ -n "$baseline" ]; then
  rev=$(git rev-parse --short "$baseline")
  mkdir -p "$out/base/src" "$out/base/classes"
  git archive "$rev" api/src/main cpu-backend/src/main opencl-backend/src/main | tar -x -C "$out/base/src"
  javac -nowarn $vec -d "$out/base/classes" -cp "$deps" $(find "$out/base/src" -path '*/tools/*' -prune -o -name '*.java' -print)
  for m in api cpu-backend opencl-backend; do
    cp -r "$out/base/src/$m/src/main/resources/." "$out/base/classes/" 2>/dev/null || true
  done
  # both backends' provider lines (the copies above overwrite each other's services file)
  cat "$out"/base/src/*/src/main/resources/META-INF/services/org.layerkit.api.BackendProvider \
    > "$out/base/classes/META-INF/services/org.layerkit.api.BackendProvider"
  run "$out/base/classes" "before($rev)" | tee -a "$out/rows.csv" >&2
fi
here="$root/api/target/classes:$root/cpu-backend/target/classes:$root/opencl-backend/target/classes"
run "$here" "this tree" | tee -a "$out/rows.csv" >&2
python3 - "$out/rows.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("| build | backend | results | RSS before | after loop | after gc | after close | live before / loop / gc / close | ms/step | reclaimed |")
print("|---|---|---|---:|---:|---:|---:|---|---:|---:|")
for r in rows:
    print(f"| {r['build']} | {r['backend']} | {r['results']} | {float(r['rss_before_MB']):.0f} MB | {float(r['rss_after_loop_MB']):.0f} MB "
          f"| {float(r['rss_after_gc_MB']):.0f} MB | {float(r['rss_after_close_MB']):.0f} MB "
          f"| {r['live_before']} / {r['live_after_loop']} / {r['live_after_gc']} / {r['live_after_close']} "
          f"| {float(r['ms_per_step']):.3f} | {r['reclaimed']} |")
EOF
echo "(rows: $out/rows.csv)" >&2
