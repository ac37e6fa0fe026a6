#!/usr/bin/env bash
# The round trip of big lists and byte arrays through the Java API (PythonPool.submit).
# Usage: bench/java-conversions.sh
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
. "$here/bench/lib/java-bench.sh"
java_bench BulkConversion "$@"
