# Shared by bin/polypool and bin/run-tests: find a suitable JDK, build when needed.
# Sourced; expects $here (the project root) to be set.

die() { echo "polypool: $*" >&2; exit 1; }

java_major() {  # the feature version of the java at $1, or nothing
    "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p'
}

# A JDK 25+ (GraalPy's JIT needs JVMCI, which JDK 25 builds such as Temurin's have):
# POLYPOOL_JAVA_HOME, then JAVA_HOME when new enough, then the JDKs installed on the machine.
find_jdk() {
    local candidates=() c v
    [ -n "${POLYPOOL_JAVA_HOME:-}" ] && candidates+=("$POLYPOOL_JAVA_HOME")
    [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
    for c in /usr/lib/jvm/* /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/*; do
        [ -d "$c" ] && candidates+=("$c")
    done
    for c in "${candidates[@]}"; do
        if [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ]; then
            v="$(java_major "$c/bin/java")"
            if [ -n "$v" ] && [ "$v" -ge 25 ]; then echo "$c"; return 0; fi
        fi
    done
    return 1
}

require_jdk() {
    jdk="$(find_jdk)" || die "no JDK 25 or newer found. Install one (e.g. Temurin 25) and set JAVA_HOME or POLYPOOL_JAVA_HOME to it: GraalPy's optimizing runtime needs JVMCI"
}

jar="$here/target/polypool.jar"

needs_build() {
    [ -f "$jar" ] && [ -d "$here/target/lib" ] && [ -d "$here/target/jit" ] || return 0
    [ -n "$(find "$here/pom.xml" "$here/src/main" -newer "$jar" -print -quit 2>/dev/null)" ]
}

require_maven() {
    command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is needed to build polypool; install it (apt-get install maven)"
}

ensure_built() {
    needs_build || return 0
    require_maven
    mkdir -p "$here/target"
    # one build at a time: concurrent first runs wait for it instead of racing
    exec 9>"$here/target/.build.lock"
    flock 9
    if needs_build; then
        echo "polypool: building (first use or sources changed)..." >&2
        (cd "$here" && JAVA_HOME="$jdk" mvn -q -B -DskipTests package 1>&2) || die "build failed"
    fi
    exec 9>&-
}

# -XX:TieredStopAtLevel=1: host code (GraalPy's interpreter, the Graal compiler itself) is
# compiled by C1 only. On 2 cores C2's compile threads starve start-up: measured here, a
# Pool(4) script ran 15.1 s with C2 and 9.2 s without; guest code is compiled by Graal
# either way, and warm CPU-bound tasks ran no slower.
jvm_flags=(
    -XX:+UnlockExperimentalVMOptions -XX:+EnableJVMCI -XX:TieredStopAtLevel=1
    --upgrade-module-path="$here/target/jit"
    --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow
    -Xss8m
)
