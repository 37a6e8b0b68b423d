#!/usr/bin/env python3
"""Fits the polynomials of RNG contract 3's Box-Muller transform (docs/rng.md section 4).

Near-minimax fits (Lawson's iteratively reweighted least squares on Chebyshev nodes, binary64),
each coefficient then rounded to binary32, and the error of the binary32 evaluation measured:

    P(x) ~ -2 ln(1 + x) / x      x in [sqrt(1/2) - 1, sqrt(2) - 1], P(0) = -2 fixed, degree 6
    sin t ~ t + t z (S3 + z (S5 + z S7))           z = t^2, t in [-pi/4, pi/4]
    cos t ~ 1 + z (C2 + z (C4 + z C6))

The printed decimals are the shortest strings that round-trip to the binary32 coefficient; they
are the constants of docs/rng.md, lib/rng/gauss.h, lib/rng/noise_simd.h and
tests/kat/gen_rng_kat.py. Run: python3 tools/rng_poly.py   (numpy only)
"""
import numpy as np


def lawson(f, powers, lo, hi, n=6000, iters=400):
    """Coefficients of sum c_k x^powers[k] close to minimax for f on [lo, hi], and the max error."""
    x = 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    A = np.stack([x ** k for k in powers], 1)
    y, w = f(x), np.full(n, 1.0 / n)
    for _ in range(iters):
        s = np.sqrt(w)
        c = np.linalg.lstsq(A * s[:, None], y * s, rcond=None)[0]
        e = np.abs(A @ c - y)
        w = w * e
        w /= w.sum()
    return c, np.abs(A @ c - y).max()


def f32(c):
    return [np.float32(v) for v in c]


def fma32(a, b, c):
    """binary32 fma of float32 arrays, through binary64 (exact product; a double rounding of the
    sum is possible but moves an error estimate by at most half an ulp)."""
    return (a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64)).astype(np.float32)


def main():
    lo, hi = np.sqrt(0.5) - 1, np.sqrt(2.0) - 1
    # P(x) = -2 + L1 x + ... + L6 x^6: fit P + 2 = -2 ln(1+x)/x + 2 in powers 1..6
    g = lambda x: -2 * np.log1p(x) / x + 2  # noqa: E731
    rc, _ = lawson(g, range(1, 7), lo, hi)
    L = f32(rc)                                   # L1 .. L6
    pio4 = np.float32(np.pi / 4)
    hs = lambda z: (np.sin(np.sqrt(z)) / np.sqrt(z) - 1) / z  # noqa: E731
    hc = lambda z: (np.cos(np.sqrt(z)) - 1) / z               # noqa: E731
    zmax = float(pio4) ** 2 * (1 + 1e-6)
    S, _ = lawson(hs, range(3), 1e-12, zmax)
    C, _ = lawson(hc, range(3), 1e-12, zmax)
    S, C = f32(S), f32(C)
    for name, cs in (("L1..L6", L), ("S3, S5, S7", S), ("C2, C4, C6", C)):
        print(name + ":", ", ".join(np.format_float_scientific(v, unique=True, trim="-")
                                    for v in cs))

    # error of the binary32 evaluation, as the contract writes it
    x = (np.arange(0, 1 << 23, dtype=np.uint32) + np.uint32(0x3F3504F3)).view(np.float32)
    x = x[x < np.float32(np.sqrt(2.0))] - np.float32(1)      # every m in [sqrt(1/2), sqrt 2)
    p = np.full_like(x, L[5])
    for k in (4, 3, 2, 1, 0):
        p = fma32(p, x, np.full_like(x, L[k]))
    p = fma32(p, x, np.full_like(x, np.float32(-2)))
    q = (x * p).astype(np.float64)
    ref = -2 * np.log1p(x.astype(np.float64))
    nz = x != 0
    print("LOG part: max relative error of -2 ln(1+x) = %.2e over all %d mantissas"
          % (np.max(np.abs(q[nz] - ref[nz]) / np.abs(ref[nz])), x.size))
    t = (np.arange(-(1 << 20), (1 << 20) + 1, dtype=np.float64) * (np.pi / 4 / (1 << 20))).astype(
        np.float32)
    z = t * t
    s = fma32(fma32(fma32(np.full_like(z, S[2]), z, np.full_like(z, S[1])), z,
                    np.full_like(z, S[0])), t * z, t)
    c = fma32(fma32(fma32(np.full_like(z, C[2]), z, np.full_like(z, C[1])), z,
                    np.full_like(z, C[0])), z, np.full_like(z, np.float32(1)))
    td = t.astype(np.float64)
    nz = td != 0
    print("sin: max relative error %.2e, cos: %.2e (2^21 + 1 points of [-pi/4, pi/4])" % (
        np.max(np.abs(s[nz] - np.sin(td[nz])) / np.abs(np.sin(td[nz]))),
        np.max(np.abs(c - np.cos(td)) / np.cos(td))))


if __name__ == "__main__":
    main()
