"""The untrained CrossViT control and the claims registry: the control is the seed's initialisation, never
trained; the registry loads; a small run of the family's steps (images, simulate, init, score, summarize) for two
seeds emits every statistic the registry's claims name, for every seed, and no old-style findings."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from neuromodels.brainscore.data import world_image_dataset
from neuromodels.brainscore.models import build_crossvit, crossvit_config
from neuromodels.brainscore.presets import VARIANTS, get_preset
from neuromodels.brainscore.train import UNTRAINED, load_model, untrained_model
from neuromodels.cli import main
from neuromodels.core.claims import claims_table, load_registry
from neuromodels.core.findings import read_summary

PARAMS = json.dumps({"overrides": {"n_train": 32, "n_test": 64, "n_stimuli": 48, "pgd_steps": 1, "n_v4": 8, "n_it": 8}})


def run(*args: str) -> int:
    return main(["brainscore", *args, "--preset", "tiny", "--params", PARAMS])


def _fresh_init(seed: int, n_classes: int) -> dict[str, torch.Tensor]:
    """A fresh initialisation of the seed, written here without the family's helpers."""
    torch.manual_seed(seed)
    return build_crossvit(crossvit_config(get_preset("tiny").model), n_classes=n_classes).state_dict()


def test_untrained_control_is_the_seeds_initialisation_and_never_trained(tmp_path: Path) -> None:
    data = world_image_dataset(16, 8, 32, seed=0, categories=("disc", "triangle", "cross", "bar"))
    control = untrained_model(data, "tiny", seed=3)
    assert control.variant == UNTRAINED and control.meta["steps"] == 0 and control.meta["trained"] is False
    fresh, other = _fresh_init(3, data.n_classes), _fresh_init(4, data.n_classes)
    state = control.model.state_dict()
    assert set(state) == set(fresh)
    assert all(torch.equal(state[k], fresh[k]) for k in fresh)
    # another seed is another initialisation (the control follows the seed)
    assert not all(torch.equal(state[k], other[k]) for k in fresh if fresh[k].is_floating_point())
    # through the command line: the model file holds the same weights
    from neuromodels.brainscore.data import write_image_dataset

    write_image_dataset(tmp_path / "images.h5", data)
    assert run("init", "--data", str(tmp_path / "images.h5"), "--out", str(tmp_path / "m.pt"), "--seed", "3") == 0
    loaded = load_model(tmp_path / "m.pt")
    assert loaded.variant == UNTRAINED
    assert all(torch.equal(loaded.model.state_dict()[k], fresh[k]) for k in fresh)


def test_registry_loads_with_named_controls() -> None:
    claims = load_registry("brainscore")
    assert len(claims) >= 7 and len({c.id for c in claims}) == len(claims)
    comparative = [c for c in claims if c.comparative]
    assert {c.control for c in comparative} <= {"base", "untrained_crossvit"}
    assert any(c.control == "untrained_crossvit" for c in comparative)
    assert all(c.margin > 0 or c.direction == "below" for c in claims)  # no claim passes on a margin of zero


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    """The family's steps on small data for seeds 0 and 1: per seed its images and recordings, the untrained
    CrossViT of the seed and its scores; then `summarize` over every model of both seeds. Training is tested
    elsewhere: here the variants' rows are the control's score row under each variant's name (only that every
    claim's statistic is emitted is asserted, not its value)."""
    root = tmp_path_factory.mktemp("small_run")
    inputs, truths = [], []
    for seed in ("0", "1"):
        d = root / f"seed{seed}"
        assert run("images", "--out", str(d / "images.h5"), "--seed", seed) == 0
        assert run("simulate", "--out-dir", str(d / "neural"), "--seed", seed) == 0
        assert run("init", "--data", str(d / "images.h5"), "--out", str(d / "m.pt"), "--seed", seed) == 0
        assert (
            run(
                "score",
                "--model",
                str(d / "m.pt"),
                "--data",
                str(d / "images.h5"),
                "--assembly",
                str(d / "neural" / "assembly.nc"),
                "--stimuli",
                str(d / "neural" / "stimuli"),
                "--out-dir",
                str(d / UNTRAINED),
                "--seed",
                seed,
                "--device",
                "cpu",
                "--threads",
                "1",
            )
            == 0
        )
        row = json.loads((d / UNTRAINED / "summary.json").read_text())
        assert row["variant"] == UNTRAINED and row["seed"] == int(seed)
        inputs.append(str(d / UNTRAINED / "summary.json"))
        for name in VARIANTS:
            (d / f"{name}.json").write_text(json.dumps({**row, "variant": name}))
            inputs.append(str(d / f"{name}.json"))
        truths.append(str(d / "neural" / "truth.json"))
    assert (
        main(
            [
                "brainscore",
                "summarize",
                "--inputs",
                *inputs,
                "--table",
                str(root / "variants.csv"),
                "--figure",
                str(root / "variants.png"),
                "--findings",
                str(root / "summary.json"),
                "--truth",
                *truths,
                "--preset",
                "tiny",
            ]
        )
        == 0
    )
    return root


def test_small_run_emits_every_claims_statistics_for_every_seed(small_run: Path) -> None:
    summary = read_summary(small_run / "summary.json")
    assert summary["seeds"] == [0, 1] and summary["findings"] == []
    for claim in load_registry("brainscore"):
        for name in [claim.value] + ([claim.control_value] if claim.comparative else []):
            for seed in ("0", "1"):
                assert name in summary["statistics"][seed], (claim.id, name, seed)
    # evaluated centrally: every claim measured on both seeds
    table, seeds = claims_table([summary], families=["brainscore"])
    assert (table["status"] != "not measured").all(), table[["id", "detail"]]
    assert set(seeds["seed"]) == {0, 1}
    # the untrained CrossViT sits at chance: its PGD accuracy is reported undefined, not as robustness
    assert summary["statistics"]["0"][f"{UNTRAINED}.pgd_accuracy"] is None
    variants = pd.read_csv(small_run / "variants.csv")
    assert len(variants) == 2 * (len(VARIANTS) + 1) and "n_classes" in variants


def test_seeds_draw_their_own_data(small_run: Path) -> None:
    """Simulated images and recordings follow the seed: seed 1's are not seed 0's."""
    truth = [json.loads((small_run / f"seed{s}" / "neural" / "truth.json").read_text()) for s in (0, 1)]
    assert truth[0]["seed"] == 0 and truth[1]["seed"] == 1
    first = pd.read_csv(small_run / "seed0" / "neural" / "sites.csv")
    second = pd.read_csv(small_run / "seed1" / "neural" / "sites.csv")
    assert not first.equals(second)
    import h5py

    with h5py.File(small_run / "seed0" / "images.h5") as a, h5py.File(small_run / "seed1" / "images.h5") as b:
        assert not (a["images"][()] == b["images"][()]).all()
