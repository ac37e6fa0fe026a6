# Shared by bench/java-*.sh: builds polypool, compiles one benchmark class of bench/java and
# runs it with polypool's JVM flags. Usage: java_bench CLASS [ARGS...]
java_bench() {
    local class="$1"
    shift
    . "$here/bin/lib/common.sh"
    cd "$here"
    require_jdk
    require_maven
    JAVA_HOME="$jdk" mvn -q -B -ntp -DskipTests package 1>&2
    mkdir -p "$here/target/bench"
    "$jdk/bin/javac" -d "$here/target/bench" -cp "$here/target/polypool.jar:$here/target/lib/*" \
        "$here/bench/java/$class.java"
    exec "$jdk/bin/java" "${jvm_flags[@]}" -cp "$here/target/bench:$here/target/polypool.jar:$here/target/lib/*" \
        "$class" "$@"
}
