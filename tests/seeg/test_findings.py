"""The family's statistics and claims: each trained model and its controls (random_init, shuffled_time) are
measured per seed on the electrodes its inputs drive; a statistic over no electrode (or a precision of no call) is
undefined, never a number; the family summary keeps every seed; the registry loads and every claim's statistics
are emitted; the shuffled_time control breaks the feature-recording pairing and keeps each feature's values."""

import numpy as np
import pandas as pd
import pytest

from neuromodels.core.claims import claims_table, load_registry
from neuromodels.core.errors import DataError
from neuromodels.core.findings import Summary, read_summary, write_summary
from neuromodels.seeg.encoding import ModelFeatures, encode_alignment, shift_events, shuffled_offset
from neuromodels.seeg.evaluate import combine_summaries, measure_statistics
from neuromodels.seeg.ladder import detection_scores, ladder
from neuromodels.seeg.ridge import pearson_r

MODALITIES = {
    "simclr": "vision",
    "simclr-random": "vision",
    "minilm": "language",
    "minilm-random": "language",
    "clip": "multimodal",
    "clip-random": "multimodal",
    "slip": "multimodal",
    "slip-random": "multimodal",
}


def _electrodes(truth=("vision", "vision", "language", "multimodal", "multimodal", "noise"), called=None):
    """An electrodes table as the evaluate step writes it: trained r 0.3, random-init 0.2, shuffled 0.05; the
    trained models beat random on the first driven electrode only and beat shuffled everywhere."""
    n = len(truth)
    el = pd.DataFrame({"truth": list(truth), "signal_any": [t != "noise" for t in truth]})
    for m in MODALITIES:
        if m.endswith("-random"):
            continue
        el[f"r_{m}_best"] = 0.3
        el[f"r_{m}-random_best"] = 0.2
        el[f"r_{m}-shuffled_best"] = 0.05
        el[f"{m}_vs_random_any"] = np.arange(n) == 0
        el[f"{m}_vs_shuffled_any"] = True
    planted = el["truth"].to_numpy() == "multimodal"
    calls = planted if called is None else np.asarray(called, bool)
    det = {"multimodal_weak": detection_scores(calls, planted)}
    return el, det


def test_statistics_of_each_model_and_its_controls():
    s = Summary("seeg")
    el, det = _electrodes()
    measure_statistics(s, 3, el, MODALITIES, det)
    stats = s.statistics["3"]
    for m in ("simclr", "minilm", "clip", "slip"):
        assert stats[f"{m}.mean_r.driven"] == pytest.approx(0.3)
        assert stats[f"{m}_random_init.mean_r.driven"] == pytest.approx(0.2)
        assert stats[f"{m}_shuffled_time.mean_r.driven"] == pytest.approx(0.05)
        assert stats[f"{m}.beats_shuffled_time.driven"] == 1.0
    # the driven electrodes: vision for SimCLR (2, the first wins), language for MiniLM (1, not the first),
    # vision + language + multimodal for the dual encoders (5, the first wins)
    assert stats["simclr.beats_random_init.driven"] == 0.5
    assert stats["minilm.beats_random_init.driven"] == 0.0
    assert stats["clip.beats_random_init.driven"] == pytest.approx(0.2)
    assert stats["multimodal_detection.precision"] == 1.0 and stats["multimodal_detection.recall"] == 1.0
    assert s.notes["driven_electrodes"]["simclr"] == {
        "electrodes": 2,
        "of": "planted vision/semantic_vision electrodes",
        "semantic": 0,
        "low_level": 2,
    }
    assert not s.findings


SPLIT_TRUTH = ("vision", "semantic_vision", "semantic_vision", "language", "semantic_language", "multimodal", "noise")


def test_statistics_split_into_semantic_and_low_level_electrodes():
    """Trained r 0.5 on semantic electrodes and 0.3 on the others; random-init 0.2 everywhere but 0.29 on the
    low-level language electrode; shuffled 0.05: each split averages its own classes only."""
    s = Summary("seeg")
    el, det = _electrodes(truth=SPLIT_TRUTH)
    semantic = el["truth"].str.startswith("semantic_").to_numpy()
    for m in ("simclr", "minilm", "clip", "slip"):
        el[f"r_{m}_best"] = np.where(semantic, 0.5, 0.3)
        el[f"r_{m}-random_best"] = np.where(el["truth"] == "language", 0.29, 0.2)
        el[f"{m}_vs_random_any"] = semantic
    measure_statistics(s, 0, el, MODALITIES, det)
    st = s.statistics["0"]
    # SimCLR: semantic vision (2 electrodes) vs vision (1); MiniLM: semantic language (1) vs language (1)
    assert st["simclr.mean_r.semantic"] == pytest.approx(0.5) and st["simclr.mean_r.low_level"] == pytest.approx(0.3)
    assert st["simclr_random_init.mean_r.low_level"] == pytest.approx(0.2)
    assert st["simclr.abs_diff_random_init.low_level"] == pytest.approx(0.1)
    assert st["minilm.abs_diff_random_init.low_level"] == pytest.approx(0.01)
    assert st["minilm.abs_diff_random_init.semantic"] == pytest.approx(0.3)
    assert st["simclr.beats_random_init.semantic"] == 1.0 and st["simclr.beats_random_init.low_level"] == 0.0
    assert st["minilm_shuffled_time.mean_r.semantic"] == pytest.approx(0.05)
    # the dual encoders: semantic vision + semantic language (3) vs vision + language (2); multimodal in neither
    assert st["clip.mean_r.semantic"] == pytest.approx(0.5)
    assert st["clip_random_init.mean_r.low_level"] == pytest.approx((0.2 + 0.29) / 2)
    assert s.notes["driven_electrodes"]["clip"]["semantic"] == 3
    assert s.notes["driven_electrodes"]["clip"]["low_level"] == 2
    assert s.notes["driven_electrodes"]["clip"]["electrodes"] == 6  # driven: both splits and multimodal


def test_split_statistics_undefined_without_those_electrodes_or_on_real_recordings():
    s = Summary("seeg")
    el, det = _electrodes()  # no semantic electrode planted
    measure_statistics(s, 0, el, MODALITIES, det)
    for name in (
        "simclr.mean_r.semantic",
        "simclr_random_init.mean_r.semantic",
        "simclr.abs_diff_random_init.semantic",
        "minilm.beats_random_init.semantic",
    ):
        assert s.statistics["0"][name] is None and "no planted semantic" in s.undefined["0"][name]
    assert s.statistics["0"]["simclr.abs_diff_random_init.low_level"] == pytest.approx(0.1)
    measure_statistics(s, 1, el.drop(columns="truth"), MODALITIES, None)
    for name in ("clip.mean_r.low_level", "clip.abs_diff_random_init.semantic", "clip.beats_shuffled_time.semantic"):
        assert s.statistics["1"][name] is None and "real recordings" in s.undefined["1"][name]


def test_degenerate_statistics_are_undefined_with_their_reason():
    s = Summary("seeg")
    el, det = _electrodes(truth=("language", "multimodal", "noise"), called=[False, False, False])
    measure_statistics(s, 0, el, MODALITIES, det)
    stats, why = s.statistics["0"], s.undefined["0"]
    for name in ("simclr.mean_r.driven", "simclr_random_init.mean_r.driven", "simclr.beats_random_init.driven"):
        assert stats[name] is None and "no planted vision/semantic_vision electrodes analysed" in why[name]
    assert stats["multimodal_detection.precision"] is None and "no call" in why["multimodal_detection.precision"]
    assert stats["multimodal_detection.recall"] == 0.0  # one planted, none found: a defined (bad) recall
    el, det = _electrodes(truth=("vision", "noise"))
    measure_statistics(s, 1, el, MODALITIES, det)
    assert s.statistics["1"]["multimodal_detection.recall"] is None
    assert "no planted multimodal" in s.undefined["1"]["multimodal_detection.recall"]


def test_real_recordings_score_the_electrodes_with_signal():
    s = Summary("seeg")
    el, _ = _electrodes()
    measure_statistics(s, 0, el.drop(columns="truth"), MODALITIES, None)
    assert s.notes["driven_electrodes"]["simclr"] == {"electrodes": 5, "of": "electrodes with signal"}
    assert s.statistics["0"]["simclr.beats_random_init.driven"] == pytest.approx(0.2)
    assert "multimodal_detection.precision" not in s.statistics["0"]


def _seed_summaries(tmp_path, seeds=(0, 1)):
    paths = []
    for seed in seeds:
        s = Summary("seeg", preset="tiny", seed=seed)
        el, det = _electrodes(truth=SPLIT_TRUTH, called=[False] * 7 if seed == 1 else None)
        measure_statistics(s, seed, el, MODALITIES, det)
        s.notes["targets"] = {"language": {"events": 10 + seed}}
        paths.append(tmp_path / f"seed{seed}.json")
        write_summary(paths[-1], s)
    return paths


def test_family_summary_keeps_every_seed(tmp_path):
    paths = _seed_summaries(tmp_path)
    combine_summaries(paths, tmp_path / "summary.json")
    out = read_summary(tmp_path / "summary.json")
    assert out["seeds"] == [0, 1] and out["findings"] == [] and out["preset"] == "tiny"
    assert out["statistics"]["0"]["multimodal_detection.precision"] == 1.0
    assert out["statistics"]["1"]["multimodal_detection.precision"] is None
    assert "no call" in out["undefined"]["1"]["multimodal_detection.precision"]
    assert out["notes"]["seed1"]["targets"]["language"]["events"] == 11
    assert "detection" in out["notes"]["seed0"]
    with pytest.raises(DataError, match="second summary of seed 0"):
        combine_summaries([paths[0], paths[0]], tmp_path / "twice.json")


def test_registry_loads_and_every_claim_is_measured(tmp_path):
    claims = load_registry("seeg")
    assert {c.control for c in claims if c.comparative} == {"random_init", "shuffled_time"}
    for model in ("simclr", "minilm", "clip", "slip"):
        assert {f"{model}_beats_random_init", f"{model}_beats_shuffled_time"} <= {c.id for c in claims}
    combine_summaries(_seed_summaries(tmp_path), tmp_path / "summary.json")
    summary = read_summary(tmp_path / "summary.json")
    for claim in claims:
        for seed in ("0", "1"):
            assert claim.value in summary["statistics"][seed], (claim.id, seed)
            assert not claim.comparative or claim.control_value in summary["statistics"][seed], (claim.id, seed)
    table, seeds = claims_table([summary], ["seeg"], {"seeg": claims})
    assert "not measured" not in set(table["status"])
    assert set(seeds["seed"]) == {0, 1}
    # every model clears random-init by 0.1 and shuffled by 0.25 on both seeds; the precision of seed 1 is undefined
    rows = table.set_index("id")
    assert rows.loc["clip_beats_random_init", "status"] == "reproduced"
    assert rows.loc["multimodal_detection_precision", "n_seeds"] == 1
    assert rows.loc["multimodal_detection_precision", "status"] == "inconclusive"


def test_shuffled_offset_is_seeded_and_far_from_the_events_own_neighbours():
    offsets = [shuffled_offset(900, seed, "language") for seed in range(20)]
    assert all(300 <= o <= 600 for o in offsets) and len(set(offsets)) > 5
    assert shuffled_offset(900, 3, "language") == shuffled_offset(900, 3, "language")
    assert shuffled_offset(900, 3, "vision") != shuffled_offset(900, 3, "language") or shuffled_offset(
        900, 4, "vision"
    ) != shuffled_offset(900, 4, "language")
    x = np.arange(12).reshape(6, 2)
    shifted = shift_events(x, 2)
    assert (shifted[2] == x[0]).all() and (np.sort(shifted, 0) == x).all()


def test_shuffled_time_breaks_the_pairing_and_keeps_each_feature():
    """Planted data: scenes of 8 events share one image's features; electrodes follow the features linearly. The
    trained model predicts them, its shuffled_time control (the same features shifted in time) does not, and the
    ladder's trained-vs-shuffled test passes on every driven electrode."""
    gen = np.random.default_rng(0)
    scenes, per_scene, n_el, n_bins = 90, 8, 4, 2
    feats = np.repeat(gen.standard_normal((scenes, 6)), per_scene, axis=0).astype(np.float32)
    n = len(feats)
    weights = gen.standard_normal((6, n_el * n_bins))
    Y = (feats @ weights + 1.5 * gen.standard_normal((n, n_el * n_bins))).astype(np.float32)
    models = {
        "vis": ModelFeatures("vis", "vision", {"image.head": feats}, image_output="image.head"),
        "vis-random": ModelFeatures(
            "vis-random",
            "vision",
            {"image.head": gen.standard_normal((n, 6)).astype(np.float32)},
            trained=False,
            image_output="image.head",
            seed=1,
        ),
    }
    offset = shuffled_offset(n, 0, "vision")
    out = encode_alignment(
        Y, models, n_blocks=6, n_outer=3, n_inner=3, alphas=[0.1, 10.0, 1000.0], backend="numpy", shuffle_offset=offset
    )
    assert int(out["shuffled_offset"]) == offset and "pred/vis-random-shuffled" not in out  # trained models only
    r_model = pearson_r(Y, out["pred/vis"])
    r_shuffled = pearson_r(Y, out["pred/vis-shuffled"])
    assert r_model.mean() > 0.5
    assert abs(r_shuffled.mean()) < 0.1 and np.abs(r_shuffled).max() < 0.25
    # the same feature statistics: every column keeps its values (mean, s.d., sorted values)
    shifted = shift_events(feats, offset)
    np.testing.assert_array_equal(np.sort(shifted, 0), np.sort(feats, 0))
    np.testing.assert_allclose(shifted.std(0), feats.std(0), rtol=1e-6)
    preds = {k.split("/", 1)[1]: v for k, v in out.items() if k.startswith("pred/")}
    table, _ = ladder(Y, preds, n_el, {m: f.modality for m, f in models.items()}, "vis", n_boot=200, min_bins=1)
    assert table["vis_vs_shuffled"].all()
