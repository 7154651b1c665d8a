"""The signals summed into a simulated recording: the gamma-shaped response kernel (:func:`kernel`), band-limited
noise (the high-gamma carrier) and pink noise, and the volume conduction of local sources between the contacts
of a shaft (:func:`volume_conduction`)."""

from __future__ import annotations

import numpy as np

__all__ = ["kernel", "volume_conduction"]


def kernel(sfreq: float, peak: float = 0.2, length: float = 0.6) -> np.ndarray:
    """Gamma-shaped response kernel sampled at ``sfreq`` (peak 1 at ``peak`` s)."""
    t = np.arange(int(length * sfreq)) / sfreq
    k = (t / peak) ** 3 * np.exp(3 * (1 - t / peak))
    return k / k.max()


def _band_noise(gen: np.random.Generator, n: int, sfreq: float, lo: float, hi: float) -> np.ndarray:
    from scipy import fft

    m = fft.next_fast_len(n, real=True)
    spec = fft.rfft(gen.standard_normal(m))
    f = fft.rfftfreq(m, 1 / sfreq)
    spec[(f < lo) | (f > hi)] = 0
    x = fft.irfft(spec, m)[:n]
    return x / x.std()


def _pink(gen: np.random.Generator, n: int, sfreq: float) -> np.ndarray:
    from scipy import fft

    m = fft.next_fast_len(n, real=True)
    spec = fft.rfft(gen.standard_normal(m))
    f = fft.rfftfreq(m, 1 / sfreq)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    x = fft.irfft(spec, m)[:n]
    return x / x.std()


def volume_conduction(labels: list[str], spread: tuple[float, ...]) -> np.ndarray:
    """(contacts, contacts) mixing of local sources into recordings: each contact records its own source plus
    ``spread[k - 1]`` of the sources k contacts away on the same shaft."""
    from .data import split_label

    parsed = [split_label(x) for x in labels]
    where = {p: i for i, p in enumerate(parsed)}
    mix = np.eye(len(labels))
    for i, (shaft, contact) in enumerate(parsed):
        for k, share in enumerate(spread, start=1):
            for c in (contact - k, contact + k):
                if (shaft, c) in where:
                    mix[i, where[(shaft, c)]] = share
    return mix
