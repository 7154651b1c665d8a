"""Simulated Brain Treebank-style dataset with planted electrode classes (ground truth saved beside it).

The "movie" is a sequence of scenes, each showing one image of the stimulus world; during each scene an utterance
(a caption of the world) is spoken word by word. With probability ``p_congruent`` the utterance describes the image
on screen; otherwise it describes another image. Electrodes sit on shafts placed in MNI152 grey matter around named
regions, and each is of one class:

- ``vision``: its high-gamma amplitude follows a fixed linear read-out of the shown image: of latent attributes
  of the world (``vision_latents``), or of the leading principal components of the image's embedding by a trained
  image encoder when one is given (these electrodes are then tuned to a learned visual feature space, as visual
  cortex is to those of trained vision networks); strongest at scene cuts, weaker at later word onsets while the
  image stays on screen;
- ``language``: follows a linear read-out of the meaning of the utterance, at word onsets: of the leading principal
  components of its sentence embedding by the packaged trained sentence encoder (``language_drive="minilm"``,
  the default: these electrodes are tuned to a sentence-semantic space, as language cortex is to those of trained
  language models) or of its bag of content words (``"words"``);
- ``multimodal``: follows the *congruence* of what is seen and what is said: the overlap (Jaccard index) of the
  content words of the spoken utterance with those of the shown image's own caption. This is an interaction (an
  AND of image and words): no sum of an image term and a word term produces it, but the similarity of an image and a
  text in a joint image-text space (CLIP-style) does, linearly;
- ``noise``: no stimulus drive.

The drive modulates the amplitude of a 70-250 Hz carrier, added to pink background noise, a reference signal
shared by all contacts (removed by re-referencing) and line noise at the line frequency and its harmonics. There
is no volume conduction between contacts, so the default re-referencing is the common average: a Laplacian would
mix each contact with its neighbours and spread planted signals along the shaft.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import fftconvolve

from ..core.runtime import get_logger, rng
from .data import trial_name, write_movie, write_trial

log = get_logger(__name__)

CLASSES = ("vision", "language", "multimodal", "noise")
STOPWORDS = frozenset({"a", "an", "the", "of", "on", "in", "at", "and", "is", "to", "with", "its", "it", "this",
                       "there", "one", "some"})

# Approximate MNI152 centres (mm, left hemisphere) of the regions the shafts target, and the classes their
# contacts near the target are drawn from (probabilities; the rest of a shaft's contacts are noise).
REGIONS: dict[str, tuple[tuple[float, float, float], dict[str, float]]] = {
    "temporoparietal junction": ((-52.0, -50.0, 22.0), {"multimodal": 0.75, "language": 0.1, "vision": 0.1,
                                                         "noise": 0.05}),
    "lateral occipital cortex": ((-40.0, -80.0, 2.0), {"vision": 0.8, "noise": 0.2}),
    "fusiform gyrus": ((-38.0, -55.0, -16.0), {"vision": 0.7, "noise": 0.3}),
    "superior temporal gyrus": ((-58.0, -20.0, 4.0), {"language": 0.8, "noise": 0.2}),
    "inferior frontal gyrus": ((-48.0, 22.0, 8.0), {"language": 0.6, "noise": 0.4}),
    "supramarginal gyrus": ((-56.0, -38.0, 34.0), {"multimodal": 0.5, "language": 0.2, "noise": 0.3}),
    "hippocampus": ((-28.0, -22.0, -14.0), {"noise": 1.0}),
    "insula": ((-38.0, 2.0, 4.0), {"noise": 1.0}),
    "precentral gyrus": ((-40.0, -10.0, 50.0), {"noise": 1.0}),
}


@dataclass
class SimulationSettings:
    """Size and signal of the simulated dataset (times in s, frequencies in Hz)."""

    n_subjects: int = 3
    shafts_per_subject: int = 6
    contacts_per_shaft: int = 8
    target_contacts: int = 4  # contacts nearest the shaft tip that take the target region's classes
    duration: float = 900.0  # movie length
    scene_duration: tuple[float, float] = (2.5, 4.5)
    word_interval: tuple[float, float] = (0.28, 0.42)
    p_congruent: float = 0.5
    sfreq: float = 512.0
    line_freq: float = 60.0
    gain: float = 0.6  # peak modulation of the high-gamma amplitude per unit drive
    background: float = 1.0  # pink-noise amplitude relative to the high-gamma carrier
    common: float = 2.0  # amplitude of the reference signal shared by all contacts
    line_noise: float = 3.0
    vision_on_words: float = 0.4  # vision drive at word onsets relative to scene cuts
    multimodal_on_cuts: float = 0.5
    language_drive: str = "minilm"  # minilm (sentence-embedding components) | words (bag of content words)
    language_components: int = 12
    regions: list[str] = field(default_factory=lambda: list(REGIONS))


def content_words(text: str) -> list[str]:
    """Lower-case words of ``text`` without punctuation and stop words."""
    words = [w.strip(".,;:!?\"'()").lower() for w in str(text).split()]
    return [w for w in words if w and w not in STOPWORDS]


def congruence(said: str, seen_caption: str) -> float:
    """Jaccard overlap of the content words of what is said and of the shown image's caption (0..1)."""
    a, b = set(content_words(said)), set(content_words(seen_caption))
    return len(a & b) / max(len(a | b), 1)


def kernel(sfreq: float, peak: float = 0.2, length: float = 0.6) -> np.ndarray:
    """Gamma-shaped response kernel sampled at ``sfreq`` (peak 1 at ``peak`` s)."""
    t = np.arange(int(length * sfreq)) / sfreq
    k = (t / peak) ** 3 * np.exp(3 * (1 - t / peak))
    return k / k.max()


def make_movie(scenes: pd.DataFrame, settings: SimulationSettings, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scene cuts (time, stimulus_id) and words (word, start, end, sentence, text, said_id) of one movie.

    ``scenes`` needs ``stimulus_id`` and ``caption`` columns. Truth columns kept in the tables: ``said_id``
    (image whose caption is spoken) and ``congruent``.
    """
    gen = rng(seed)
    ids = scenes["stimulus_id"].tolist()
    captions = dict(zip(ids, scenes["caption"].astype(str)))
    cuts, words = [], []
    t, sentence = 0.0, 0
    while t < settings.duration:
        shown = ids[gen.integers(len(ids))]
        congruent = bool(gen.random() < settings.p_congruent)
        said = shown if congruent else ids[gen.choice([i for i in range(len(ids)) if ids[i] != shown])]
        text = captions[said]
        start = t + gen.uniform(0.3, 0.6)
        onsets = start + np.concatenate([[0.0], np.cumsum(gen.uniform(*settings.word_interval,
                                                                     size=len(text.split()) - 1))])
        end = max(t + gen.uniform(*settings.scene_duration), onsets[-1] + 0.8)
        if end > settings.duration:
            break
        cuts.append({"time": round(t, 4), "stimulus_id": shown})
        for w, on in zip(text.split(), onsets):
            words.append({"word": w, "start": round(float(on), 4), "end": round(float(on) + 0.25, 4),
                          "sentence": sentence, "text": text, "said_id": said, "congruent": congruent})
        sentence += 1
        t = end
    return pd.DataFrame(words), pd.DataFrame(cuts)


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
            region = (f"{'left' if hemi == 'L' else 'right'} {nearest}" if dists[nearest] < 20.0
                      else "white matter / unlabelled")
            if c < settings.target_contacts:
                klass = str(gen.choice(list(probs), p=np.array(list(probs.values())) / sum(probs.values())))
            else:
                klass = "noise"
            rows.append({"Electrode": f"{shaft}{c + 1}", "Region": region, "MNI_x": round(float(pos[0]), 2),
                         "MNI_y": round(float(pos[1]), 2), "MNI_z": round(float(pos[2]), 2), "shaft": shaft,
                         "target": target, "class": klass})
    return pd.DataFrame(rows)


def _band_noise(gen: np.random.Generator, n: int, sfreq: float, lo: float, hi: float) -> np.ndarray:
    spec = np.fft.rfft(gen.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sfreq)
    spec[(f < lo) | (f > hi)] = 0
    x = np.fft.irfft(spec, n)
    return x / x.std()


def _pink(gen: np.random.Generator, n: int, sfreq: float) -> np.ndarray:
    spec = np.fft.rfft(gen.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sfreq)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    return x / x.std()


def event_drives(words: pd.DataFrame, cuts: pd.DataFrame, scenes: pd.DataFrame, vision_latents: np.ndarray,
                 seed: int, language_drive: str = "words", language_components: int = 12) -> dict[str, np.ndarray]:
    """Per-event features that drive the planted classes.

    Returns ``vision`` (events, latents) of the shown image, ``language`` (events, components or vocabulary) the
    utterance's sentence-embedding components or bag of content words, ``congruence`` (events,), for words then scene cuts (in that order), and
    ``is_cut`` (events,) bool.
    """
    ids = scenes["stimulus_id"].tolist()
    index = {s: i for i, s in enumerate(ids)}
    captions = scenes["caption"].astype(str).tolist()
    vocab = sorted({w for c in captions for w in content_words(c)})
    vpos = {w: i for i, w in enumerate(vocab)}
    shown_at_word = shown_image(words["start"].to_numpy(float), cuts)
    first_text = words.groupby("sentence")["text"].first()
    # The utterance of a scene starts after its cut: cut k goes with sentence k.
    cut_text = [first_text.get(k, "") for k in range(len(cuts))]
    shown = list(shown_at_word) + cuts["stimulus_id"].tolist()
    said = words["text"].tolist() + cut_text
    lat = np.asarray(vision_latents, dtype=float)
    lat = (lat - lat.mean(0)) / np.maximum(lat.std(0), 1e-9)
    vision = lat[[index[s] for s in shown]]
    if language_drive == "minilm":
        from ..networks import embed_texts

        distinct = sorted(set(said))
        comps = leading_components(embed_texts(distinct, "minilm"), language_components)
        row = {t: i for i, t in enumerate(distinct)}
        language = comps[[row[t] for t in said]]
    elif language_drive == "words":
        language = np.zeros((len(said), len(vocab)))
        for i, text in enumerate(said):
            for w in content_words(text):
                if w in vpos:
                    language[i, vpos[w]] = 1.0
    else:
        from ..core.errors import ConfigError

        raise ConfigError("seeg.simulation.language_drive", f"{language_drive!r} is not minilm or words")
    cong = np.array([congruence(t, captions[index[s]]) for t, s in zip(said, shown)])
    is_cut = np.r_[np.zeros(len(words), bool), np.ones(len(cuts), bool)]
    return {"vision": vision, "language": language, "congruence": cong, "is_cut": is_cut}


def leading_components(x: np.ndarray, k: int = 12) -> np.ndarray:
    """(rows, k) scores on the ``k`` leading principal components of ``x`` (rows, features), unit variance."""
    x = np.asarray(x, dtype=float) - np.mean(x, axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    scores = x @ vt[:k].T
    return scores / np.maximum(scores.std(0), 1e-12)


def shown_image(times: np.ndarray, cuts: pd.DataFrame) -> np.ndarray:
    """Stimulus on screen at each time (s, movie time): the last scene cut at or before it."""
    pos = np.searchsorted(cuts["time"].to_numpy(float), times, side="right") - 1
    return cuts["stimulus_id"].to_numpy()[np.clip(pos, 0, None)]


def simulate_dataset(root: str | Path, scenes: pd.DataFrame, vision_latents: np.ndarray,
                     settings: SimulationSettings = SimulationSettings(), seed: int = 0) -> pd.DataFrame:
    """Write a full simulated dataset under ``root`` and return the electrode ground truth.

    Parameters
    ----------
    scenes : stimulus_id and caption of every image the movie may show
    vision_latents : (images, latents) attributes of those images that drive vision electrodes
    Writes the recording layout of :mod:`neuromodels.seeg.data`, ``ground_truth.csv`` (one row per electrode:
    subject, Electrode, Region, coordinates, class, weights) and ``simulation.json`` (the settings).
    """
    from ..core.io import write_json, write_table

    root = Path(root)
    movie = "movie0"
    words, cuts = make_movie(scenes, settings, seed)
    write_movie(root, movie, words, cuts)
    drives = event_drives(words, cuts, scenes, vision_latents, seed, settings.language_drive,
                          settings.language_components)
    onsets_movie = np.r_[words["start"].to_numpy(float), cuts["time"].to_numpy(float)]
    sf = settings.sfreq
    truths = []
    for subject in range(1, settings.n_subjects + 1):
        gen = rng(seed * 7919 + subject)
        elec = place_electrodes(settings, subject, seed)
        lead_in, drift = gen.uniform(3, 8), 1.0 + gen.normal(0, 2e-5)
        n = int((lead_in + settings.duration * drift + 3.0) * sf)
        onset_samples = np.round((lead_in + onsets_movie * drift) * sf).astype(int)
        k = kernel(sf)
        data = np.empty((len(elec), n))
        weights = []
        common = _pink(gen, n, sf)  # a reference artefact shared by every contact (removed by re-referencing)
        t = np.arange(n) / sf
        line = sum(np.sin(2 * np.pi * f * t + gen.uniform(0, 2 * np.pi)) / (1 + i)
                   for i, f in enumerate(np.arange(settings.line_freq, sf / 2, settings.line_freq)))
        for e, row in elec.iterrows():
            klass = row["class"]
            if klass == "vision":
                w = gen.standard_normal(drives["vision"].shape[1])
                amp = drives["vision"] @ w
                amp = np.where(drives["is_cut"], amp, settings.vision_on_words * amp)
            elif klass == "language":
                w = gen.standard_normal(drives["language"].shape[1])
                amp = np.where(drives["is_cut"], 0.0, drives["language"] @ w)
            elif klass == "multimodal":
                w = np.array([1.0])
                amp = drives["congruence"] - drives["congruence"].mean()
                amp = np.where(drives["is_cut"], settings.multimodal_on_cuts * amp, amp)
            else:
                w, amp = np.zeros(0), np.zeros(len(onset_samples))
            scale = amp[~drives["is_cut"]].std() if klass != "noise" else 1.0
            amp = amp / max(float(scale), 1e-9)
            impulses = np.zeros(n)
            np.add.at(impulses, onset_samples, amp)
            drive = fftconvolve(impulses, k)[:n]
            envelope = np.clip(1.0 + settings.gain * drive, 0.05, None)
            carrier = _band_noise(gen, n, sf, 70.0, min(250.0, 0.45 * sf))
            data[e] = (envelope * carrier + settings.background * 3.0 * _pink(gen, n, sf)
                       + settings.common * common + settings.line_noise * line)
            weights.append(" ".join(f"{x:.4f}" for x in w))
        triggers_movie = np.arange(0.0, settings.duration, 10.0)
        triggers = pd.DataFrame({"movie_time": triggers_movie,
                                 "index": np.round((lead_in + triggers_movie * drift) * sf).astype(int)})
        loc = elec[["Electrode", "Region", "MNI_x", "MNI_y", "MNI_z"]]
        write_trial(root, subject, 0, movie, data * 20.0, sf, elec["Electrode"].tolist(), loc, triggers)
        truth = elec.assign(subject=subject, weights=weights)
        truths.append(truth)
        log.info("simulated %s: %d electrodes, %.0f s at %.0f Hz (%s)", trial_name(subject, 0), len(elec),
                 n / sf, sf, truth["class"].value_counts().to_dict())
    truth = pd.concat(truths, ignore_index=True)
    write_table(root / "ground_truth.csv", truth)
    write_json(root / "simulation.json", {**asdict(settings), "seed": seed, "movie": movie})
    return truth
