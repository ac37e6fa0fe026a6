#!/usr/bin/env bash
# Per-call overhead of the Java API (PythonPool.submit(...).get()) next to a plain
# ExecutorService hop, and conversion costs of larger values. Usage: bench/java-api.sh [calls]
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
. "$here/bin/lib/common.sh"
cd "$here"
require_jdk
require_maven
JAVA_HOME="$jdk" mvn -q -B -ntp -DskipTests package 1>&2
mkdir -p "$here/target/bench"
"$jdk/bin/javac" -d "$here/target/bench" -cp "$here/target/polypool.jar:$here/target/lib/*" \
    "$here/bench/java/SubmitOverhead.java"
exec "$jdk/bin/java" "${jvm_flags[@]}" -cp "$here/target/bench:$here/target/polypool.jar:$here/target/lib/*" \
    SubmitOverhead "$@"
