"""One CLI: every family and step answers --help, and user errors are one line, not a traceback."""

from __future__ import annotations

import argparse

import pytest

from neuromodels.cli import build_parser, main


def _subcommands(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _subcommands(sub, (*prefix, name))


def test_every_subcommand_has_help(capsys):
    commands = list(_subcommands(build_parser()))
    assert ("bench",) in commands
    for command in commands:
        with pytest.raises(SystemExit) as info:
            main([*command, "--help"])
        assert info.value.code == 0
        assert "usage: neuromodels" in capsys.readouterr().out


def test_unknown_family_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["nope"])
    assert info.value.code == 2


@pytest.mark.parametrize(
    "command, params, key",
    [
        # a setting put at the wrong level is refused, not silently ignored (it belongs under "overrides")
        (
            ["brainscore", "train", "--variant", "base", "--data", "x.h5", "--out", "m.pt"],
            '{"epochs": 30}',
            "brainscore.epochs",
        ),
        (
            ["seeg", "targets", "--data", "rec", "--alignment", "vision", "--out", "t.npz"],
            '{"window": [0.5]}',
            "seeg.window",
        ),
        (
            ["seeg", "targets", "--data", "rec", "--alignment", "vision", "--out", "t.npz"],
            '{"refrence": "car"}',
            "seeg.refrence",
        ),
        (["decoding", "simulate", "--out", "d"], '{"n_subject": 3}', "decoding.n_subject"),
    ],
)
def test_params_are_checked_against_the_family_schema(tmp_path, monkeypatch, capsys, command, params, key):
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--params", params]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"config key '{key}'" in err[0], err
    assert not list(tmp_path.iterdir())  # refused before anything was written


def test_params_get_the_schema_defaults():
    from neuromodels.core.args import load_params

    seeg = load_params('{"window": [-0.2, 0.5]}', "seeg")
    assert seeg["window"] == [-0.2, 0.5] and seeg["bin_width"] == 0.1 and seeg["reference"] == "laplacian"
    assert load_params(None, "brainscore")["overrides"] == {}
    assert load_params('{"a": 1}') == {"a": 1}  # no family: parsed only


@pytest.mark.parametrize(
    "argv, line",
    [
        (["stimuli", "generate", "--out", "s", "--n", "0"], "option '--n': must be at least 1, got 0"),
        (["stimuli", "generate", "--out", "s", "--n", "4", "--size", "2"], "option '--size': must be between 16"),
    ],
)
def test_bad_options_are_named_as_options(tmp_path, monkeypatch, capsys, argv, line):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and line in err[0], err
    assert not list(tmp_path.iterdir())


def test_config_check_prints_the_filled_config_and_refuses_a_bad_one(tmp_path, capsys):
    from pathlib import Path

    import yaml

    schema = str(Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml")
    good = tmp_path / "good.yaml"
    good.write_text("preset: tiny\nseeg:\n  window: [-0.2, 0.5]\n")
    assert main(["config", "check", str(good), "--schema", schema]) == 0
    filled = yaml.safe_load(capsys.readouterr().out)
    assert filled["preset"] == "tiny" and filled["seeg"]["window"] == [-0.2, 0.5]
    assert filled["seeg"]["bin_width"] == 0.1 and filled["device"] == "auto"  # defaults filled in
    bad = tmp_path / "bad.yaml"
    bad.write_text("seeg:\n  windw: [0, 1]\n")
    assert main(["config", "check", str(bad), "--schema", schema]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "config key 'seeg.windw': unknown key" in err[0]
    assert main(["config", "check", str(tmp_path / "missing.yaml"), "--schema", schema]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_config_describe_lists_every_setting_with_its_default(capsys):
    assert main(["config", "describe", "seeg"]) == 0
    out = capsys.readouterr().out
    assert "seeg.window  [array]  default [-0.1, 0.6]" in out and "epoch window around each event" in out
    assert "seeg.data" in out and "seeg.frames" in out
    assert main(["config", "describe", "nope"]) == 2
    assert "known: benchmarks, brainscore" in capsys.readouterr().err
