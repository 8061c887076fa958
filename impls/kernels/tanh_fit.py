"""Coefficients of the float32 tanh and exp2 used by the fused kernels.

tanh(z) ~ z P(z^2) / Q(z^2); 2^f ~ EXP2(f) on [0, 1), from which sech^2 is formed without
cancellation (``impls/kernels/_aptx_numba.py``).


Fitted for this project on |z| <= 9 (beyond it float32 tanh rounds to +-1) by iteratively
re-weighted least squares on the relative error; ``scripts/fit_tanh.py`` re-derives them and
prints the error. Evaluated in float32 with Horner's rule, the largest error over the float32
line is 3.7e-7 (6.2 ulps; NumPy's tanh: 1.4 ulps), with 6 + 4 coefficients (numerator degree
11, denominator degree 6: one more numerator term gains nothing visible in float32). Plain numbers, shared by the
CPU kernel and the GPU kernels so every device computes the same function.
"""

#: Numerator coefficients, in powers of z^2 (times z).
P: tuple[float, ...] = (0.9999999414743787, 0.12919283682480392, 0.00292082063048794,
                        9.267945265084973e-06, -1.2781961045411573e-08, 1.8258988004707428e-11)
#: Denominator coefficients, in powers of z^2.
Q: tuple[float, ...] = (1.0, 0.462525676380019, 0.02376341094388141, 0.00022810824630983953)
#: |z| beyond which tanh is +-1 in float32.
CLAMP: float = 9.0

#: 2^f on [0, 1] by a degree-6 polynomial (powers of f), fitted like P and Q on the relative
#: error (scripts/fit_tanh.py): 1.9e-9 in float64, 1.0e-7 evaluated in float32.
EXP2: tuple[float, ...] = (1.0000000018751027, 0.6931469833194739, 0.24022983975822837,
                           0.055483333374571925, 0.009678848774535925, 0.0012439683383974331,
                           0.00021702080799881895)
