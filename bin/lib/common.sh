# Shared by bin/polypool and bin/run-tests: find a suitable JDK, build when needed.
# Sourced; expects $here (the project root) to be set.

die() { echo "polypool: $*" >&2; exit 1; }

java_major() {  # the feature version of the java at $1, or nothing
    # the JDK's release file answers in a millisecond; asking the JVM takes a tenth of a second
    local v
    v="$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$(dirname "$1")/../release" 2>/dev/null)"
    if [ -n "$v" ]; then echo "$v"; return 0; fi
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
    # Debian's Maven (3.8) on JDK 25: its Guava warns of sun.misc.Unsafe at every start
    export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
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
        # without the colour resets that Maven 3.8 prints even with -q -B
        (cd "$here" && JAVA_HOME="$jdk" mvn -q -B -DskipTests package 2>&1 | sed 's/\x1b\[0m//g'
            exit "${PIPESTATUS[0]}") 1>&2 || die "build failed"
    fi
    exec 9>&-
}

# Start-up: the JVM's AOT cache (JDK 25, JEP 483/515) keeps the ~15,000 classes of Truffle,
# GraalPy and the Graal compiler loaded and linked, with their profiles, across runs. The JVM
# refuses it (like all class data sharing) with --upgrade-module-path, so polypool runs on
# target/jre: this JDK re-linked without its placeholder jdk.graal.compiler module, which
# lets the real compiler come from the plain --module-path. The cache is trained once per
# build by running bin/lib/aot_training.py. If jlink or the training fails, polypool runs
# as before: this JDK with --upgrade-module-path and no cache.
jre="$here/target/jre"
aot="$here/target/polypool.aot"

# the jars of the class path, in a fixed order: the cache is valid for one exact class path
class_path() {
    local cp="$jar" f
    for f in "$here"/target/lib/*.jar; do cp="$cp:$f"; done
    echo "$cp"
}

# jvm_flags with the compiler on the module path instead of the upgrade module path
aot_jvm_flags() {
    local f
    aot_flags=()
    for f in "${jvm_flags[@]}"; do [[ $f == --upgrade-module-path=* ]] || aot_flags+=("$f"); done
    aot_flags+=(--module-path="$here/target/jit" --add-modules=jdk.graal.compiler,org.graalvm.truffle.compiler)
}

# A failed attempt leaves a marker ($jre.failed, $aot.failed) so that later runs do not
# pay for it again; a new JDK or a new build tries again.
needs_jre() {
    [ -x "$jre/bin/java" ] && [ "$(cat "$jre/.jdk" 2>/dev/null)" = "$jdk" ] && return 1
    [ "$(cat "$jre.failed" 2>/dev/null)" != "$jdk" ]
}

make_jre() {
    local mods
    mods="$("$jdk/bin/java" --list-modules | sed 's/@.*//' | grep -v -E '^(jdk\.graal\.compiler|jdk\.jlink|jdk\.jpackage)' | paste -sd,)"
    rm -rf "$jre" "$jre.tmp"
    if "$jdk/bin/jlink" --add-modules "$mods" --generate-cds-archive --output "$jre.tmp" >/dev/null 2>&1; then
        echo "$jdk" >"$jre.tmp/.jdk" && mv "$jre.tmp" "$jre" && return 0
    fi
    rm -rf "$jre.tmp"
    echo "$jdk" >"$jre.failed"
    return 1
}

aot_inputs_newer_than() {
    [ -n "$(find "$jar" "$here/target/lib" "$jre/.jdk" "$here/bin/lib/aot_training.py" -newer "$1" -print -quit 2>/dev/null)" ]
}

needs_aot() {
    [ -f "$aot" ] && ! aot_inputs_newer_than "$aot" && return 1
    [ -f "$aot.failed" ] && ! aot_inputs_newer_than "$aot.failed" && return 1
    return 0
}

train_aot() {
    local tmp="$aot.tmp.$$"
    rm -f "$aot" "$aot.failed"
    aot_jvm_flags
    if "$jre/bin/java" "${aot_flags[@]}" -XX:AOTCacheOutput="$tmp" -cp "$(class_path)" \
        dev.polypool.cli.Main "$here/bin/lib/aot_training.py" >/dev/null 2>&1 && [ -s "$tmp" ]; then
        mv "$tmp" "$aot" && return 0
    fi
    rm -f "$tmp" "$tmp.config"
    touch "$aot.failed"
    return 1
}

# Sets $java and $run_flags: how to start polypool's JVM. Makes the run-time image and the
# AOT cache first when they are missing or stale (once; concurrent runs wait for it).
# POLYPOOL_NO_AOT=1 runs without them.
choose_jvm() {
    java="$jdk/bin/java"
    run_flags=("${jvm_flags[@]}" -cp "$jar:$here/target/lib/*")
    [ -n "${POLYPOOL_NO_AOT:-}" ] && return 0
    if needs_jre || needs_aot; then
        mkdir -p "$here/target"
        exec 9>"$here/target/.build.lock"
        flock 9
        if needs_jre; then
            echo "polypool: linking a run-time image for the AOT cache (once)..." >&2
            make_jre || echo "polypool: jlink failed; running without the AOT cache" >&2
        fi
        if [ -x "$jre/bin/java" ] && needs_aot; then
            echo "polypool: training the AOT cache (once per build, about a minute)..." >&2
            train_aot || echo "polypool: AOT cache training failed; running without it" >&2
        fi
        exec 9>&-
    fi
    [ "$(cat "$jre/.jdk" 2>/dev/null)" = "$jdk" ] && [ -f "$aot" ] && ! aot_inputs_newer_than "$aot" || return 0
    java="$jre/bin/java"
    aot_jvm_flags
    run_flags=("${aot_flags[@]}" -XX:AOTCache="$aot" -cp "$(class_path)")
}

# -XX:TieredStopAtLevel=1: host code (GraalPy's interpreter, the Graal compiler itself) is
# compiled by C1 only. On 2 cores C2's compile threads starve start-up: measured here, a
# Pool(4) script ran 15.1 s with C2 and 9.2 s without; guest code is compiled by Graal
# either way, and warm CPU-bound tasks ran no slower.
# -Xlog: the JVM's own warnings (a stale AOT cache, CDS) go to stderr, never into the
# program's stdout, where unified logging would put them by default.
# -XX:+UseSerialGC: G1 (the default on 2+ cores) kept a Pool(2) imap script at 957 MiB peak
# RSS here, the serial collector at 525 MiB, no slower (the live heap of three contexts is
# ~135 MiB; G1's regions, remembered sets and eager heap growth are the difference).
# Hazelcast (the cluster, dev.polypool.cluster) reaches these JDK internals for its I/O and
# metrics; without them it warns at every start and takes slower paths.
hazelcast_flags=(
    --add-exports java.base/jdk.internal.ref=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.management/sun.management=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
)
jvm_flags=(
    -XX:+UnlockExperimentalVMOptions -XX:+EnableJVMCI -XX:TieredStopAtLevel=1 -XX:+UseSerialGC
    --upgrade-module-path="$here/target/jit"
    --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow
    -Xss8m -Xlog:disable -Xlog:all=warning:stderr
    "${hazelcast_flags[@]}"
)
# -Xmn32m, for a program in a JVM of its own (serial collector; not the server's G1): the
# young generation is otherwise a third of an initial heap of 1/64 of RAM (~120 MiB here),
# every page of which a busy program touches. Measured here (load 18-26, one run each,
# alternated): a Pool(2) imap script peaked at 454 MiB against 520-537 (with the AOT
# cache, which still loads: 450 against 520), the two-line script at 346-357 against
# 415-432, its CPU time 10.0-10.4 s against 9.5-10.1 s.
inprocess_flags=(-Xmn32m)
