"""The claims registries and their evaluation over seeds: statuses follow the interval, never the expectation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from neuromodels.core.claims import (
    FAMILIES,
    Claim,
    claims_table,
    evaluate,
    load_registry,
    markdown_table,
    replace_block,
    status_of,
    t_interval,
)
from neuromodels.core.errors import DataError
from neuromodels.core.findings import Summary, read_summary, write_summary


def claim(**kw) -> Claim:
    base = dict(
        family="gaze",
        id="c",
        claim="OAT beats the walk",
        source="paper, Table 1",
        statistic="Sequence Score difference",
        value="oat.ss",
        direction="above",
        margin=0.02,
        margin_why="resolution",
        control="walk",
        control_value="walk.ss",
    )
    base.update(kw)
    return Claim(**base)


def summary_with(values: dict[int, dict[str, float | None]], undefined: dict[int, dict[str, str]] | None = None):
    s = Summary("gaze", preset="tiny")
    for seed, stats in values.items():
        for name, v in stats.items():
            why = (undefined or {}).get(seed, {}).get(name)
            s.measure(seed, name, v, undefined=why)
    return s.to_dict()


def test_t_interval_matches_the_textbook_formula():
    x = [0.1, 0.3, 0.2]
    mean, low, high = t_interval(x)
    half = 4.302652729911275 * np.std(x, ddof=1) / math.sqrt(3)  # t(0.975, 2)
    assert mean == pytest.approx(0.2) and low == pytest.approx(0.2 - half) and high == pytest.approx(0.2 + half)
    assert math.isnan(t_interval([0.5])[1]) and math.isnan(t_interval([])[0])


@pytest.mark.parametrize(
    "low, high, direction, expected",
    [
        (0.03, 0.10, "above", "reproduced"),
        (-0.1, 0.01, "above", "not reproduced"),
        (0.0, 0.05, "above", "inconclusive"),
        (-0.2, -0.05, "below", "reproduced"),
        (0.03, 0.2, "below", "not reproduced"),
        (float("nan"), float("nan"), "above", "inconclusive"),
    ],
)
def test_status_follows_the_interval_and_the_margin(low, high, direction, expected):
    margin = 0.02 if direction == "above" else 0.02
    assert status_of(low, high, margin, direction) == expected


def test_comparative_claim_over_three_seeds_is_reproduced_only_when_the_interval_clears():
    c = claim()
    good = summary_with({s: {"oat.ss": 0.5 + d, "walk.ss": 0.4} for s, d in enumerate([0.0, 0.01, 0.02])})
    row, seeds = evaluate(c, good)
    assert row["status"] == "reproduced" and row["n_seeds"] == 3
    assert row["mean"] == pytest.approx(0.11) and row["control"] == "walk"
    assert [r["difference"] for r in seeds] == pytest.approx([0.1, 0.11, 0.12])
    noisy = summary_with({s: {"oat.ss": 0.4 + d, "walk.ss": 0.4} for s, d in enumerate([0.2, -0.1, 0.05])})
    assert evaluate(c, noisy)[0]["status"] == "inconclusive"
    losing = summary_with({s: {"oat.ss": 0.3 + d, "walk.ss": 0.4} for s, d in enumerate([0.0, 0.01, 0.02])})
    assert evaluate(c, losing)[0]["status"] == "not reproduced"


def test_one_seed_is_inconclusive_at_most():
    one = summary_with({0: {"oat.ss": 0.9, "walk.ss": 0.1}})
    row, _ = evaluate(claim(), one)
    assert row["status"] == "inconclusive" and row["n_seeds"] == 1 and row["mean"] == pytest.approx(0.8)
    assert "no interval" in row["detail"]


def test_lower_is_better_metrics_and_non_comparative_claims():
    delta = claim(value="oat.delta", control_value="walk.delta", difference="control_minus_model")
    s = summary_with({k: {"oat.delta": 0.2, "walk.delta": 0.5 + 0.01 * k} for k in range(3)})
    assert evaluate(delta, s)[0]["status"] == "reproduced"
    precision = claim(value="precision", control=None, control_value=None, margin=0.8)
    s = summary_with({k: {"precision": 0.9 + 0.01 * k} for k in range(3)})
    row, _ = evaluate(precision, s)
    assert row["status"] == "reproduced" and row["control"] == ""
    small = claim(value="abs_index", control=None, control_value=None, margin=0.1, direction="below")
    s = summary_with({k: {"abs_index": 0.02 + 0.01 * k} for k in range(3)})
    assert evaluate(small, s)[0]["status"] == "reproduced"


def test_undefined_statistics_are_not_numbers_and_are_explained():
    s = summary_with(
        {0: {"oat.ss": 0.5, "walk.ss": 0.4}, 1: {"oat.ss": None, "walk.ss": 0.4}, 2: {"oat.ss": 0.6, "walk.ss": 0.4}},
        undefined={1: {"oat.ss": "every method within 2 SE of chance"}},
    )
    row, seeds = evaluate(claim(), s)
    assert row["n_seeds"] == 2 and seeds[1]["difference"] is None
    assert "seed 1 undefined (oat.ss: every method within 2 SE of chance)" in row["detail"]
    with pytest.raises(ValueError, match="give the reason"):
        Summary("gaze").measure(0, "x", float("nan"))


def test_a_claim_the_run_did_not_measure_stays_in_the_table():
    s = summary_with({0: {"other": 1.0}})
    row, seeds = evaluate(claim(), s)
    assert row["status"] == "not measured" and "oat.ss and walk.ss" in row["detail"] and seeds == []
    table, _ = claims_table([], families=["gaze"], registries={"gaze": [claim()]})
    assert table["status"].tolist() == ["not measured"]


def test_summary_round_trip_keeps_statistics_per_seed(tmp_path):
    s = Summary("gaze", preset="tiny", notes={"dropped": 2})
    s.measure(1, "a", 0.5)
    s.measure(0, "a", 0.25)
    s.measure(0, "b", None, undefined="both slopes under the floor")
    write_summary(tmp_path / "summary.json", s)
    data = read_summary(tmp_path / "summary.json")
    assert data["seeds"] == [0, 1] and data["statistics"]["0"] == {"a": 0.25, "b": None}
    assert data["undefined"] == {"0": {"b": "both slopes under the floor"}} and data["notes"] == {"dropped": 2}
    table, seeds = claims_table(
        [data], families=["gaze"], registries={"gaze": [claim(value="a", control=None, control_value=None)]}
    )
    assert table.loc[0, "n_seeds"] == 2 and list(seeds["seed"]) == [0, 1]


def write_registry(tmp_path, claims) -> str:
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"family": "gaze", "claims": claims}))
    return str(path)


GOOD = {
    "id": "a",
    "claim": "x",
    "source": "p",
    "statistic": "s",
    "value": "v",
    "direction": "above",
    "margin": 0.1,
    "margin_why": "w",
    "control": "c",
    "control_value": "cv",
}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"margin": None}, "missing margin"),
        ({"colour": "red"}, "unknown key"),
        ({"direction": "up"}, "direction"),
        ({"control_value": None}, "control needs its statistic"),
        ({"margin": "big"}, "not a number"),
        ({"difference": "ratio"}, "difference must be"),
    ],
)
def test_registry_refuses_what_cannot_be_evaluated(tmp_path, change, message):
    path = write_registry(tmp_path, [{**GOOD, **change}])
    with pytest.raises(DataError, match=message):
        load_registry("gaze", path)


def test_registry_ids_are_unique_and_the_family_matches(tmp_path):
    with pytest.raises(DataError, match="used twice"):
        load_registry("gaze", write_registry(tmp_path, [GOOD, GOOD]))
    assert load_registry("gaze", write_registry(tmp_path, [GOOD]))[0].control == "c"
    with pytest.raises(DataError, match="family: seeg"):
        load_registry("seeg", write_registry(tmp_path, [GOOD]))


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_registry_loads_with_sources_and_reasons(family):
    claims = load_registry(family)
    assert claims, family
    for c in claims:
        assert c.source.strip() and c.margin_why.strip() and c.claim.strip(), c.id


def test_readme_block_is_replaced_between_the_markers():
    table, _ = claims_table(
        [summary_with({k: {"oat.ss": 0.5, "walk.ss": 0.4 - 0.01 * k} for k in range(3)})],
        families=["gaze"],
        registries={"gaze": [claim()]},
    )
    block = markdown_table(table, commit="abc1234", date="2026-12-06")
    assert "abc1234" in block and "| gaze | OAT beats the walk | walk |" in block and "reproduced" in block
    text = "intro\n<!-- findings:start -->\nold\n<!-- findings:end -->\nrest\n"
    new = replace_block(text, block)
    assert new.startswith("intro\n") and new.endswith("rest\n") and "old" not in new
    with pytest.raises(DataError, match="no '<!-- findings:start -->'"):
        replace_block("no markers", block)


def test_one_family_rows_from_another_run_keep_their_place_and_commit(tmp_path, capsys):
    from neuromodels.cli import main

    def run(k_gain):
        table, _ = claims_table(
            [
                summary_with({k: {"oat.ss": 0.5, "walk.ss": 0.4 - k_gain * k} for k in range(3)}),
                {**summary_with({k: {"oat.ss": 0.5, "walk.ss": 0.6} for k in range(3)}), "family": "search"},
            ],
            families=["gaze", "search"],
            registries={"gaze": [claim()], "search": [claim(family="search")]},
        )
        return table

    base, newer = run(0.01), run(0.001)
    base.loc[base["family"] == "gaze", "status"] = "inconclusive"  # what the older run said
    base.to_csv(tmp_path / "base.csv", index=False)
    newer.to_csv(tmp_path / "gaze.csv", index=False)
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- findings:start -->\nold\n<!-- findings:end -->\n")
    main(
        [
            "findings",
            "readme",
            "--table",
            str(tmp_path / "base.csv"),
            "--readme",
            str(readme),
            "--commit",
            "aaa1111",
            "--date",
            "2026-12-07",
            "--family-from",
            f"gaze={tmp_path / 'gaze.csv'}@bbb2222",
        ]
    )
    text = readme.read_text()
    assert "commit aaa1111, 2026-12-07; gaze's rows at commit bbb2222." in text
    assert "from the findings tables of 2 runs" in text
    rows = [line for line in text.splitlines() if line.startswith("| gaze") or line.startswith("| search")]
    assert [r.split(" | ")[0] for r in rows] == ["| gaze", "| search"]  # the family keeps its place
    assert "reproduced" in rows[0] and "inconclusive" not in rows[0]  # the newer run's gaze row
    assert "not reproduced" in rows[1]  # search from the base table
    args = ["findings", "readme", "--table", str(tmp_path / "base.csv"), "--readme", str(readme)]
    for spec, line in (("gaze=nothing.csv", "'--family-from': must read"), (f"seeg={tmp_path / 'gaze.csv'}@c", "seeg")):
        assert main([*args, "--family-from", spec]) == 2
        assert line in capsys.readouterr().err
