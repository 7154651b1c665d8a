"""The simulated electrodes: shafts of contacts placed in MNI152 grey matter near the target regions
(:func:`place_electrodes`), with each electrode's latency, noise level, read-out weights and event amplitudes
(:func:`_electrode_amplitudes`)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from ..core.runtime import rng
from .simulation_settings import LATENCIES, LEVELS, REGIONS, SimulationSettings

__all__ = ["place_electrodes"]


@functools.lru_cache(maxsize=1)
def _grey_matter():
    from nilearn.datasets import load_mni152_gm_mask

    mask = load_mni152_gm_mask(resolution=2)
    ijk = np.argwhere(np.asarray(mask.dataobj) > 0)
    xyz = ijk @ mask.affine[:3, :3].T + mask.affine[:3, 3]
    return xyz


def place_electrodes(settings: SimulationSettings, subject: int, seed: int) -> pd.DataFrame:
    """Shafts of contacts (3.5 mm apart) whose tips sit in grey matter near the target regions.

    Returns Electrode, Region, MNI_x, MNI_y, MNI_z (mm), shaft, target (the shaft's target region) and class.
    """
    gen = rng(seed * 1000 + subject)
    grey = _grey_matter()
    centres = {name: np.array(REGIONS[name][0]) for name in settings.regions}
    rows = []
    # Shafts go to the class-bearing regions first (listed first) so that each class is present.
    order = list(settings.regions)
    picks = [order[i % len(order)] for i in range(settings.shafts_per_subject)]
    for s, target in enumerate(picks):
        side = 1.0 if gen.random() < 0.3 else -1.0  # most shafts on the left, as language sites
        centre = centres[target] * np.array([-1.0 if side > 0 else 1.0, 1.0, 1.0])
        near = grey[np.linalg.norm(grey - centre, axis=1) < 6.0]
        tip = near[gen.integers(len(near))] if len(near) else centre
        direction = np.array([np.sign(tip[0]) or -1.0, gen.normal(0, 0.15), gen.normal(0, 0.15)])
        direction /= np.linalg.norm(direction)
        hemi = "L" if tip[0] < 0 else "R"
        shaft = f"{hemi}{chr(ord('A') + s)}"
        probs = REGIONS[target][1]
        for c in range(settings.contacts_per_shaft):
            pos = tip + direction * 3.5 * c
            mirrored = pos * np.array([-1.0 if pos[0] > 0 else 1.0, 1, 1])
            dists = {n: float(np.linalg.norm(mirrored - v)) for n, v in centres.items()}
            nearest = min(dists, key=dists.get)
            region = (
                f"{'left' if hemi == 'L' else 'right'} {nearest}"
                if dists[nearest] < 20.0
                else "white matter / unlabelled"
            )
            if c < settings.target_contacts:
                klass = str(gen.choice(list(probs), p=np.array(list(probs.values())) / sum(probs.values())))
            else:
                klass = "noise"
            rows.append(
                {
                    "Electrode": f"{shaft}{c + 1}",
                    "Region": region,
                    "MNI_x": round(float(pos[0]), 2),
                    "MNI_y": round(float(pos[1]), 2),
                    "MNI_z": round(float(pos[2]), 2),
                    "shaft": shaft,
                    "target": target,
                    "class": klass,
                    "level": LEVELS[klass],
                }
            )
    return pd.DataFrame(rows)


def _electrode_amplitudes(
    elec: pd.DataFrame, drives: list[dict[str, np.ndarray]], settings: SimulationSettings, gen: np.random.Generator
) -> tuple[list[list[np.ndarray]], list[dict]]:
    """Per electrode and movie the event amplitudes of its class, scaled to unit s.d. over word onsets (pooled
    over movies), and the electrode's latency, noise level and read-out weights."""
    amps, meta = [], []
    for _, row in elec.iterrows():
        klass = row["class"]
        lo, hi = LATENCIES.get(klass, (0.2, 0.2))
        latency = float(gen.uniform(lo, hi))
        noise = settings.background * float(gen.uniform(1 - settings.noise_spread, 1 + settings.noise_spread))
        per_movie, w = [], np.zeros(0)
        if klass in ("vision", "language", "semantic_vision", "semantic_language"):
            w = gen.standard_normal(drives[0][klass].shape[1])
        for d in drives:
            cut = d["is_cut"]
            if klass in ("vision", "semantic_vision"):
                a = d[klass] @ w
                a = np.where(cut, a, settings.vision_on_words * a)
            elif klass in ("language", "semantic_language"):
                a = np.where(cut, 0.0, d[klass] @ w)
            elif klass == "multimodal":
                a = np.asarray(d["multimodal"], dtype=float)
                a = np.where(cut, settings.multimodal_on_cuts * a, a)
            else:
                a = np.zeros(len(cut))
            per_movie.append(a)
        if klass != "noise":
            # centre word onsets and scene cuts on their own pooled means, scale by the word onsets' s.d.
            pooled = {
                flag: np.concatenate([a[d["is_cut"] == flag] for a, d in zip(per_movie, drives)])
                for flag in (False, True)
            }
            mean = {flag: (float(v.mean()) if v.size else 0.0) for flag, v in pooled.items()}
            scale = max(float(pooled[False].std()), 1e-9)
            per_movie = [
                (a - np.where(d["is_cut"], mean[True], mean[False])) / scale for a, d in zip(per_movie, drives)
            ]
        amps.append(per_movie)
        meta.append(
            {"latency": round(latency, 4), "noise": round(noise, 4), "weights": " ".join(f"{x:.4f}" for x in w)}
        )
    return amps, meta
