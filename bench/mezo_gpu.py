"""The MeZO loop as published (Malladi et al. 2023, arXiv:2305.17333, the
reference trainer's zo_perturb_parameters / zo_step / zo_update): for each
step, torch.manual_seed(s) and torch.normal per parameter tensor in each of
four walks over the weights (+eps, -2eps, +eps back, then the update with z
regenerated), the loss a constant so that only the parameter side is timed.
Runs on the GPU; prints `mezo_step_s SECONDS` (median of REPS steps after a
warm-up), or explains why it cannot and exits 0.
Usage: python3 bench/mezo_gpu.py NUMEL REPS"""
import statistics
import sys
import time


def main():
    numel, reps = int(sys.argv[1]), int(sys.argv[2])
    try:
        import torch
    except ImportError:
        print("mezo_gpu: no torch")
        return
    if not torch.cuda.is_available():
        print("mezo_gpu: torch %s has no CUDA device" % torch.__version__)
        return
    dev = torch.device("cuda")
    # like a model: tensors of 10^6 elements (the last one the remainder)
    sizes = [10**6] * (numel // 10**6) + ([numel % 10**6] if numel % 10**6 else [])
    params = [torch.zeros(s, device=dev) for s in sizes]
    eps, lr = 1e-3, 1e-9

    def perturb(seed, scale):
        torch.manual_seed(seed)
        for p in params:
            z = torch.normal(mean=0, std=1, size=p.size(), device=p.device, dtype=p.dtype)
            p.data = p.data + scale * z * eps

    def step(seed):
        perturb(seed, 1)
        loss1 = 1.0
        perturb(seed, -2)
        loss2 = 1.0
        g = (loss1 - loss2) / (2 * eps)
        perturb(seed, 1)
        torch.manual_seed(seed)
        for p in params:
            z = torch.normal(mean=0, std=1, size=p.size(), device=p.device, dtype=p.dtype)
            p.data = p.data - lr * g * z

    times = []
    for k in range(reps + 1):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        step(k)
        torch.cuda.synchronize()
        if k:
            times.append(time.perf_counter() - t0)
    print("mezo_step_s %.6e" % statistics.median(times))


if __name__ == "__main__":
    main()
