#!/bin/sh
# tools/ab_step.sh REV_A REV_B [ROUNDS] - is REV_B's zoq_step as fast as REV_A's?
# Builds libzoq of both revisions in temporary worktrees, then for each
# technique mix (SGD, momentum, Adam, HiZOO, random sparsity) on 2^22 f32
# parameters, 1 thread: ROUNDS (default 15) interleaved A B B A timings of
# tools/ab_step.c (CPU time, median of 9 rounds of 4 steps each), pinned to
# the last core, and the instruction count of each under cachegrind (4 steps
# of 2^18, the AVX2 path: valgrind runs no AVX-512), which does not depend on
# the machine's load. Prints per mix the median B/A of the times and B/A of
# the instructions. Used for the "step times within 3 %" check of a refactor.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 REV_A REV_B [ROUNDS]" >&2; exit 2; }
cd "$(dirname "$0")/.."
repo=$PWD
rounds=${3:-15}
tmp=$(mktemp -d)
trap 'for r in a b; do git -C "$repo" worktree remove --force "$tmp/$r" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
core=$(($(nproc) - 1))
for r in a b; do
    rev=$1; [ $r = b ] && rev=$2
    git worktree add -q --detach "$tmp/$r" "$rev"
    make -C "$tmp/$r" -s -j"$(nproc)" lib >/dev/null
    ${CC:-cc} -O2 -I"$tmp/$r/include" tools/ab_step.c -o "$tmp/step_$r" \
        -L"$tmp/$r/build" -lzoq -Wl,-rpath,"$tmp/$r/build"
done
mixes="sgd momentum adam hizoo sparse"
for i in $(seq "$rounds"); do
    for m in $mixes; do
        for r in a b b a; do
            echo "$r $(taskset -c "$core" "$tmp/step_$r" "$m")"
        done
    done
done > "$tmp/times"
for m in $mixes; do
    for r in a b; do
        ZOQ_CPU_ISA=avx2 valgrind --tool=cachegrind --cache-sim=no \
            --cachegrind-out-file=/dev/null "$tmp/step_$r" "$m" 262144 1 2>&1 |
            awk -v r=$r -v m=$m '/I *refs/ { gsub(",", "", $4); print r, m, $4 }'
    done
done > "$tmp/instr"
python3 - "$tmp/times" "$tmp/instr" "$1" "$2" <<'PY'
import statistics, sys
from collections import defaultdict
t = defaultdict(lambda: defaultdict(list))
for line in open(sys.argv[1]):
    r, m, v = line.split()
    t[m][r].append(float(v))
ir = {(r, m): int(v) for r, m, v in (l.split() for l in open(sys.argv[2]))}
print(f"A = {sys.argv[3]}, B = {sys.argv[4]}; ns/param/step, CPU time, medians")
print(f"{'mix':9} {'A':>8} {'B':>8} {'B/A time':>9} {'B/A instr':>10}")
for m, by in t.items():
    a, b = statistics.median(by['a']), statistics.median(by['b'])
    print(f"{m:9} {a:8.3f} {b:8.3f} {b / a:9.3f} {ir['b', m] / ir['a', m]:10.4f}")
PY
