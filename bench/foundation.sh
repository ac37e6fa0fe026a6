#!/usr/bin/env bash
# Foundation figures side by side: CPython (python3, fork) and polypool, same scripts.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
runs="${1:-3}"
bin/polypool -c pass >/dev/null   # build first, so no build is timed
cold() {  # best wall time of $runs runs of "$@"
    local best=999 t out
    out="$(mktemp)"
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%e" -o "$out" "$@" >/dev/null 2>&1
        t="$(tail -1 "$out")"
        best=$(python3 -c "print(min($best, $t))")
    done
    rm -f "$out"
    echo "$best"
}
echo "cold two-line Pool script (best of $runs): python3 $(cold python3 bench/two_line_pool.py) s, polypool $(cold bin/polypool bench/two_line_pool.py) s"
echo "--- python3 $(python3 -c 'import sys; print(sys.version.split()[0])')"
python3 bench/foundation.py "$runs"
echo "--- polypool"
bin/polypool bench/foundation.py "$runs"
