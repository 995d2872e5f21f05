#!/usr/bin/env bash
# Builds a self-contained bundle that checks and times the OpenCL backend on a Linux x86-64 machine with an NVIDIA
# driver but no Java: a jlinked Java 17 runtime, the layerkit jars (api, cpu-backend, opencl-backend, conformance,
# models, tools) with their runtime dependencies (JOCL, the JUnit API bits the kit's runner links against), the ICD
# loader libOpenCL.so.1 for machines without one, and two scripts:
#   java.sh CLASS ARGS...  registers the NVIDIA ICD if needed, points JOCL at an ICD loader and runs a main class
#                          on the bundle's runtime and jars (e.g. org.layerkit.models.examples.FashionMnistTraining);
#   run.sh ARGS...         java.sh org.layerkit.tools.GpuCheck ARGS: the conformance kit on the GPU, then
#                          timings of the layer kernels against the device's copy bandwidth, and of GEMM.
#
# Usage: bench/gpu-bundle.sh [OUT_DIR]      (default dist/gpu-bundle; also writes OUT_DIR.tar.gz)
# Needs: JDK 17 with jmods (JAVA_HOME or the javac on PATH), Maven (it builds the modules in this checkout; nothing
#        is installed into the local Maven repository).
# Env:   MVN_ARGS (default "-q"; add -o to stay offline)
#
# The bundle uses the module jars rather than cli/target/layerkit.jar: the CLI's shaded jar also carries the chart
# library, which needs java.desktop, a module this runtime leaves out to stay small.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/dist/gpu-bundle}
mvn_args=${MVN_ARGS:--q}
max_mb=60

if [ -z "${JAVA_HOME:-}" ]; then
  JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
fi
if [ ! -d "$JAVA_HOME/jmods" ]; then
  echo "gpu-bundle: $JAVA_HOME has no jmods/ (install openjdk-17-jdk-headless, or set JAVA_HOME to a full JDK 17)" >&2
  exit 1
fi
version=$("$JAVA_HOME/bin/java" -version 2>&1 | head -1)
case "$version" in
  *'"17'*) ;;
  *) echo "gpu-bundle: expected a JDK 17, got $version" >&2; exit 1 ;;
esac

rm -rf "$out"
mkdir -p "$out/lib" "$out/native"
echo "gpu-bundle: building tools and models (and the modules they need)" >&2
# one reactor build: every module tools and models need is packaged, and each copies its run-time dependencies
# (the sibling modules' jars among them, JOCL, netlib, the JUnit API the kit's runner links against; no test-scoped
# JUnit engine: the bundle runs the kit through its plain runner) into lib/
# shellcheck disable=SC2086
mvn $mvn_args -f "$root/pom.xml" -pl tools,models -am -DskipTests package dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$out/lib"
# tools and models themselves, which no other module depends on
for m in tools models; do
  cp "$(ls "$root/$m"/target/layerkit-"$m"-*.jar | grep -v -- '-sources\|-javadoc' | head -1)" "$out/lib/"
done

echo "gpu-bundle: jlink runtime from $JAVA_HOME" >&2
# jdk.incubator.vector: the cpu backend's Vector API kernels (java.sh adds the module), for CPU timings on the GPU host
"$JAVA_HOME/bin/jlink" --module-path "$JAVA_HOME/jmods" \
  --add-modules java.base,java.logging,jdk.unsupported,jdk.incubator.vector \
  --strip-debug --no-header-files --no-man-pages --compress=2 --output "$out/runtime"

# the ICD loader, used only where the target has no libOpenCL.so.1 of its own (ocl-icd, BSD-2-Clause)
for f in /usr/lib/x86_64-linux-gnu/libOpenCL.so.1 /usr/lib64/libOpenCL.so.1 /usr/lib/libOpenCL.so.1; do
  if [ -e "$f" ]; then
    cp -L "$f" "$out/native/libOpenCL.so.1"
    break
  fi
done

cat > "$out/run.sh" <<'RUN'
#!/bin/sh
# Runs the layerkit GPU check: the conformance kit on the first GPU (else the first OpenCL device), then timings.
# Usage: ./run.sh [--device INDEX|NAME] [--size N,D]... [--spatial N,C,H,W|none] [--gemm MxKxN,...|none]
#                 [--reps R] [--include REGEX] [--exclude REGEX] [--no-conformance] [--no-timing]
#                 [--fuse-columns auto|on|off] [--rows-per-item auto|N] [--group-size auto|N] [--option K=V]...
# Exit status: 0 all cases passed, 1 a case failed, 2 no OpenCL device or bad usage.
exec "$(cd "$(dirname "$0")" && pwd)/java.sh" org.layerkit.tools.GpuCheck "$@"
RUN
chmod +x "$out/run.sh"

cat > "$out/java.sh" <<'RUN'
#!/bin/sh
# Runs a main class of the bundled jars on the bundled Java runtime, with OpenCL set up for JOCL.
# Usage: ./java.sh [-Dname=value]... CLASS [ARGS]...    (JAVA_OPTS adds JVM options; default -Xmx8g)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
vendors=/etc/OpenCL/vendors

# 1. the NVIDIA ICD: containers often mount libnvidia-opencl.so.1 without registering it
nvidia=""
for d in /usr/lib/x86_64-linux-gnu /usr/lib /usr/local/nvidia/lib64 /usr/lib64 /usr/local/nvidia/lib; do
  if [ -e "$d/libnvidia-opencl.so.1" ]; then
    nvidia="$d/libnvidia-opencl.so.1"
    break
  fi
done
if [ -n "$nvidia" ]; then
  if grep -qs "libnvidia-opencl" "$vendors"/*.icd; then
    echo "run.sh: NVIDIA OpenCL ICD already registered in $vendors" >&2
  elif { mkdir -p "$vendors" && echo "$nvidia" > "$vendors/nvidia.icd"; } 2>/dev/null; then
    echo "run.sh: registered $nvidia in $vendors/nvidia.icd" >&2
  else
    # not root: a private vendors directory, read by the ICD loader through OCL_ICD_VENDORS
    private="${TMPDIR:-/tmp}/layerkit-icd.$$"
    mkdir -p "$private"
    cp "$vendors"/*.icd "$private"/ 2>/dev/null || true
    echo "$nvidia" > "$private/nvidia.icd"
    export OCL_ICD_VENDORS="$private"
    echo "run.sh: cannot write $vendors; using $private through OCL_ICD_VENDORS" >&2
  fi
else
  echo "run.sh: libnvidia-opencl.so.1 not found; using whatever OpenCL ICDs are registered in $vendors" >&2
fi

# 2. the ICD loader: JOCL opens libOpenCL.so; point it at the system's libOpenCL.so.1, else at the bundled one
loader=""
ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
if [ -x "$ldconfig" ]; then
  loader=$("$ldconfig" -p 2>/dev/null | awk '/libOpenCL\.so\.1 .*x86-64/ {print $NF; exit}')
  # the cache can be older than the file system
  [ -n "$loader" ] && [ ! -e "$loader" ] && loader=""
fi
if [ -z "$loader" ]; then
  for f in /usr/lib/x86_64-linux-gnu/libOpenCL.so.1 /usr/lib64/libOpenCL.so.1 /usr/local/nvidia/lib64/libOpenCL.so.1; do
    if [ -e "$f" ]; then loader="$f"; break; fi
  done
fi
if [ -z "$loader" ]; then
  loader="$here/native/libOpenCL.so.1"
  echo "run.sh: no libOpenCL.so.1 on this system; using the bundled ICD loader" >&2
fi
ld="${TMPDIR:-/tmp}/layerkit-ld.$$"
mkdir -p "$ld"
ln -sf "$loader" "$ld/libOpenCL.so"
ln -sf "$loader" "$ld/libOpenCL.so.1"
export LD_LIBRARY_PATH="$ld${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# chain native SIGSEGV handlers (an OpenCL driver's LLVM may install one) to the JVM's own, which it needs
if [ -r "$here/runtime/lib/libjsig.so" ]; then
  export LD_PRELOAD="$here/runtime/lib/libjsig.so${LD_PRELOAD:+:$LD_PRELOAD}"
fi
status=0
# shellcheck disable=SC2086
"$here/runtime/bin/java" --add-modules jdk.incubator.vector ${JAVA_OPTS:--Xmx8g} -cp "$here/lib/*" "$@" || status=$?
rm -rf "$ld"
exit $status
RUN
chmod +x "$out/java.sh"

# what the bundle was built from, for the records of a session on another machine
{
  echo "layerkit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "built $(date -u +%FT%TZ) with $version"
} > "$out/VERSION"

tar -C "$(dirname "$out")" -czf "$out.tar.gz" "$(basename "$out")"
size_mb=$(( $(stat -c %s "$out.tar.gz") / 1024 / 1024 ))
unpacked_mb=$(( $(du -sk "$out" | cut -f1) / 1024 ))
echo "gpu-bundle: $out (${unpacked_mb} MB) and $out.tar.gz (${size_mb} MB)" >&2
if [ "$unpacked_mb" -ge "$max_mb" ]; then
  echo "gpu-bundle: the bundle is ${unpacked_mb} MB, over the ${max_mb} MB budget" >&2
  exit 1
fi
