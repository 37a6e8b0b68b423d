#!/usr/bin/python3
"""summary.py - the figures of issues 6 and 20 from one `make bench` run: reads
bench/results/step.json (zoq), mezo.json (the MeZO loop in PyTorch),
lora_batch.json, rng.json (this build's RNG contract against contract 1) and dtype.json (16-bit
steps against f32), prints `name value unit` lines (speedup_vs_mezo, thread
speedups, the acceptance checks), writes bench/results/summary.json, the
table bench/results/step.md and the plot bench/results/ns_per_param.svg
(ns/param/step against parameter count; Debian's python3-matplotlib).
"""
import json
import os
import platform
import subprocess

RES = "bench/results"


def load(name):
    path = os.path.join(RES, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    step = load("step.json")
    mezo = load("mezo.json")
    lora = load("lora_batch.json")
    capped = [r for r in step["results"] if r.get("isa", "best") != "best"]
    step["results"] = [r for r in step["results"] if r.get("isa", "best") == "best"]
    zoq = {}
    for r in step["results"]:
        zoq[(r["mode"], r["numel"], r["dtype"], r["dist"], r["queries"], r["threads"])] = r
    out = {}

    def emit(name, value, unit):
        print(f"{name} {value:.2f} {unit}")
        out[name] = {"value": round(value, 4), "unit": unit}

    big = max(r["numel"] for r in step["results"])
    if mezo:
        for m in mezo["results"]:
            z = zoq.get(("run", m["numel"], "f32", "gaussian", 1, m["threads"]))
            if z:
                tag = m["name"][len("mezo_torch_"):]
                emit(f"speedup_vs_mezo_{tag}", m["ns_per_param"] / z["ns_per_param"], "x")
                if m.get("cpu_ns_per_param") and z.get("cpu_ns_per_param"):
                    emit(f"speedup_vs_mezo_{tag}_cpu",
                         m["cpu_ns_per_param"] / z["cpu_ns_per_param"], "x")
    for mode in ("run", "step"):
        for dist in ("gaussian", "rademacher"):
            for q in (1, 4):
                a = zoq.get((mode, big, "f32", dist, q, 1))
                b = zoq.get((mode, big, "f32", dist, q, 2))
                if a and b:
                    emit(f"thread_speedup_zoq_{mode}_{big:.0e}_f32_n{q}_{dist}".replace("+0", ""),
                         a["ns_per_param"] / b["ns_per_param"], "x")
    # the same step on a capped instruction set (step_bench's ZOQ_CPU_ISA rows)
    for c in capped:
        r = zoq.get((c["mode"], c["numel"], c["dtype"], c["dist"], c["queries"], c["threads"]))
        if r:
            emit(f"speedup_over_{c['isa']}_{c['name'][:-len(c['isa']) - 1]}",
                 c["ns_per_param"] / r["ns_per_param"], "x")
    # acceptance of issue 6 (bound ratios at the largest size, n = 1, 1 thread)
    checks = []
    for dist, limit in (("gaussian", 3.0), ("rademacher", 2.0)):
        r = zoq.get(("run", big, "f32", dist, 1, 1))
        if r:
            checks.append((f"bound_ratio {dist} n=1 1 thread <= {limit}", r["bound_ratio"],
                           r["bound_ratio"] <= limit))
            if r.get("pass_cpu_ns_per_param"):  # the same in CPU time (see step_bench.c)
                ratio = r["cpu_ns_per_param"] / r["pass_cpu_ns_per_param"]
                checks.append((f"bound_ratio {dist} n=1 1 thread <= {limit}, CPU time", ratio,
                               ratio <= limit))
    s = out.get(f"speedup_vs_mezo_{big:.0e}_f32_central_n1_gaussian_t1".replace("+0", ""))
    if s:
        checks.append(("speedup_vs_mezo >= 20", s["value"], s["value"] >= 20))
    t = out.get(f"thread_speedup_zoq_run_{big:.0e}_f32_n1_gaussian".replace("+0", ""))
    if t:
        checks.append(("2 threads >= 1.6x 1 thread", t["value"], t["value"] >= 1.6))
    checks += rng_contract(emit)
    checks += dtype_ratios(emit)
    if lora:
        for r in lora["results"]:
            if r["queries"] == 4 and r["rows_per_point"] == 8:
                checks.append(("batched evaluation >= 2x at n=4", r["speedup"],
                               r["speedup"] >= 2.0))
    for what, value, ok in checks:
        print(f"# acceptance: {what}: {value:.2f} {'PASS' if ok else 'FAIL'}")
    load_avg = os.getloadavg()[0]
    meta = {"machine": cpu_model(), "cores": os.cpu_count(), "load_1min": load_avg,
            "kernel": platform.release()}
    with open(os.path.join(RES, "summary.json"), "w") as f:
        json.dump({"meta": meta, "figures": out,
                   "acceptance": [{"check": c, "value": round(v, 3), "pass": ok}
                                  for c, v, ok in checks]}, f, indent=1)
        f.write("\n")
    write_table(step, mezo, meta)
    plot(step, mezo)


def rng_contract(emit):
    """Issue 20: this build's Gaussian generator (the newest RNG contract in the file) against
    contract 1's, timed in one process by rng_bench (bench/results/rng.json, one JSON object per
    line; later lines replace earlier ones), per instruction set."""
    path = os.path.join(RES, "rng.json")
    if not os.path.exists(path):
        return []
    rows = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            rows[(r["contract"], r["isa"], r["what"])] = r
    checks = []
    new = max(c for c, _, _ in rows)
    for (c, isa, what), r in sorted(rows.items()):
        old = rows.get((1, isa, what))
        if c != new or new == 1 or not old:
            continue
        ratio = old["median"] / r["median"]
        emit(f"rng_contract{new}_speedup_{what}_{isa}", ratio, "x")
        if what in ("fill", "axpy", "run_t1"):
            checks.append((f"Gaussian {what} ({isa}) >= 2x RNG contract 1, same run", ratio,
                           ratio >= 2.0))
    return checks


def dtype_ratios(emit):
    """Issue 20: the f16 and bf16 Rademacher steps (zoq_run, n = 1, 1 thread) over the f32 one,
    timed interleaved in one process by step_bench (bench/results/dtype.json, one JSON object
    per line), in wall time and in the thread's CPU time."""
    path = os.path.join(RES, "dtype.json")
    if not os.path.exists(path):
        return []
    checks = []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            size = f"{r['numel']:.0e}".replace("e+0", "e")
            for clock, key in (("", "ns_per_param"), ("_cpu", "cpu_ns_per_param")):
                ratio = r[key] / r["f32_" + key]
                emit(f"{r['dtype']}_over_f32_zoq_run_{size}_rademacher_t1{clock}", ratio, "x")
                checks.append((f"{r['dtype']} Rademacher step <= 1.2x f32 at {size}"
                               f"{', CPU time' if clock else ''}, same run", ratio, ratio <= 1.2))
    return checks


def cpu_cells(run, stp):
    if not run.get("cpu_ns_per_param"):
        return ""
    p = run["pass_cpu_ns_per_param"]
    return (f"{p:.3f}, {stp['cpu_ns_per_param']:.3f}, {run['cpu_ns_per_param']:.3f}, "
            f"{run['cpu_ns_per_param'] / p:.2f}")


def write_table(step, mezo, meta):
    rows = ["| parameters | dtype | z | n | threads | plain pass ns/param | zoq_step ns/param "
            "(passes) | zoq_run ns/param (passes) | zoq_run / pass | the same in thread CPU "
            "time (1 thread): pass, zoq_step, zoq_run, zoq_run / pass |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    runs = [r for r in step["results"] if r["mode"] == "run"]
    for r in runs:
        s = next(x for x in step["results"] if x["mode"] == "step" and
                 all(x[k] == r[k] for k in ("numel", "dtype", "dist", "queries", "threads")))
        rows.append(f"| {r['numel']:.0e} | {r['dtype']} | {r['dist']} | {r['queries']} | "
                    f"{r['threads']} | {r['pass_ns_per_param']:.3f} | {s['ns_per_param']:.3f} "
                    f"({s['passes']}) | {r['ns_per_param']:.3f} ({r['passes']}) | "
                    f"{r['bound_ratio']:.2f} | {cpu_cells(r, s)} |".replace("e+0", "e"))
    if mezo:
        rows += ["", "| parameters | threads | MeZO loop in PyTorch ns/param/step (4 passes) "
                 "| the same in thread CPU time |", "|---|---|---|---|"]
        for m in mezo["results"]:
            c = m.get("cpu_ns_per_param")
            rows.append(f"| {m['numel']:.0e} | {m['threads']} | {m['ns_per_param']:.3f} | "
                        f"{'' if c is None else f'{c:.3f}'} |".replace("e+0", "e"))
    head = (f"Machine: {meta['machine']}, {meta['cores']} cores, load {meta['load_1min']:.2f} "
            f"at the end of the run; one `make bench` run, medians of {step['reps']}.\n\n")
    with open(os.path.join(RES, "step.md"), "w") as f:
        f.write(head + "\n".join(rows) + "\n")


def plot(step, mezo):
    try:
        import matplotlib
        matplotlib.use("svg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("# summary: no matplotlib (python3-matplotlib): plot skipped")
        return
    matplotlib.rcParams["svg.hashsalt"] = "zoq"  # stable ids: diffs show data changes only
    fig, ax = plt.subplots(figsize=(7, 4.5))
    f32 = [r for r in step["results"] if r["dtype"] == "f32" and r["queries"] == 1 and
           r["threads"] == 1]

    # thread CPU time where every point has it: on a shared machine wall time
    # measures the other processes (step_bench.c); on a quiet one they agree
    cpu = all(r.get("cpu_ns_per_param") for r in f32) and (
        not mezo or all(r.get("cpu_ns_per_param") for r in mezo["results"] if r["threads"] == 1))
    key = "cpu_ns_per_param" if cpu else "ns_per_param"
    pass_key = "pass_cpu_ns_per_param" if cpu else "pass_ns_per_param"

    def series(mode, dist):
        pts = sorted((r["numel"], r[key]) for r in f32 if r["mode"] == mode and r["dist"] == dist)
        return [p[0] for p in pts], [p[1] for p in pts]

    for mode, dist, style in (("run", "gaussian", "o-"), ("step", "gaussian", "o--"),
                              ("run", "rademacher", "s-"), ("step", "rademacher", "s--")):
        x, y = series(mode, dist)
        ax.plot(x, y, style, label=f"zoq_{mode}, {dist}")
    passes = sorted({(r["numel"], r[pass_key]) for r in f32})
    ax.plot([p[0] for p in passes], [p[1] for p in passes], "k:", label="one plain read-write pass")
    if mezo:
        m = sorted((r["numel"], r[key]) for r in mezo["results"] if r["threads"] == 1)
        ax.plot([p[0] for p in m], [p[1] for p in m], "^-", label="MeZO loop, PyTorch")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters (f32)")
    ax.set_ylabel("ns per parameter per step" + (" (thread CPU time)" if cpu else ""))
    ax.set_title("Central SPSA n = 1, 1 thread: parameter-side cost")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(RES, "ns_per_param.svg"), metadata={"Date": None})


if __name__ == "__main__":
    main()
