#!/bin/sh
# tests/valgrind.sh TEST_BINARY... - every Criterion suite under valgrind's
# memcheck with leak checking. Criterion runs each test in a child process,
# so valgrind follows children and writes one log per process; with --quiet
# a log says something only when there is an error or a leak.
set -u
failed=0
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
for t in "$@"; do
    name=$(basename "$t")
    mkdir -p "$logs/$name"
    valgrind --quiet --trace-children=yes --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
        --log-file="$logs/$name/%p.log" "$t" --jobs 2 >"$logs/$name.out" 2>&1
    rc=$?
    bad=$(find "$logs/$name" -name '*.log' -size +0 | head -n 5)
    if [ "$rc" -ne 0 ] || [ -n "$bad" ]; then
        echo "[FAIL] valgrind $name (exit $rc)"
        tail -n 5 "$logs/$name.out"
        for f in $bad; do head -n 40 "$f"; done
        failed=$((failed + 1))
    else
        echo "[PASS] valgrind $name: $(grep Synthesis "$logs/$name.out" | sed 's/.*Synthesis: //')"
    fi
done
echo "valgrind: $(($# - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
