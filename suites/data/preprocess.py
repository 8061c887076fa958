"""Framework-neutral preprocessing in NumPy: image normalisation and the CIFAR-10 augmentation
(tabular scaling and encoding are scikit-learn's, in ``TabularData.prepare``).

Everything here is deterministic: fitted statistics are computed in float64, image lookup tables
are built once per dataset, and the augmentation draws its randomness from a seeded PCG64 bit
generator (raw 64-bit outputs, whose stream NumPy keeps stable across versions), so every framework
fed from these arrays sees the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


# ------------------------------------------------------------------------------ tabular tools
# Scaling and one-hot encoding of the UCI tables are scikit-learn's StandardScaler and
# OneHotEncoder, fitted in :meth:`suites.data.dataset.TabularData.prepare`.


# ------------------------------------------------------------------------------------- images
def mnist_lut(mean: float = MNIST_MEAN, std: float = MNIST_STD) -> np.ndarray:
    """float32 lookup table for pixel values 0..255: ``(v / 255 - mean) / std`` evaluated in
    float32 in the same order as torchvision's ``ToTensor`` + ``Normalize`` (bit-identical)."""
    v = np.arange(256, dtype=np.float32) / np.float32(255)
    return ((v - np.float32(mean)) / np.float32(std)).astype(np.float32)


def normalize_mnist(images: np.ndarray) -> np.ndarray:
    """uint8 MNIST pixels -> float32, /255 then (x - 0.1307) / 0.3081 (the APTx protocol)."""
    return mnist_lut()[np.asarray(images, dtype=np.uint8)]


def channel_stats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-channel mean and population std (ddof 0) of uint8 NCHW images on the [0, 1]
    scale, computed in float64 from a 256-bin histogram per channel."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError("channel_stats expects uint8 images of shape [N, C, H, W]")
    values = np.arange(256, dtype=np.float64) / 255.0
    means, stds = [], []
    for c in range(images.shape[1]):
        counts = np.bincount(np.ascontiguousarray(images[:, c]).reshape(-1), minlength=256)
        n = counts.sum()
        m = float((counts * values).sum() / n)
        var = float((counts * (values - m) ** 2).sum() / n)
        means.append(m)
        stds.append(np.sqrt(var))
    return np.asarray(means), np.asarray(stds)


def standardize_channels(
    images: np.ndarray, mean: Sequence[float], std: Sequence[float]
) -> np.ndarray:
    """uint8 NCHW images -> float32 ``(v / 255 - mean[c]) / std[c]`` (float32 arithmetic, as
    torchvision), through one 256-entry lookup table per channel."""
    images = np.asarray(images, dtype=np.uint8)
    out = np.empty(images.shape, dtype=np.float32)
    v = np.arange(256, dtype=np.float32) / np.float32(255)
    for c in range(images.shape[1]):
        lut = (v - np.float32(mean[c])) / np.float32(std[c])
        np.take(lut, images[:, c], out=out[:, c])
    return out


def _bit_generator(rng: int | Sequence[int] | np.random.Generator | np.random.BitGenerator):
    if isinstance(rng, np.random.Generator):
        return rng.bit_generator
    if isinstance(rng, np.random.BitGenerator):
        return rng
    return np.random.PCG64(np.random.SeedSequence(rng))


def random_crop_flip(
    images: np.ndarray,
    rng: int | Sequence[int] | np.random.Generator | np.random.BitGenerator,
    *,
    padding: int = 4,
    flip: bool = True,
    layout: str = "nchw",
    fill: float | Sequence[float] = 0.0,
) -> np.ndarray:
    """The standard CIFAR augmentation, vectorised over the batch: pad each image by ``padding``
    pixels (value ``fill``, a scalar or one value per channel), take a random crop of the original
    size, and flip it horizontally with probability 1/2.

    ``rng`` is a seed (int or sequence), a ``Generator`` or a ``BitGenerator``; the offsets and
    flips come from its raw 64-bit outputs (one per sample for the crop, one for the flip), so the
    result depends only on the seed. To match torchvision's order (pad black pixels, then
    normalise), pass the normalised value of a black pixel as ``fill`` (CIFAR-10 datasets carry it
    as ``preprocessing["black_pixel"]``). Returns a new array of the input's dtype and layout.
    """
    x = np.asarray(images)
    if layout not in ("nchw", "nhwc"):
        raise ValueError("layout must be 'nchw' or 'nhwc'")
    if x.ndim != 4:
        raise ValueError("random_crop_flip expects a batch of images [N, C, H, W] or [N, H, W, C]")
    nchw = x if layout == "nchw" else x.transpose(0, 3, 1, 2)
    n, c, h, w = nchw.shape
    bits = _bit_generator(rng)
    raw = bits.random_raw(3 * n).astype(np.uint64).reshape(3, n)
    span = np.uint64(2 * padding + 1)
    oy = (raw[0] % span).astype(np.intp)
    ox = (raw[1] % span).astype(np.intp)
    flips = (raw[2] >> np.uint64(63)).astype(bool) if flip else np.zeros(n, dtype=bool)
    fill_arr = np.broadcast_to(np.asarray(fill, dtype=x.dtype).reshape(-1), (c,))
    padded = np.empty((n, c, h + 2 * padding, w + 2 * padding), dtype=x.dtype)
    padded[...] = fill_arr[None, :, None, None]
    padded[:, :, padding : padding + h, padding : padding + w] = nchw
    rows = oy[:, None] + np.arange(h)[None, :]  # [n, h]
    cols = ox[:, None] + np.arange(w)[None, :]  # [n, w]
    cols = np.where(flips[:, None], cols[:, ::-1], cols)
    out = padded[
        np.arange(n)[:, None, None, None],
        np.arange(c)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]
    return out if layout == "nchw" else np.ascontiguousarray(out.transpose(0, 2, 3, 1))


__all__ = [
    "MNIST_MEAN",
    "MNIST_STD",
    "channel_stats",
    "mnist_lut",
    "normalize_mnist",
    "random_crop_flip",
    "standardize_channels",
]
