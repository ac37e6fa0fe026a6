#!/usr/bin/env bash
# Per-call overhead of the Java API (PythonPool.submit(...).get()) next to a plain
# ExecutorService hop, and conversion costs of larger values. Usage: bench/java-api.sh [calls]
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
. "$here/bench/lib/java-bench.sh"
java_bench SubmitOverhead "$@"
