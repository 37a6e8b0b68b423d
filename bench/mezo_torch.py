#!/usr/bin/python3
"""mezo_torch.py - the MeZO step as published (Malladi et al. 2023,
arXiv:2305.17333, Algorithm 1 and the reference trainer's
zo_perturb_parameters / zo_update): per parameter tensor, torch.manual_seed
then torch.normal for z, four passes a step (+eps z, -2 eps z, +eps z, the
update theta -= lr * (g z + wd theta)), on CPU with Debian's python3-torch.
The objective is a constant, as in bench/step_bench.c, so only the
parameter-side work is timed. Medians of `reps` steps after one warm step;
with one thread also the thread's CPU time (`_cpu`), as step_bench does.

Usage: /usr/bin/python3 bench/mezo_torch.py [max_numel] [reps]; prints
`name value unit` lines and writes bench/results/mezo.json. ZOQ_BENCH_MAX
caps max_numel as in step_bench.
"""
import json
import os
import statistics
import sys
import time

import torch

TENSOR = 1 << 22  # elements per parameter tensor: a 2048 x 2048 matrix


def make_params(numel):
    sizes = [TENSOR] * (numel // TENSOR) + ([numel % TENSOR] if numel % TENSOR else [])
    return [torch.zeros(s, dtype=torch.float32) for s in sizes]


def perturb(params, seed, scale, eps):
    torch.manual_seed(seed)
    for p in params:
        z = torch.normal(mean=0, std=1, size=p.data.size(), dtype=p.data.dtype)
        p.data = p.data + scale * z * eps


def update(params, seed, lr, g, wd):
    torch.manual_seed(seed)
    for p in params:
        z = torch.normal(mean=0, std=1, size=p.data.size(), dtype=p.data.dtype)
        p.data = p.data - lr * (g * z + wd * p.data)


def mezo_step(params, step, eps=1e-3, lr=1e-6, wd=1e-4):
    seed = 1000 + step
    perturb(params, seed, 1, eps)
    loss_plus = 1.0
    perturb(params, seed, -2, eps)
    loss_minus = 1.0
    perturb(params, seed, 1, eps)
    g = (loss_plus - loss_minus) / (2 * eps)
    update(params, seed, lr, g, wd)


def measure(numel, threads, reps):
    torch.set_num_threads(threads)
    params = make_params(numel)
    mezo_step(params, 0)
    times, cpu = [], []
    for r in range(reps):
        t0, c0 = time.perf_counter(), time.thread_time()
        mezo_step(params, r + 1)
        times.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    return statistics.median(times), statistics.median(cpu)


def size_name(n):
    e = 0
    while n >= 10 and n % 10 == 0:
        n //= 10
        e += 1
    return f"1e{e}" if n == 1 else str(n)


def main():
    top = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000_000
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    cap = int(os.environ.get("ZOQ_BENCH_MAX", "0") or 0)
    if 0 < cap < top:
        top = cap
    sizes = [n for n in (100_000, 1_000_000, 10_000_000) if n < top] + [top]
    results = []
    for n in sizes:
        for threads in (1, 2) if n >= min(top, 10_000_000) else (1,):
            s, c = measure(n, threads, reps)
            name = f"mezo_torch_{size_name(n)}_f32_central_n1_gaussian_t{threads}"
            ns = 1e9 * s / n
            print(f"{name} {ns:.3f} ns/param", flush=True)
            r = {"name": name, "numel": n, "threads": threads, "ns_per_param": round(ns, 4),
                 "passes": 4}
            if threads == 1:  # all of it on this thread: its CPU time (see step_bench.c)
                r["cpu_ns_per_param"] = round(1e9 * c / n, 4)
                print(f"{name}_cpu {r['cpu_ns_per_param']:.3f} ns/param", flush=True)
            results.append(r)
    with open("bench/results/mezo.json", "w") as f:
        json.dump({"torch": torch.__version__, "reps": reps, "tensor_numel": TENSOR,
                   "results": results}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
