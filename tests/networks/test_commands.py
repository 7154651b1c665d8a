"""`neuromodels networks train | embed` on a small stimulus set written by the stimuli package."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neuromodels.cli import main
from neuromodels.networks import embed_images, embed_texts, load_encoder, read_embeddings
from neuromodels.stimuli import read_stimulus_set, sample_scenes, write_stimulus_set


@pytest.fixture(scope="module")
def stimuli_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stimuli")
    write_stimulus_set(folder, sample_scenes(40, seed=4), size=32)
    return folder


def test_train_then_embed(stimuli_dir, tmp_path):
    out, ckpt = tmp_path / "clip" / "encoder.pt", tmp_path / "clip" / "checkpoint.pt"
    metrics, curve = tmp_path / "clip" / "metrics.json", tmp_path / "clip" / "curve.png"
    code = main(
        [
            "networks",
            "train",
            "--stimuli",
            str(stimuli_dir),
            "--objective",
            "clip",
            "--out",
            str(out),
            "--checkpoint",
            str(ckpt),
            "--metrics",
            str(metrics),
            "--curve",
            str(curve),
            "--preset",
            "tiny",
            "--params",
            json.dumps({"epochs": 2, "batch_size": 16, "lr": None}),
            "--seed",
            "1",
            "--device",
            "cpu",
            "--threads",
            "1",
        ]
    )
    assert code == 0
    _, text, meta = load_encoder(out)
    assert text is not None and meta["objective"] == "clip" and meta["seed"] == 1
    assert meta["settings"]["epochs"] == 2 and meta["settings"]["batch_size"] == 16
    report = json.loads(metrics.read_text())
    assert report["steps"] == 2 * (meta["n_train"] // 16) and len(report["history"]) == 2
    assert "val_caption_to_image" in report["final"]
    assert curve.stat().st_size > 0 and not ckpt.exists()  # the finished run's checkpoint is removed

    stimuli = read_stimulus_set(stimuli_dir)
    for what, suffix in (("images", ".h5"), ("captions", ".npz")):
        target = tmp_path / f"{what}{suffix}"
        assert (
            main(
                [
                    "networks",
                    "embed",
                    "--stimuli",
                    str(stimuli_dir),
                    "--encoder",
                    str(out),
                    "--what",
                    what,
                    "--out",
                    str(target),
                    "--device",
                    "cpu",
                ]
            )
            == 0
        )
        ids, emb = read_embeddings(target)
        assert ids == [str(i) for i in stimuli.stimulus_ids]
        expected = (
            embed_images(out, stimuli.images())
            if what == "images"
            else embed_texts(stimuli.table["caption"].tolist(), out)
        )
        np.testing.assert_allclose(emb, expected, rtol=1e-5, atol=1e-6)


def test_train_with_a_conv_stem_on_category_captions(stimuli_dir, tmp_path):
    """``networks: {stem: conv, captions: category}``: the image tower has the convolutional stem and the caption
    tower learned from captions that name only the categories (its words are those and "a", "and")."""
    out = tmp_path / "clip.pt"
    params = json.dumps({"epochs": 1, "batch_size": 16, "stem": "conv", "captions": "category"})
    args = ["networks", "train", "--stimuli", str(stimuli_dir), "--objective", "clip", "--out", str(out)]
    assert main([*args, "--preset", "tiny", "--params", params, "--device", "cpu", "--threads", "1"]) == 0
    vision, text, meta = load_encoder(out)
    assert meta["settings"]["stem"] == "conv" and meta["settings"]["captions"] == "category"
    assert vision.config["stem"] == "conv" and isinstance(vision.patch_embed, torch.nn.Sequential)
    categories = set(read_stimulus_set(stimuli_dir).table["category"].dropna())
    assert set(text.vocab[3:]) == categories | {"a", "and"} or set(text.vocab[3:]) == categories | {"a"}


def test_user_errors_are_one_line(stimuli_dir, tmp_path, capsys):
    code = main(
        [
            "networks",
            "train",
            "--stimuli",
            str(tmp_path / "nowhere"),
            "--objective",
            "simclr",
            "--out",
            str(tmp_path / "e.pt"),
            "--preset",
            "tiny",
            "--device",
            "cpu",
        ]
    )
    assert code == 2
    assert "stimuli.csv: stimulus table not found" in capsys.readouterr().err
    code = main(
        [
            "networks",
            "embed",
            "--stimuli",
            str(stimuli_dir),
            "--encoder",
            "minilm",
            "--what",
            "images",
            "--out",
            str(tmp_path / "x.h5"),
            "--device",
            "cpu",
        ]
    )
    assert code == 2
    assert "embeds captions, not images" in capsys.readouterr().err
    code = main(
        [
            "networks",
            "embed",
            "--stimuli",
            str(stimuli_dir),
            "--encoder",
            str(tmp_path / "none.pt"),
            "--out",
            str(tmp_path / "x.h5"),
            "--device",
            "cpu",
        ]
    )
    assert code == 2
    assert "none.pt: file not found" in capsys.readouterr().err


def test_benchmark_writes_timings_and_ratios(tmp_path):
    out = tmp_path / "networks.json"
    assert (
        main(
            [
                "bench",
                "networks",
                "--out",
                str(out),
                "--preset",
                "tiny",
                "--objective",
                "clip",
                "--steps",
                "1",
                "--device",
                "cpu",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    assert {r["backend"] for r in report["runs"]} == {"reference", "sdpa"}
    assert all(r["samples_per_second"] > 0 and r["batch_size"] == 64 for r in report["runs"])
    assert report["ratios"]["sdpa_over_reference_fp32"] > 0
    assert report["environment"]["torch"]
