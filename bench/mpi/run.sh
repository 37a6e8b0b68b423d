#!/bin/sh
# bench/mpi/run.sh BENCH OUT.json - libzoq-mpi's figures (make bench-mpi):
# steps/s at 1, 2, 4 ranks for the GEMM and the sleeping objective
# (bench/mpi/scaling.c), and bytes per step per rank at 10^4 and 10^7
# parameters. Records the machine's cores and load average next to them:
# the GEMM rows only mean something on cores nobody else is using.
set -eu
bench=$1
out=$2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
export OMPI_MCA_btl=self,vader
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
for cost in gemm sleep; do
    for np in 1 2 4; do
        mpirun --oversubscribe -np "$np" "$bench" --cost "$cost" --steps 30 </dev/null >>"$rows"
    done
done
for np in 1 2 4; do
    for params in 10000 10000000; do
        mpirun --oversubscribe -np "$np" "$bench" --cost sleep --steps 3 --params "$params" \
            </dev/null >>"$rows"
    done
done
python3 - "$rows" "$out" <<'PY'
import json, os, sys, time
rows = [json.loads(line) for line in open(sys.argv[1])]
def rate(cost, ranks):
    return next(r["steps_per_s"] for r in rows if r["cost"] == cost and r["ranks"] == ranks
                and r["params"] == 10000 and r["steps"] == 30)
doc = {"what": "libzoq-mpi query-parallel, n = 4 central (8 points a step), "
               "zoq_mpi_step_inplace; bench/mpi/scaling.c",
       "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
       "cores": os.cpu_count(), "load_average_1_5_15": list(os.getloadavg()),
       "speedup": {c: {str(n): round(rate(c, n) / rate(c, 1), 2) for n in (2, 4)}
                   for c in ("gemm", "sleep")},
       "rows": rows}
json.dump(doc, open(sys.argv[2], "w"), indent=1)
print(json.dumps(doc["speedup"]), "load", doc["load_average_1_5_15"])
PY
