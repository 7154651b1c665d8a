"""The Snakemake DAG as a user meets it: dry runs, lint, the SLURM profile, and one tiny end-to-end run."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, run_snakemake, scratch_workdir


def test_dry_run_lists_every_family_target(tmp_path):
    out = run_snakemake("-n", "--cores", "2", cwd=scratch_workdir(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    for job in ("stimuli_world", "bench_attention"):
        assert job in out.stdout


def test_every_seed_writes_its_own_files(tmp_path):
    """The tiny run draws seed 0 for most families (tiny_seeds); a dry run of the same config over seeds 0 and 1
    for every family shows the DAG over several seeds: every file of seed 0 has its seed-1 twin from a job of its own, and each summary waits for
    both seeds' jobs."""
    import re

    work = scratch_workdir(tmp_path)
    out = run_snakemake("-n", "--cores", "2", *tiny_config(work, seeds=(0, 1)), cwd=work)
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    outputs = [
        f
        for line in out.stdout.splitlines()
        if line.strip().startswith("output:")
        for f in line.split(":", 1)[1].replace(",", " ").split()
    ]
    seeded = {0: set(), 1: set()}
    for path in outputs:
        found = {int(s) for s in re.findall(r"seed(\d+)", path)}
        assert len(found) <= 1, path
        for seed in found:
            seeded[seed].add(path)
    assert seeded[0] and {p.replace("seed0", "seed1") for p in seeded[0]} == seeded[1]
    assert len(outputs) == len(set(outputs))  # no file written by two jobs
    summary = out.stdout[out.stdout.index("rule brainscore_summary:") :]
    inputs = summary[: summary.index("\n\n")]
    assert "seed0/summary.json" in inputs and "seed1/summary.json" in inputs


def test_wrong_config_value_stops_with_one_line(tmp_path):
    out = run_snakemake("-n", "--cores", "1", "--config", "preset=huge", cwd=scratch_workdir(tmp_path))
    assert out.returncode != 0
    assert "neuromodels: config key 'preset': 'huge' is not one of" in out.stderr + out.stdout


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"seeg": {"simulation": {"n_subject": 2}}}, "seeg.simulation.n_subject"),
        ({"gaze": {"overrides": {"epoch": 2}}}, "gaze.overrides.epoch"),
    ],
)
def test_an_unknown_key_of_a_free_section_stops_the_run_before_any_job(tmp_path, section, key):
    """seeg.simulation and the families' overrides take the names of the settings they override: a misspelt one
    stops the dry run with one line naming it (not the first job that reads it)."""
    import yaml

    work = scratch_workdir(tmp_path)
    (work / "bad.yaml").write_text(yaml.safe_dump(section))
    out = run_snakemake("-n", "--cores", "1", "--configfile", str(work / "bad.yaml"), cwd=work)
    assert out.returncode != 0
    text = out.stderr + out.stdout
    assert f"neuromodels: config key '{key}': not a " in text, text[-2000:]
    assert "Traceback" not in text


def test_lint_is_clean():
    out = run_snakemake("--lint", "--cores", "1")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_slurm_profile_dry_run_lists_resources(tmp_path):
    pytest.importorskip("snakemake_executor_plugin_slurm")
    work = scratch_workdir(tmp_path)
    out = run_snakemake(
        "-n", "--profile", str(ROOT / "workflow" / "profiles" / "slurm"), "--config", "device=cuda", cwd=work
    )
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    text = out.stdout + out.stderr
    assert "bench_attention" in text and "mem_mb=" in text and "runtime=" in text
    assert "slurm_partition=" in text  # string resources are resolved at submission time
    bench = text[text.index("rule bench_attention:") :]
    assert "gpu=1" in bench[: bench.index("Shell command")]
    assert "threads: 4" in bench[: bench.index("Shell command")]  # the profile's fixed benchmark threads


def test_device_auto_asks_for_gpus_only_where_there_are_some(tmp_path):
    """With `device: auto` on a machine without a GPU, no job takes the profile's single `gpu` slot, so the
    GPU-capable jobs run side by side on the cores instead of one at a time."""
    from neuromodels.core.gpus import visible_gpus

    work = scratch_workdir(tmp_path)
    out = run_snakemake("-n", "-p", "--cores", "2", "--config", "device=auto", cwd=work)
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    text = out.stdout + out.stderr
    expected = "gpu=1" if visible_gpus() else "gpu=0"
    train = text[text.index("rule brainscore_train:") :]
    assert expected in train[: train.index("\n\n")]


def test_benchmarks_take_every_local_core(tmp_path):
    """With bench_threads=0 (`make benchmarks`) a benchmark job asks for all --cores, so no other job runs beside
    it and skews its timings; by default it takes one core beside the other jobs."""
    work = scratch_workdir(tmp_path)
    plain = run_snakemake("-n", "-p", "--cores", "3", "benchmarks", cwd=work)
    assert plain.returncode == 0, plain.stderr[-3000:] + plain.stdout[-3000:]
    text = plain.stdout + plain.stderr
    bench = text[text.index("rule bench_attention:") :]
    assert "--threads 1" in bench[: bench.index("\n\n")]
    out = run_snakemake("-n", "-p", "--cores", "3", "benchmarks", "--config", "bench_threads=0", cwd=work)
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    text = out.stdout + out.stderr
    bench = text[text.index("rule bench_attention:") :]
    assert "--threads 3" in bench[: bench.index("\n\n")]


# Every family ends in results/<family>/summary.json with its statistics per seed; findings.csv evaluates every
# family's claims registry on them.
FAMILIES_WITH_FINDINGS = ("decoding", "seeg", "brainscore", "gaze", "search")
from tests.conftest import TINY_SEEDS, tiny_config, tiny_seeds  # noqa: E402  (the seeds of the tiny run)
from tests.test_own_model import NAME as OWN_MODEL_NAME  # noqa: E402  (declared in the tiny run)

# Claims asserted on the tiny run: those whose per-seed value clears the margin on every seed the tiny run draws
# for the family (a claim that does not hold at tiny is still evaluated and listed, just not asserted). Chosen
# from the families' tiny runs over seeds 0 and 1, when CI ran both for every family, leaving out those that
# cleared by less than a tenth of their margin on either seed (a change anywhere in the DAG's random draws could
# tip them; they are evaluated all the same). CI now runs seeds 0 and 1 for SEEG and seed 0 for the others
# (tiny_seeds): the set stays the one chosen on both seeds, none added for holding on seed 0 alone.
HOLDS_AT_TINY: set[str] = {
    # decoding: one joint model near the best single-subject ones; adaptation above scratch and shuffled pairs
    "joint_mindbridge_matches_single_subject_models",
    "joint_mindbridge_decodes_every_source_subject",
    "reset_tuning_beats_scratch_at_few_images",
    "reset_tuning_beats_shuffled_stimuli",
    "finetuning_beats_scratch_at_few_images",
    "linear_adapter_beats_scratch_at_few_images",
    # seeg: every model above its time-shuffled features; planted multimodal sites found; MiniLM's word meaning
    *(
        f"{m}_beats_shuffled_time{part}"
        for m in ("simclr", "minilm", "clip", "slip")
        for part in ("", "_semantic", "_low_level")
    ),
    "multimodal_detection_precision",
    "multimodal_detection_recall",
    "minilm_beats_random_init_semantic",
    # brainscore: adversarial training buys PGD robustness; the split-half ceiling recovers the planted reliability
    "adversarial_more_robust_than_base",
    "rotation_adversarial_more_robust_than_base",
    "ceiling_recovers_planted_reliability_v4",
    "ceiling_recovers_planted_reliability_it",
    # gaze: OAT above the walk, the image-blind copy (layouts, delta) and the baselines
    "oat_beats_image_blind_layouts",
    "oat_beats_guided_walk_trials",
    "oat_delta_below_image_blind_trials",
    "oat_delta_below_guided_walk_trials",
    "oat_beats_baselines_trials",
    "oat_beats_baselines_layouts",
    # search: none held on both tiny seeds (eccNET's indices change sign between them)
}
# Claims the tiny preset does not measure (it runs the held-out trials and layouts splits of gaze, not targets).
TINY_NOT_MEASURED: set[str] = {"oat_beats_image_blind_targets", "oat_beats_guided_walk_targets"}


def test_tiny_dag_runs_end_to_end(tiny_run):
    """Every target's outputs exist and are non-empty; nothing is left half-written; a rerun has nothing to do."""
    import json

    work = tiny_run
    results = work / "results"
    expected = [
        "stimuli/contact_sheet.png",
        "decoding/source_subjects.csv",
        "decoding/learning_curve.csv",
        "decoding/learning_curve.png",
        "seeg/seed0/electrodes.csv",
        "seeg/seed0/regions.csv",
        "seeg/seed0/glass_brain.png",
        "seeg/seed0/r_by_bin.png",
        "seeg/seed0/models.csv",
        "seeg/seed0/references.csv",
        "seeg/seed0/details.json",
        "brainscore/variants.csv",
        "brainscore/variants.png",
        "gaze/metrics.csv",
        "gaze/scanpaths.png",
        "search/indices.csv",
        "search/slopes.csv",
        "search/diets.csv",
        "search/rt_vs_set_size.png",
        "search/indices.png",
        "search/fixations.png",
        "search/diets.png",
        "findings.csv",
        "benchmarks/dag.json",
        "benchmarks/dag_rules.csv",
        "benchmarks/attention.json",
        "benchmarks/decoding.json",
        "benchmarks/gaze.json",
        "benchmarks/search.json",
    ]
    missing = [name for name in expected if not (results / name).is_file() or not (results / name).stat().st_size]
    assert not missing, missing
    import pandas as pd

    n = len(TINY_SEEDS)
    assert all(len(tiny_seeds(f)) == n for f in ("decoding", "brainscore", "gaze", "search")), "counts below"
    variants = pd.read_csv(results / "brainscore" / "variants.csv")
    # every variant trained and scored, the untrained control and the declared model (and its copy) scored, on
    # every seed
    own = (OWN_MODEL_NAME, f"{OWN_MODEL_NAME}-random")
    assert sorted(variants.groupby("variant")["seed"].apply(sorted).to_dict().items()) == sorted(
        (v, list(TINY_SEEDS))
        for v in ("base", "rotation", "adversarial", "rotation_adversarial", "untrained_crossvit", *own)
    )
    curve = pd.read_csv(results / "decoding" / "learning_curve.csv")
    assert curve.notna().any().all() and len(curve) > 0
    # the summary names what the decoders predicted (a declared model there instead: tests/test_own_model.py)
    decoding = json.loads((results / "decoding" / "summary.json").read_text())
    assert decoding["notes"]["targets"] == {"image": "clip", "text": "minilm"}
    models = pd.read_csv(results / "seeg" / "seed0" / "models.csv")
    seeds = models["random_init_seed"].dropna()
    assert len(seeds) == 5 and seeds.is_unique, models  # each model's random-init control has its own seed (+ owncnn)
    metrics = pd.read_csv(results / "gaze" / "metrics.csv")
    assert {"human_ceiling", "oat_sampled", "random", "centre_bias", "nearest", "similarity"} <= set(metrics["model"])
    assert {"image_blind", "guided_walk"} <= set(metrics["model"]) and set(metrics["seed"]) == set(TINY_SEEDS)
    # every job timed: one benchmark file per job, summed per rule
    dag = json.loads((results / "benchmarks" / "dag.json").read_text())
    assert dag["wall_seconds"] > 0
    jobs = {row["rule"]: row["jobs"] for row in dag["rules"]}
    assert sum(jobs.values()) == dag["jobs"]
    # work that shares its data is one job per seed: a held-out size fits every method, a split trains and
    # evaluates OAT (its image-blind control trains in a job of its own), one search job runs every model on every
    # backbone of the seed
    assert jobs["decoding_adapt"] == 2 * n and jobs["search_run"] == n and jobs["gaze_train"] == 2 * n, jobs
    assert jobs["gaze_train_image_blind"] == 2 * n and "gaze_evaluate" not in jobs, jobs
    assert jobs["brainscore_train"] == 4 * n and jobs["brainscore_untrained"] == n, jobs
    # the shared networks are trained once per seed any family asks for (SEEG's second seed among them)
    networks_seeds = set(TINY_SEEDS) | set(tiny_seeds("seeg"))
    assert jobs["networks_train"] == 3 * len(networks_seeds) and jobs["search_train"] == 3 * n, jobs
    assert jobs["seeg_evaluate"] == len(tiny_seeds("seeg")), jobs
    # nothing left half-written: no temporary files from atomic writes
    assert not [p for p in results.rglob(".*") if p.is_file()]
    # a second run has nothing to do
    again = run_snakemake("-n", "--cores", "2", *tiny_config(work), cwd=work)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def registry_ids(family):
    from neuromodels.core.claims import load_registry

    return [c.id for c in load_registry(family)]


def test_claims_asserted_at_tiny_are_registry_claims():
    known = {i for family in FAMILIES_WITH_FINDINGS for i in registry_ids(family)}
    assert HOLDS_AT_TINY <= known, HOLDS_AT_TINY - known
    assert TINY_NOT_MEASURED <= known and not HOLDS_AT_TINY & TINY_NOT_MEASURED


def test_findings_table_lists_every_registry_claim_with_its_seeds(tiny_run):
    """Every claim of every registry is a row of findings.csv with a status; what the tiny run measures is
    measured on each of its family's seeds (tiny_seeds), and only the claims the tiny preset does not run are not
    measured."""
    import pandas as pd

    from neuromodels.core.claims import COLUMNS, STATUSES

    table = pd.read_csv(tiny_run / "results" / "findings.csv", keep_default_na=False)
    assert list(table.columns) == COLUMNS
    for family in FAMILIES_WITH_FINDINGS:
        rows = table[table["family"] == family]
        assert list(rows["id"]) == registry_ids(family), family
    assert set(table["status"]) <= set(STATUSES)
    not_measured = set(table.loc[table["status"] == "not measured", "id"])
    assert not_measured <= TINY_NOT_MEASURED, not_measured - TINY_NOT_MEASURED
    seeds = pd.read_csv(tiny_run / "results" / "findings_seeds.csv")
    per_claim = seeds.groupby("id")["seed"].apply(lambda s: sorted(s.unique()))
    measured = table.loc[table["status"] != "not measured"].set_index("id")
    assert all(per_claim[i] == list(tiny_seeds(r.family)) for i, r in measured.iterrows()), per_claim
    # a status is what the interval over seeds says: one seed gives none, so such a family's claims are inconclusive
    assert all(r.n_seeds <= len(tiny_seeds(r.family)) for _, r in measured.iterrows())
    one_seed = measured[[len(tiny_seeds(f)) == 1 for f in measured["family"]]]
    assert len(one_seed) and set(one_seed["status"]) == {"inconclusive"}


@pytest.mark.parametrize("claim_id", sorted(HOLDS_AT_TINY))
def test_claims_that_hold_at_tiny_hold_on_every_seed(tiny_run, claim_id):
    """CI asserts a claim only where it holds on every seed the tiny run draws for its family: each seed's
    difference (or value) lies on the claim's side of its margin."""
    import pandas as pd

    table = pd.read_csv(tiny_run / "results" / "findings.csv", keep_default_na=False).set_index("id")
    seeds = pd.read_csv(tiny_run / "results" / "findings_seeds.csv")
    row, mine = table.loc[claim_id], seeds[seeds["id"] == claim_id]
    assert sorted(mine["seed"]) == list(tiny_seeds(row["family"])), (claim_id, mine)
    assert mine["difference"].notna().all(), mine["undefined"].tolist()
    side = mine["difference"] > row["margin"] if row["direction"] == "above" else mine["difference"] < row["margin"]
    assert side.all(), (
        f"{claim_id}: per seed {mine['difference'].round(4).tolist()} vs margin {row['margin']} ({row['direction']})"
    )


def test_tiny_run_summaries_count_what_was_left_out(tiny_run):
    """Dropped or replaced items are counted in each summary's notes, never silent: on the simulated default
    nothing of the recordings or the assembly is left out, and the counts say so."""
    from neuromodels.core.findings import read_summary

    seeg = read_summary(tiny_run / "results" / "seeg" / "summary.json")["notes"]
    for alignment in ("language", "vision"):
        counts = seeg["seed0"]["targets"][alignment]
        for key in (
            "corrupted_channels",
            "non_brain_channels",
            "unlocalized_channels",
            "words_outside_recording",
            "scene_cuts_outside_recording",
            "trials_of_other_movies",
            "words_without_start",
            "electrodes_without_two_neighbours",
        ):
            assert key in counts, (alignment, key, counts)
        assert counts["trials_of_other_movies"] == 0
        # under the shaft Laplacian only contacts with a neighbour on each side are analysed; the rest are counted
        assert counts["electrodes_without_two_neighbours"] > 0
    assert "planted_not_analysed" in seeg["seed0"]["detection"]
    decoding = read_summary(tiny_run / "results" / "decoding" / "summary.json")["notes"]
    assert decoding["test_split"]["test_split"] == "shared" and decoding["test_split"]["n_test"] == 100
    assert decoding["collapsed"] == 0 and decoding["collapsed_runs"] == []  # no decoder gave one output for all
    # the smallest n is fitted over several draws of training images and initialisation, every method alike
    fits = decoding["fits_at_smallest_n"]
    assert set(fits) >= {"scratch", "mindbridge_reset"} and set(fits.values()) == {3}, fits
    import pandas as pd

    runs = pd.read_csv(tiny_run / "results" / "decoding" / "all_runs.csv")
    assert {"collapsed", "image_pred_cosine", "test_split", "n_test"} <= set(runs.columns)
    assert (runs["collapsed"] == 0).all() and (runs["n_test"] == 100).all()
    assembly = read_summary(tiny_run / "results" / "brainscore" / "summary.json")["notes"]["assembly"]
    assert assembly["regions_scored"] == ["V4", "IT"]
    assert assembly["nan_neuroids_dropped"] == 0 and assembly["nan_presentations_dropped"] == 0
    assert assembly["unmapped_regions"] == {} and assembly["regions_absent"] == []
    assert assembly["time_bins"] == "one bin: 70-170 ms"


def test_seeg_runs_on_real_format_recordings_named_in_the_config(tmp_path):
    """`seeg.data` + `seeg.frames`: no simulation, the targets read the named folder, the features the named
    frames, and detection is not scored (real recordings have no planted truth)."""
    from neuromodels.cli import main

    frames, recordings = tmp_path / "frames", tmp_path / "recordings"
    assert main(["stimuli", "generate", "--out", str(frames), "--n", "16", "--size", "32", "--seed", "0"]) == 0
    assert (
        main(
            ["seeg", "simulate", "--stimuli", str(frames), "--out", str(recordings), "--preset", "tiny", "--seed", "0"]
        )
        == 0
    )  # a dataset in the Brain Treebank layout, standing in for real recordings
    work = scratch_workdir(tmp_path / "work")
    section = f"seeg={{data: {recordings}, frames: {frames}}}"
    out = run_snakemake("-n", "-p", "--cores", "2", "seeg", "--config", "preset=tiny", "device=cpu", section, cwd=work)
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    text = out.stdout + out.stderr
    assert "rule seeg_simulate:" not in text
    assert f"neuromodels seeg targets --data {recordings} " in text
    assert f"--stimuli {frames} " in text
    evaluate = text[text.index("neuromodels seeg evaluate") :]
    assert "--truth" not in evaluate.splitlines()[0]
    # real recordings without their frames stop the run with one line naming the key
    bad = run_snakemake("-n", "--cores", "2", "seeg", "--config", f"seeg={{data: {recordings}}}", cwd=work)
    assert bad.returncode != 0 and "config key 'seeg.frames'" in bad.stderr + bad.stdout


KILLED_TARGETS = ("results/brainscore/base/seed0/model.pt",)


def test_killed_run_resumes_to_the_same_weights(tmp_path, tiny_run):
    """SIGKILL to the whole snakemake process group while a CrossViT trains (its checkpoint exists, its model not
    yet), then `snakemake --unlock` and the same command again: no half-written output is left, training resumes
    from the checkpoint, and the trained weights equal those of the uninterrupted tiny run bit for bit (its scores
    follow from them). One variant of one seed is the target (its data and training): the other variants' jobs are
    the same rules."""
    import os
    import signal
    import subprocess
    import time

    from tests.conftest import BIN, SNAKEMAKE

    work = scratch_workdir(tmp_path)
    args = [
        SNAKEMAKE,
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--profile",
        str(ROOT / "workflow" / "profiles" / "default"),
        "--cores",
        "2",
        *KILLED_TARGETS,
        "--config",
        "preset=tiny",
        "device=cpu",
    ]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        args, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    results = work / "results" / "brainscore"
    deadline = time.monotonic() + 600
    killed = False
    while time.monotonic() < deadline and proc.poll() is None:
        mid_training = [c for c in results.glob("*/seed0/checkpoint.pt") if not (c.parent / "model.pt").exists()]
        if mid_training:
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.2)
    proc.wait()
    assert killed, "training finished before a checkpoint could be caught mid-run"
    assert not (results / "base" / "seed0" / "model.pt").exists()
    # as after any killed run: Snakemake's lock on the folder is lifted first, then the same command again
    unlock = run_snakemake("--unlock", "--cores", "1", "--config", "preset=tiny", "device=cpu", cwd=work)
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    again = run_snakemake(
        "--profile",
        str(ROOT / "workflow" / "profiles" / "default"),
        "--cores",
        "2",
        *KILLED_TARGETS,
        "--config",
        "preset=tiny",
        "device=cpu",
        cwd=work,
    )
    assert again.returncode == 0, again.stderr[-4000:]
    assert not [p for p in (work / "results").rglob(".*") if p.is_file()]  # no temporary file left behind
    resumed = [
        p for p in (work / "results" / "logs" / "brainscore").glob("train_*.log") if "resum" in p.read_text().lower()
    ]
    assert resumed, "no training job resumed from its checkpoint"
    # the resumed training ends where the uninterrupted run's did (which also ran the other variants)
    import torch

    from neuromodels.brainscore.train import load_model

    resumed_model = load_model(results / "base" / "seed0" / "model.pt").model.state_dict()
    whole = load_model(tiny_run / "results" / "brainscore" / "base" / "seed0" / "model.pt").model.state_dict()
    assert list(resumed_model) == list(whole)
    different = [k for k in whole if not torch.equal(whole[k], resumed_model[k])]
    assert not different, different


def test_report_holds_every_family_and_every_finding(tiny_run):
    """`snakemake --report` of the tiny run: every family's figures and tables, the findings table with every
    family's findings, and the per-rule timings."""
    import io
    import zipfile

    import pandas as pd

    out = run_snakemake("--report", "report.zip", *tiny_config(tiny_run), cwd=tiny_run)
    assert out.returncode == 0, out.stderr[-4000:]
    archive = zipfile.ZipFile(tiny_run / "report.zip")
    names = archive.namelist()
    html = archive.read(next(n for n in names if n.endswith("report.html"))).decode("utf-8", "replace")
    for family in ("stimuli", *FAMILIES_WITH_FINDINGS, "findings", "timings"):
        assert family in html, f"no '{family}' category in the report"
    files = [n for n in names if "/data/raw/" in n]
    for family in FAMILIES_WITH_FINDINGS:
        assert any(n.endswith((".png", ".csv", ".svg")) and family in n for n in files) or family in html
    findings_csv = next(n for n in files if n.endswith("findings.csv"))
    in_report = pd.read_csv(io.BytesIO(archive.read(findings_csv)))
    expected = pd.read_csv(tiny_run / "results" / "findings.csv")
    assert list(expected["id"]) == list(in_report["id"])
    assert set(FAMILIES_WITH_FINDINGS) <= set(in_report["family"])
    assert any(n.endswith("dag_rules.csv") for n in files)
