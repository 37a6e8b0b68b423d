#!/bin/sh
# tests/mpi/example.sh EXAMPLE DIGITS - examples/mpi on 1 and 4 ranks, 300
# steps: query-parallel on 4 ranks ends with the 1-rank digest; data-parallel
# on 4 ranks learns (held-out accuracy above 0.6; chance is 0.1; 0.79 at this length).
set -eu
ex=$1
data=$2
one=$(mpirun --oversubscribe -np 1 "$ex" --mode query --steps 300 --data "$data" </dev/null)
four=$(mpirun --oversubscribe -np 4 "$ex" --mode query --steps 300 --data "$data" </dev/null)
dp=$(mpirun --oversubscribe -np 4 "$ex" --mode data --steps 300 --data "$data" </dev/null)
printf '%s\n%s\n%s\n' "$one" "$four" "$dp"
d1=$(echo "$one" | sed -n 's/^digest //p')
d4=$(echo "$four" | sed -n 's/^digest //p')
[ -n "$d1" ] && [ "$d1" = "$d4" ] || { echo "query-parallel digest $d4 != one rank's $d1"; exit 1; }
echo "$dp" | awk '/accuracy/ { ok = $NF > 0.6 } END { exit ok ? 0 : 1 }' ||
    { echo "data-parallel run did not learn"; exit 1; }
