#!/usr/bin/env bash
# Memory of the resident engine over many runs: runs a Pool script N times (default 200)
# through one server and prints, every 20 runs, the server's RSS and its live heap (after
# a full GC: what the runs left behind).
#   bench/server-soak.sh [N] [SCRIPT]
# The server runs in a directory of its own (a temporary POLYPOOL_SERVER_ROOT) and is
# stopped at the end.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
n="${1:-200}"
script="${2:-$here/bench/workloads/cold_two_line.py}"
export POLYPOOL_SERVER=1 POLYPOOL_SERVER_ROOT
POLYPOOL_SERVER_ROOT="$(mktemp -d "${TMPDIR:-/tmp}/polypool-soak.XXXXXX")"
trap '"$here/bin/polypool" --server stop >/dev/null; rm -rf "$POLYPOOL_SERVER_ROOT"' EXIT
pid() { cat "$POLYPOOL_SERVER_ROOT"/server-*/pid; }
rss() { awk '/^VmRSS/ {printf "%d", $2 / 1024}' "/proc/$(pid)/status"; }
. "$here/bin/lib/common.sh"
require_jdk
jcmd="$jdk/bin/jcmd"
live() {
    "$jcmd" "$(pid)" GC.run >/dev/null
    "$jcmd" "$(pid)" GC.heap_info | sed -n 's/.* used \([0-9]*\)K.*/\1/p' | head -1 | awk '{printf "%d", $1 / 1024}'
}
for i in $(seq "$n"); do
    "$here/bin/polypool" "$script" >/dev/null
    if [ $((i % 20)) -eq 0 ] || [ "$i" -eq 1 ]; then
        echo "run $i: server RSS $(rss) MiB, live heap after GC $(live) MiB"
    fi
done
