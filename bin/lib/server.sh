# The resident engine (dev.polypool.server.Server), for bin/polypool. Sourced after
# common.sh's choose_jvm; expects $here, $jar, $java and $run_flags.
#
# One server per user and build: its directory, server-<key> under $POLYPOOL_SERVER_ROOT
# (else $XDG_RUNTIME_DIR/polypool, else the cache directory), is named after a hash of the
# jar, the dependencies, the JVM and its flags, so a new build or JDK starts a new server
# (which retires the old one). bin/lib/client.c, compiled at first use with cc, is the
# client; without a C compiler polypool runs in-process.

server_client="$here/target/polypool-client"

# Compiles the client when missing or older than its source; fails without a C compiler.
ensure_client() {
    [ -x "$server_client" ] && [ "$server_client" -nt "$here/bin/lib/client.c" ] && return 0
    command -v cc >/dev/null 2>&1 || return 1
    mkdir -p "$here/target"
    cc -O2 -o "$server_client.tmp.$$" "$here/bin/lib/client.c" && mv "$server_client.tmp.$$" "$server_client"
}

server_root() {
    if [ -n "${POLYPOOL_SERVER_ROOT:-}" ]; then
        echo "$POLYPOOL_SERVER_ROOT"
    elif [ -n "${XDG_RUNTIME_DIR:-}" ] && [ -d "$XDG_RUNTIME_DIR" ] && [ -w "$XDG_RUNTIME_DIR" ]; then
        echo "$XDG_RUNTIME_DIR/polypool"
    elif [ -n "${POLYPOOL_CACHE:-}" ]; then
        echo "$POLYPOOL_CACHE"
    else
        echo "${XDG_CACHE_HOME:-$HOME/.cache}/polypool"
    fi
}

# Sets $server_dir and $server_cmd (how the client starts the server).
server_setup() {
    local key root
    # POLYPOOL_JVM_OPTS is part of the key: a server runs with the options it started with
    key="$({ sha256sum "$jar"; stat -c '%n %s %Y' "$here"/target/lib/*.jar; echo "$java ${run_flags[*]} ${POLYPOOL_JVM_OPTS:-} $(sha256sum <"$here/bin/lib/server.sh")"; } |
        sha256sum | cut -c1-16)"
    root="$(server_root)"
    mkdir -p "$root"
    server_dir="$root/server-$key"
    # G1 rather than run_flags' serial collector, with G1PeriodicGCInterval: a server between
    # runs collects and gives memory back to the system within a minute; G1 otherwise keeps
    # the heap it grew to (GBs after a few runs)
    # CompilerThreads=2: every run imports the same modules again, so a server's engine
    # compiles module bodies, one of them for 41 s (and then fails: code too large); with
    # Truffle's one compiler thread on 2 cores that held back the program's own hot code (a
    # warm server's examples/primes.py ran 26 s interpreted, 7 s with a second thread)
    # -XX:TieredStopAtLevel=4 (host C2, after run_flags' C1-only): a server's start-up counts
    # once, and GraalPy's interpreter, which runs a new script's code until Graal compiles it,
    # runs faster once C2 has compiled it. Measured on an idle machine, two new servers each
    # way: a new script's first CPU-heavy batch (cpu_heavy_first) 0.73-2.64 s (median 1.5)
    # against 1.17-4.45 s (median 2.8) with C1 (CPython 1.4-1.5 s); the first heavy run of a
    # young server slower (primes 8.3 and 19.6 s against 5.0 and 9.1 s), repeats alike
    # shellcheck disable=SC2206
    server_cmd=("$java" "${run_flags[@]}" -XX:-UseSerialGC -XX:+UseG1GC -XX:G1PeriodicGCInterval=60000
        -XX:TieredStopAtLevel=4 -Dpolyglot.engine.CompilerThreads=2 ${POLYPOOL_JVM_OPTS:-}
        dev.polypool.server.Server "$server_dir")
}

# bin/polypool --server status|stop|start. stop and status cover this user's servers of
# every build under the root; start is this build's.
server_control() {
    local what="${1:-}" d rc=0 found=
    case "$what" in
        start) exec "$server_client" "$server_dir" "${#server_cmd[@]}" "${server_cmd[@]}" --server start ;;
        status | stop)
            for d in "$(dirname "$server_dir")"/server-*; do
                [ -S "$d/socket" ] || continue
                "$server_client" "$d" "${#server_cmd[@]}" "${server_cmd[@]}" --server "$what" && found=1 || rc=$?
                [ "$rc" -eq 3 ] && rc=0 # a socket left by a server that was killed
            done
            if [ -z "$found" ]; then
                echo "polypool server: not running ($(dirname "$server_dir"))"
                [ "$what" = stop ] || rc=3
            fi
            return $rc ;;
        *) echo "usage: polypool --server status|stop|start" >&2; return 2 ;;
    esac
}
