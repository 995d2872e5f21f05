#!/usr/bin/env bash
# The one command that passes the tests on a fresh machine: installs what the tests need, then runs every
# module's tests. The OpenCL backend's conformance suite runs on PoCL and must not be skipped
# (-Dlayerkit.requireOpenCL=true turns a missing OpenCL device into a failure).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --no-data
exec mvn -B -ntp -Dlayerkit.requireOpenCL=true "$@" verify
