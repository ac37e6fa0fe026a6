#!/usr/bin/env bash
# The round trip of big lists and byte arrays through the Java API (PythonPool.submit).
# Usage: bench/java-conversions.sh
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
. "$here/bin/lib/common.sh"
cd "$here"
require_jdk
require_maven
JAVA_HOME="$jdk" mvn -q -B -ntp -DskipTests package 1>&2
mkdir -p "$here/target/bench"
"$jdk/bin/javac" -d "$here/target/bench" -cp "$here/target/polypool.jar:$here/target/lib/*" \
    "$here/bench/java/BulkConversion.java"
exec "$jdk/bin/java" "${jvm_flags[@]}" -cp "$here/target/bench:$here/target/polypool.jar:$here/target/lib/*" \
    BulkConversion "$@"
