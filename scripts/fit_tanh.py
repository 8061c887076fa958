"""Re-derive the float32 tanh of the fused kernels: tanh(z) ~ z P(z^2) / Q(z^2) on |z| <= 9.

    python scripts/fit_tanh.py          # prints the coefficients and their float32 error

Method: linearised least squares on the relative error (Sanathanan-Koerner iteration: divide
each row by the previous denominator, so the linear problem approaches the rational one), then
iteratively re-weighted towards the points of largest error (an approximation of minimax). The
fit runs in float64 on the variable z^2 / 81 so the normal equations stay well conditioned;
the coefficients are rescaled to powers of z^2 at the end. Compare the printed numbers with
``impls/kernels/tanh_fit.py``.
"""

from __future__ import annotations

import numpy as np

CLAMP = 9.0
N_P, N_Q = 6, 4          # coefficients in z^2: numerator degree 11 (odd), denominator degree 6


def fit() -> tuple[np.ndarray, np.ndarray]:
    z = np.unique(np.concatenate([np.linspace(1e-4, CLAMP, 20_000),
                                  CLAMP * (1 - np.cos(np.linspace(0, np.pi / 2, 20_000)))]))
    z = z[z > 1e-5]
    f = np.tanh(z)
    u = z * z / CLAMP**2
    vp = np.stack([z * u**k for k in range(N_P)], axis=1)
    vq = np.stack([u**k for k in range(N_Q)], axis=1)
    q = np.ones_like(z)
    w = np.ones_like(z)
    for iteration in range(60):
        rows = np.concatenate([vp, -f[:, None] * vq[:, 1:]], axis=1) / (f * q)[:, None]
        rhs = f * vq[:, 0] / (f * q)
        coef, *_ = np.linalg.lstsq(rows * np.sqrt(w)[:, None], rhs * np.sqrt(w), rcond=None)
        p, qc = coef[:N_P], np.concatenate([[1.0], coef[N_P:]])
        q = vq @ qc
        rel = np.abs((vp @ p) / q - f) / f
        if iteration > 10:
            w = w * (1 + 50 * rel / rel.max())
            w /= w.mean()
    scale_p = np.array([CLAMP ** (2 * k) for k in range(N_P)])
    scale_q = np.array([CLAMP ** (2 * k) for k in range(N_Q)])
    return p / scale_p, qc / scale_q


def float32_tanh(z: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The kernel's evaluation order (Horner, float32, clamps) in NumPy."""
    z = np.clip(z.astype(np.float32), -CLAMP, CLAMP)
    u = z * z
    num = np.float32(p[-1])
    for c in p[-2::-1]:
        num = num * u + np.float32(c)
    den = np.float32(q[-1])
    for c in q[-2::-1]:
        den = den * u + np.float32(c)
    return np.clip(z * num / den, -1, 1)


def main() -> None:
    p, q = fit()
    z = np.linspace(-12, 12, 2_000_001).astype(np.float32)
    exact = np.tanh(z.astype(np.float64))
    err = np.abs(float32_tanh(z, p, q) - exact)
    ulps = err / np.spacing(np.abs(exact).astype(np.float32))
    print(f"P = {tuple(p.tolist())}")
    print(f"Q = {tuple(q.tolist())}")
    print(f"float32: max abs error {err.max():.3g}, max {ulps.max():.2f} ulps")


if __name__ == "__main__":
    main()
