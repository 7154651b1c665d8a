"""Simulated Brain Treebank-style dataset with planted electrode classes (ground truth saved beside it).

The truth is planted in the stimulus world, never in a network that the analysis later compares: simulating needs
no network weights at all. The "movies" are sequences of scenes, each showing one image of the stimulus world;
during each scene an utterance (a caption of the world) is spoken word by word. With probability ``p_congruent``
the utterance describes the image on screen; otherwise it describes another image. Every subject watches every
movie (one trial per movie). Electrodes sit on shafts placed in MNI152 grey matter around named regions, and each
is of one class:

- ``vision``: its high-gamma amplitude follows the shown scene's latent attributes (category, shape, colour,
  texture, position, size, lighting: ``vision_attributes``) through a fixed random nonlinear mixture (one hidden
  layer of ``mixture_units`` tanh units with random weights drawn from the simulation seed), read out with
  random weights per electrode; strongest at scene cuts, weaker at later word onsets while the image stays on
  screen;
- ``language``: follows the content of the utterance, at word onsets: each content word (word identity) has a
  fixed random embedding drawn from the simulation seed (shared by no compared model), category words count
  ``category_weight`` times; the utterance's summed embedding passes through a random tanh layer and a random
  read-out per electrode;
- ``semantic_vision``: follows the shown object's *category* alone, through a random code per category (one
  hidden layer of ``mixture_units`` tanh units of the category's one-hot code, random read-out per electrode):
  invariant to colour, texture, position, size, rotation and lighting, so a network predicts it only as far as
  its features separate categories from appearance (what training should give); timed like ``vision``;
- ``semantic_language``: follows the *meaning* of the category said: the category of the image whose caption is
  spoken, through a random code per category. Each sentence names its category with one of several words
  (:data:`neuromodels.stimuli.captions.CATEGORY_SYNONYMS`, a synonym with probability ``p_synonym``), so the
  drive is shared by synonyms and word identity alone does not carry it; at word onsets, like ``language``;
- ``multimodal``: follows the *congruence* of what is seen and what is said: the overlap (Jaccard index) of the
  content words of the spoken utterance with those of the shown image's own caption (a synonym counted as the
  category it names). This is an interaction (an AND of image and words): no sum of an image term and a word
  term produces it;
- ``noise``: no stimulus drive.

``vision`` and ``language`` are the low-level classes (a random network carries their attributes and word
identities too: the negative control of the trained-vs-random comparison), ``semantic_vision`` and
``semantic_language`` the semantic ones; ``ground_truth.csv`` records each electrode's ``class`` and ``level``
(``low-level``, ``semantic``, ``multimodal`` or ``noise``). A drive model without a class's drive (e.g. a
generator of one's own) leaves that class's electrodes without drive: they are recorded as ``noise``.

Each driven electrode has its own response latency (the peak of its gamma-shaped kernel, drawn from its class's
range) and its own noise level. The drive modulates the amplitude of a 70-250 Hz carrier (the contact's local
source); by volume conduction each contact also records ``spread`` of its first and second neighbours' local
sources on the shaft. Added to that are pink background noise, a reference signal shared by all contacts, a drift shared by the contacts of each shaft (a
shaft-wide artefact that a common average cannot remove but a shaft Laplacian does) and line noise.

``ground_truth.csv`` lists every electrode's class, latency, noise level and read-out weights;
``planted.npz`` holds the mixture, the word embedding and the per-event drives of every movie.

The simulation itself (:func:`simulate_dataset`) is held here; its parts are re-exported from the modules that
hold them: the settings, classes, regions and latencies in :mod:`.simulation_settings`, the movies (scenes,
utterances, synonyms, congruence) in :mod:`.movies`, the world's mixtures and the per-event drives in
:mod:`.drives`, the electrodes' placement and amplitudes in :mod:`.electrodes`, the response kernel, noise and
volume conduction in :mod:`.signals`.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.runtime import get_logger, rng
from .data import trial_name, write_movie, write_trial
from .drives import DriveModel, WorldMixtures, event_drives, utterance_embedding, world_mixtures
from .electrodes import (
    _electrode_amplitudes,
    _grey_matter,  # noqa: F401  (re-exported: the tests read the grey matter here)
    place_electrodes,
)
from .movies import STOPWORDS, congruence, content_words, make_movie, shown_image
from .signals import _band_noise, _pink, kernel, volume_conduction
from .simulation_settings import CLASSES, LATENCIES, LEVELS, REGIONS, SimulationSettings

__all__ = [
    "simulate_dataset",
    "SimulationSettings",
    "CLASSES",
    "LEVELS",
    "REGIONS",
    "LATENCIES",
    "STOPWORDS",
    "content_words",
    "congruence",
    "make_movie",
    "shown_image",
    "WorldMixtures",
    "world_mixtures",
    "utterance_embedding",
    "event_drives",
    "DriveModel",
    "place_electrodes",
    "kernel",
    "volume_conduction",
]

log = get_logger(__name__)


def simulate_dataset(
    root: str | Path,
    scenes: pd.DataFrame,
    vision_latents: np.ndarray,
    settings: SimulationSettings | None = None,
    seed: int = 0,
    drive_model: DriveModel | None = None,
) -> pd.DataFrame:
    """Write a full simulated dataset under ``root`` and return the electrode ground truth.

    Parameters
    ----------
    scenes : stimulus_id and caption (and category, when known) of every image the movies may show
    vision_latents : (images, attributes) latent attributes of those images that drive vision electrodes
    drive_model : maps one movie's (words, cuts) to the class drives (default: the world's random mixtures,
        :func:`world_mixtures` and :func:`event_drives`)

    Writes the recording layout of :mod:`neuromodels.seeg.data` (one trial per subject and movie),
    ``ground_truth.csv`` (one row per electrode: subject, Electrode, Region, coordinates, class, latency, noise,
    weights), ``planted.npz`` (mixtures and per-event drives) and ``simulation.json`` (the settings).
    """
    from scipy.signal import fftconvolve  # here: the encoding steps import this module for its settings only

    settings = settings if settings is not None else SimulationSettings()
    from ..core.io import write_json, write_npz, write_table

    root = Path(root)
    planted: dict[str, np.ndarray] = {}
    if drive_model is None:
        mix = world_mixtures(scenes, np.asarray(vision_latents).shape[1], settings, seed)
        planted.update(
            vision_in=mix.vision_in,
            vision_bias=mix.vision_bias,
            word_embedding=mix.word_embedding,
            vocab=np.array(mix.vocab),
            category_words=np.array(mix.category_words),
            language_in=mix.language_in,
            language_bias=mix.language_bias,
            categories=np.array(mix.categories),
            semantic_vision_in=mix.semantic_vision_in,
            semantic_vision_bias=mix.semantic_vision_bias,
            semantic_language_in=mix.semantic_language_in,
            semantic_language_bias=mix.semantic_language_bias,
        )

        def drive_model(words: pd.DataFrame, cuts: pd.DataFrame) -> dict[str, np.ndarray]:
            return event_drives(words, cuts, scenes, vision_latents, mix)

    n_movies = max(int(settings.n_movies), 1)
    movies = []
    for m in range(n_movies):
        name = f"movie{m}"
        words, cuts = make_movie(scenes, settings, seed * 101 + m, settings.duration / n_movies)
        write_movie(root, name, words, cuts)
        drives = drive_model(words, cuts)
        for key, value in drives.items():
            planted[f"{name}/{key}"] = np.asarray(value)
        onsets = np.r_[words["start"].to_numpy(float), cuts["time"].to_numpy(float)]
        movies.append((name, drives, onsets))
    sf = settings.sfreq
    truths = []
    for subject in range(1, settings.n_subjects + 1):
        gen = rng(seed * 7919 + subject)
        elec = place_electrodes(settings, subject, seed)
        undriven = ~elec["class"].isin([k for k in CLASSES if k == "noise" or k in movies[0][1]])
        if undriven.any():  # the drive model has no drive for these classes: they record noise, and say so
            log.info(
                "subject %d: %d electrode(s) of classes %s without a drive in this drive model: recorded as noise",
                subject,
                int(undriven.sum()),
                sorted(set(elec.loc[undriven, "class"])),
            )
            elec.loc[undriven, "class"] = "noise"
            elec.loc[undriven, "level"] = LEVELS["noise"]
        amps, meta = _electrode_amplitudes(elec, [d for _, d, _ in movies], settings, gen)
        for trial, (movie, _drives, onsets_movie) in enumerate(movies):
            duration = onsets_movie.max() + 1.0
            lead_in, drift = gen.uniform(3, 8), 1.0 + gen.normal(0, 2e-5)
            n = int((lead_in + duration * drift + 3.0) * sf)
            onset_samples = np.round((lead_in + onsets_movie * drift) * sf).astype(int)
            data = np.empty((len(elec), n))
            common = _pink(gen, n, sf)  # a reference artefact shared by every contact
            shafts = {s: _pink(gen, n, sf) for s in elec["shaft"].unique()}  # shaft-wide artefacts
            t = np.arange(n) / sf
            line = sum(
                np.sin(2 * np.pi * f * t + gen.uniform(0, 2 * np.pi)) / (1 + i)
                for i, f in enumerate(np.arange(settings.line_freq, sf / 2, settings.line_freq))
            )
            local = np.empty((len(elec), n))
            for e in range(len(elec)):
                impulses = np.zeros(n)
                np.add.at(impulses, onset_samples, amps[e][trial])
                k = kernel(sf, meta[e]["latency"], max(0.6, 3.0 * meta[e]["latency"]))
                drive = fftconvolve(impulses, k)[:n]
                envelope = np.clip(1.0 + settings.gain * drive, 0.05, None)
                local[e] = envelope * _band_noise(gen, n, sf, 70.0, min(250.0, 0.45 * sf))
            recorded = volume_conduction(elec["Electrode"].tolist(), settings.spread) @ local
            for e, row in elec.iterrows():
                data[e] = (
                    recorded[e]
                    + meta[e]["noise"] * 3.0 * _pink(gen, n, sf)
                    + settings.common * common
                    + settings.shaft_drift * shafts[row["shaft"]]
                    + settings.line_noise * line
                )
            triggers_movie = np.arange(0.0, duration, 10.0)
            triggers = pd.DataFrame(
                {"movie_time": triggers_movie, "index": np.round((lead_in + triggers_movie * drift) * sf).astype(int)}
            )
            coords = elec[["Electrode", "MNI_x", "MNI_y", "MNI_z"]].set_axis(["Electrode", "X", "Y", "Z"], axis=1)
            write_trial(
                root,
                subject,
                trial,
                movie,
                data * 20.0,
                elec["Electrode"].tolist(),
                elec[["Electrode", "Region"]],
                triggers,
                sfreq=sf,
                coordinates=coords,
            )
            log.info(
                "simulated %s (%s): %d electrodes, %.0f s at %.0f Hz",
                trial_name(subject, trial),
                movie,
                len(elec),
                n / sf,
                sf,
            )
        truth = elec.assign(
            subject=subject,
            latency=[m["latency"] for m in meta],
            noise=[m["noise"] for m in meta],
            weights=[m["weights"] for m in meta],
        )
        truths.append(truth)
        log.info("subject %d: %s", subject, truth["class"].value_counts().to_dict())
    truth = pd.concat(truths, ignore_index=True)
    write_table(root / "ground_truth.csv", truth)
    write_npz(root / "planted.npz", **planted)
    write_json(
        root / "simulation.json",
        {
            **asdict(settings),
            "seed": seed,
            "movies": [m for m, _, _ in movies],
            "drive_model": "world mixtures" if "vision_in" in planted else getattr(drive_model, "__name__", "custom"),
        },
    )
    return truth
