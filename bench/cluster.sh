#!/usr/bin/env bash
# bench/cluster.sh: a pool on a cluster of two members (one worker each, on this machine's
# loopback) against a local Pool(2) on polypool and CPython's Pool(2), in one run:
#   - bench/workloads/cpu_heavy.py: 8 CPU-heavy tasks on Pool(2), first and best later batch
#   - bench/workloads/cluster_tasks.py: the per-task cost of a round trip (chunksize=1, apply)
# Prints the figures with the load average. BENCH_QUICK=1 for small sizes.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$here"
polypool="$here/bin/polypool"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/polypool-bench-cluster.XXXXXX")"
members=()
cleanup() {
    for pid in "${members[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${members[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

export POLYPOOL_CLUSTER_NAME="bench-$$"
export POLYPOOL_CLUSTER_SECRET="bench-$$-$RANDOM$RANDOM"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_listening() {  # wait_listening LOG: until the member says it listens (300 s at most)
    for _ in $(seq 3000); do
        grep -q "listening on" "$1" && return 0
        sleep 0.1
    done
    echo "bench/cluster.sh: a member did not start:" >&2; cat "$1" >&2; exit 1
}
p1="$(port)"; p2="$(port)"
"$polypool" --member --listen "127.0.0.1:$p1" --workers 1 2>"$tmp/m1.log" & members+=($!)
wait_listening "$tmp/m1.log"
"$polypool" --member --listen "127.0.0.1:$p2" --join "127.0.0.1:$p1" --workers 1 2>"$tmp/m2.log" & members+=($!)
wait_listening "$tmp/m2.log"

run() {  # run LABEL COMMAND...: the BENCH lines of one run, labelled
    local label="$1"; shift
    "$@" 2>"$tmp/err" | sed -n "s/^BENCH /$label /p" || { cat "$tmp/err" >&2; exit 1; }
}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for w in cpu_heavy cluster_tasks; do
    run "cluster(2x1)" env POLYPOOL_CLUSTER="127.0.0.1:$p1" "$polypool" "bench/workloads/$w.py"
    run "polypool-local" "$polypool" "bench/workloads/$w.py"
    run "cpython" python3 "bench/workloads/$w.py"
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
