"""Per-rule timings from Snakemake's benchmark files: grouped by rule, wall time from start to end."""

from __future__ import annotations

import os

import pytest

from neuromodels.core.errors import DataError
from neuromodels.core.rule_timings import dag_timing, rule_of, rule_table

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(path, seconds, end, cpu=1.0, rss=100.0):
    path.write_text(HEADER + f"{seconds}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t0\t{cpu}\n")
    os.utime(path, (end, end))
    return path


def test_jobs_grouped_by_the_longest_matching_rule():
    rules = ["decoding_train", "decoding_train_joint", "seeg_encode"]
    assert rule_of("decoding_train_mindbridge_0", rules) == "decoding_train"
    assert rule_of("decoding_train_joint_0", rules) == "decoding_train_joint"
    assert rule_of("seeg_encode", rules) == "seeg_encode"


def test_table_and_wall_time(tmp_path):
    a = _bench(tmp_path / "train_a.tsv", 10.0, end=1000.0, cpu=9.0, rss=300)
    b = _bench(tmp_path / "train_b.tsv", 20.0, end=1015.0, cpu=19.0, rss=200)  # ran beside a (2 cores)
    c = _bench(tmp_path / "score.tsv", 5.0, end=1030.0, cpu=4.0)
    table = rule_table([a, b, c], rules=["train", "score"])
    train = table.set_index("rule").loc["train"]
    assert train["jobs"] == 2 and train["seconds"] == 30.0 and train["longest_s"] == 20.0
    assert train["cpu_seconds"] == 28.0 and train["max_rss_mb"] == 300
    assert table["share"].sum() == pytest.approx(1.0)
    dag = dag_timing([a, b, c], rules=["train", "score"], cores=2)
    assert dag["wall_seconds"] == pytest.approx(1030.0 - 990.0)  # first start (1000-10) to last end
    assert dag["job_seconds"] == 35.0 and dag["core_busy_share"] == pytest.approx(35.0 / 80.0)


def test_not_a_benchmark_file_names_it(tmp_path):
    bad = tmp_path / "x.tsv"
    bad.write_text("a\tb\n1\t2\n")
    with pytest.raises(DataError, match="x.tsv: not a Snakemake benchmark file"):
        rule_table([bad])
