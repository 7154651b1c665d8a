"""A small dataset written file by file in the Brain Treebank release layout, by the tests' own writer (not the
package's): H5 files under all_subject_data/ at 2048 Hz with no rate attribute, labels carrying '*' and '#', a DC
trigger channel, corrupted_elec.json, depth-wm.csv with DesikanKilliany labels and no coordinates (those are in
localization/elec_coords_full.csv), timings with the release's extra columns, per-trial metadata naming the movie,
features.csv and manual/word-times-stanford.csv (pandas index column, ``text`` the word, ``is_onset``), scene-cuts.csv
with only ``time``; and a frames folder (stimuli.csv: stimulus_id, filename, movie, time) without attribute columns.

Signal: its own generator, unlike the simulator: the high-gamma amplitude of a few contacts rises after every word
onset of sentence starts (no network, no stimulus world), on white and line noise.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from PIL import Image

SFREQ = 2048.0
SHAFTS = {"LT1aI": 5, "F3cId": 5}  # real-looking stems (letters and digits) with contact numbers after them
WORDS = "the dog runs home now a red ball rolls away".split()


def _movie(gen: np.random.Generator, duration: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, t, sentence = [], 1.0, 0
    while t < duration - 4:
        n = int(gen.integers(3, 7))
        for k in range(n):
            rows.append(
                {
                    "text": WORDS[int(gen.integers(len(WORDS)))],
                    "start": round(t, 3),
                    "end": round(t + 0.25, 3),
                    "is_onset": int(k == 0),
                    "is_offset": int(k == n - 1),
                    "pos": "NN",
                    "sentence_idx": sentence,
                }
            )
            t += float(gen.uniform(0.3, 0.5))
        sentence += 1
        t += float(gen.uniform(0.5, 1.5))
    words = pd.DataFrame(rows)
    cuts = pd.DataFrame({"time": np.round(np.arange(0.0, duration - 3, 3.7), 3)})
    return words, cuts


def write_release(root: Path, frames: Path, n_subjects: int = 2, duration: float = 90.0, seed: int = 0) -> dict:
    """Write the dataset under ``root`` and its frames under ``frames``; return what was planted."""
    gen = np.random.default_rng(seed)
    movie = "fantastic-mr-fox"
    words, cuts = _movie(gen, duration)
    folder = root / "transcripts" / movie
    (folder / "manual").mkdir(parents=True)
    words.to_csv(folder / "manual" / "word-times-stanford.csv")  # with the pandas index column, as released
    words.assign(gpt2_surprisal=gen.random(len(words))).to_csv(folder / "features.csv")
    cuts.to_csv(folder / "scene-cuts.csv", index=False)
    corrupted, coords = {}, []
    for s in range(1, n_subjects + 1):
        labels = [f"{stem}{c}" for stem, n in SHAFTS.items() for c in range(1, n + 1)]
        released = [f"{x}*" if i == 2 else (f"#{x}" if i == 6 else x) for i, x in enumerate(labels)] + ["DC1"]
        corrupted[f"sub_{s}"] = [labels[4]]
        (root / "electrode_labels" / f"sub_{s}").mkdir(parents=True)
        (root / "electrode_labels" / f"sub_{s}" / "electrode_labels.json").write_text(json.dumps(released))
        (root / "localization" / f"sub_{s}").mkdir(parents=True)
        region = ["ctx-lh-superiortemporal"] * 5 + ["ctx-lh-lateraloccipital"] * 5
        pd.DataFrame({"ID": range(len(labels)), "Electrode": released[:-1], "DesikanKilliany": region}).to_csv(
            root / "localization" / f"sub_{s}" / "depth-wm.csv", index=False
        )
        coords += [
            {"Subject": f"sub_{s}", "Electrode": x, "X": -50.0 + i, "Y": -20.0 - 3 * i, "Z": 5.0}
            for i, x in enumerate(labels)
        ]
        lead_in = float(gen.uniform(2, 4))
        n = int((lead_in + duration + 2) * SFREQ)
        t = np.arange(n) / SFREQ
        envelope = np.ones((len(labels), n))
        onsets = lead_in + words.loc[words["is_onset"] == 1, "start"].to_numpy()
        responsive = [0, 1, 7]
        for on in onsets:
            sel = slice(int((on + 0.1) * SFREQ), int((on + 0.4) * SFREQ))
            envelope[responsive, sel] += 1.5
        carrier = gen.standard_normal((len(labels), n))
        data = 20 * envelope * carrier + 5 * np.sin(2 * np.pi * 60 * t) + 3 * gen.standard_normal((len(labels), n))
        data[labels.index(corrupted[f"sub_{s}"][0])] *= 50  # a corrupted channel: loud
        data = np.vstack([data, (np.sin(2 * np.pi * t) > 0) * 1000.0])  # the DC trigger channel
        (root / "all_subject_data").mkdir(exist_ok=True)
        with h5py.File(root / "all_subject_data" / f"sub_{s}_trial000.h5", "w") as h5:
            group = h5.create_group("data")
            for i, row in enumerate(data.astype(np.float32)):
                group.create_dataset(f"electrode_{i}", data=row, chunks=(4096,))
        (root / "subject_timings").mkdir(exist_ok=True)
        trig = np.arange(0.0, duration, 5.0)
        pd.DataFrame(
            {
                "type": "trigger",
                "movie_time": trig,
                "start": trig,
                "end": trig + 0.01,
                "index": np.round((lead_in + trig) * SFREQ).astype(int),
            }
        ).to_csv(root / "subject_timings" / f"sub_{s}_trial000_timings.csv", index=False)
        (root / "subject_metadata").mkdir(exist_ok=True)
        (root / "subject_metadata" / f"sub_{s}_trial000_metadata.json").write_text(
            json.dumps({"title": "Fantastic Mr. Fox", "filename": movie, "duration": duration})
        )
    (root / "corrupted_elec.json").write_text(json.dumps(corrupted))
    pd.DataFrame(coords).to_csv(root / "localization" / "elec_coords_full.csv", index=False)
    # frames: one image per scene cut, grabbed from the movie (here random pictures), keyed by movie time
    (frames / "frames").mkdir(parents=True)
    rows = []
    for k, time in enumerate(cuts["time"]):
        name = f"frames/{movie}_{k:04d}.png"
        Image.fromarray(gen.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(frames / name)
        rows.append({"stimulus_id": 1000 + k, "filename": name, "movie": movie, "time": time})
    pd.DataFrame(rows).to_csv(frames / "stimuli.csv", index=False)
    return {
        "movie": movie,
        "words": words,
        "cuts": cuts,
        "labels": labels,
        "corrupted": corrupted,
        "responsive": [labels[i] for i in responsive],
    }
