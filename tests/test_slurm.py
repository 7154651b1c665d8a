"""A branch of the tiny DAG on a real SLURM cluster through the workflow's SLURM profile
(snakemake-executor-plugin-slurm): the untrained CrossViT control of the Brain-Score family on the first tiny seed
(its images, its simulated recordings, the initialisation and the scoring: four jobs of four rules).

`.ci/slurm-one-node.sh` starts a one-node cluster (slurmctld + slurmd on localhost, accounting off); CI runs it
before the tests and sets NEUROMODELS_REQUIRE_SLURM=1, so there a missing cluster fails instead of skipping.
Checks: every job that is not a local rule went through sbatch, with its rule's threads, memory and runtime,
and the tables equal those of a local run with the same config and seed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT, assert_same_table, run_snakemake, scratch_workdir, tiny_config

pytestmark = pytest.mark.slurm
SLURM_FAMILY = "brainscore"
SLURM_SEEDS = (0,)
# a target reached by four short jobs (about 25 s of work here): the profile is the same for every rule, and the
# whole DAG runs locally once already (tests/test_workflow.py); the search family's branch took 146 s through the
# cluster
SLURM_TARGETS = tuple(f"results/brainscore/untrained_crossvit/seed{seed}/neural.csv" for seed in SLURM_SEEDS)


def _cluster_answers() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and bool(re.search(r"idle|mix|alloc", out.stdout))


# session-scoped: the test reading the tiny run is moved to the end of the session (tests/conftest.py), after this
# module's other test, and a module-scoped run would be redone for it
@pytest.fixture(scope="session")
def slurm_run(tmp_path_factory):
    if not _cluster_answers():
        if os.environ.get("NEUROMODELS_REQUIRE_SLURM") == "1":
            pytest.fail("NEUROMODELS_REQUIRE_SLURM=1 but no SLURM cluster answers (run .ci/slurm-one-node.sh)")
        pytest.skip("no SLURM cluster answers (start one with .ci/slurm-one-node.sh)")
    partition, cpus = subprocess.run(["sinfo", "-h", "-o", "%P %c"], capture_output=True, text=True).stdout.split()[:2]
    work = scratch_workdir(tmp_path_factory.mktemp("slurm"))
    out = run_snakemake(
        *SLURM_TARGETS,
        "--profile",
        str(ROOT / "workflow" / "profiles" / "slurm"),
        *tiny_config(work, seeds=SLURM_SEEDS),
        # the one-node cluster: its partition for every rule, no account, job status from squeue (no accounting
        # database), short polling
        "--default-resources",
        f"slurm_partition={partition.rstrip('*')}",
        "--set-resources",
        f"bench_attention:slurm_partition={partition.rstrip('*')}",
        "--slurm-no-account",
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--seconds-between-status-checks",
        "2",
        # and no job asks for more CPUs than the node has (the profile's benchmarks ask for 4)
        "--max-threads",
        cpus,
        "--latency-wait",
        "5",
        cwd=work,
        timeout=2400,
    )
    (work / "snakemake.out").write_text(out.stdout + out.stderr)
    assert out.returncode == 0, (out.stdout + out.stderr)[-6000:]
    return work, out.stdout + out.stderr


def _jobs_from_log(text: str) -> dict[str, dict]:
    """Snakemake's own account of each job: rule, threads, resources, and the SLURM id it was given."""
    jobs: dict[str, dict] = {}
    for block in re.split(r"\n(?=\[[^\]]+\]\n)", text):
        rule = re.search(r"^(local)?rule (\w+):", block, re.M)
        jobid = re.search(r"^\s+jobid: (\d+)", block, re.M)
        if not rule or not jobid:
            continue
        res = dict(re.findall(r"(\w+)=([^,\s]+)", (re.search(r"resources: (.*)", block) or [None, ""])[1]))
        threads = re.search(r"^\s+threads: (\d+)", block, re.M)
        jobs[jobid.group(1)] = {
            "rule": rule.group(2),
            "local": bool(rule.group(1)),
            "resources": res,
            "threads": int(threads.group(1)) if threads else 1,
        }
    for jobid, slurm_id in re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", text):
        jobs.setdefault(jobid, {})["slurm_id"] = slurm_id
    return jobs


def _squeue(ids: list[str]) -> dict[str, dict]:
    out = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--jobs", ",".join(ids), "--format=%i|%T|%k|%m|%l|%C"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = {}
    for line in out.splitlines():
        slurm_id, state, comment, mem, limit, cpus = line.split("|")
        rows[slurm_id] = {"state": state, "comment": comment, "mem": mem, "limit": limit, "cpus": int(cpus)}
    return rows


def _minutes(limit: str) -> int:
    """SLURM's time limit ([days-]hours:minutes:seconds or minutes:seconds) in minutes."""
    days, _, rest = limit.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    return (int(days or 0) * 24 + parts[0]) * 60 + parts[1] + (parts[2] > 0)


def test_every_job_went_through_sbatch_with_its_rules_resources(slurm_run):
    _, log = slurm_run
    jobs = {k: v for k, v in _jobs_from_log(log).items() if v.get("rule") and not v["local"]}
    # images, recordings, initialisation, scoring
    assert {v["rule"] for v in jobs.values()} == {
        "brainscore_images",
        "brainscore_simulate",
        "brainscore_untrained",
        "brainscore_score",
    }, jobs
    unsubmitted = sorted(v["rule"] for v in jobs.values() if "slurm_id" not in v)
    assert not unsubmitted, f"jobs that did not go through sbatch: {unsubmitted}"
    queue = _squeue([v["slurm_id"] for v in jobs.values()])
    for job in jobs.values():
        seen = queue[job["slurm_id"]]
        assert seen["state"] == "COMPLETED", (job["rule"], seen)
        assert seen["comment"].startswith(f"rule_{job['rule']}"), (job["rule"], seen)
        assert seen["cpus"] == job["threads"], (job["rule"], seen)
        assert seen["mem"] == f"{job['resources']['mem_mb']}M", (job["rule"], seen)
        assert _minutes(seen["limit"]) == int(job["resources"]["runtime"]), (job["rule"], seen)


def test_outputs_equal_a_local_run(slurm_run, tiny_run):
    """The scored control's tables (robustness, neural predictivity, layer commitment) equal those of the local
    tiny run on the same seed."""
    work, _ = slurm_run
    tables = sorted(
        p.relative_to(tiny_run / "results")
        for seed in SLURM_SEEDS
        for p in (tiny_run / "results" / SLURM_FAMILY / "untrained_crossvit" / f"seed{seed}").glob("*.csv")
    )
    assert [t.name for t in tables] == ["layers.csv", "neural.csv", "robustness.csv"], tables
    for name in tables:
        assert_same_table(tiny_run / "results" / name, work / "results" / name)
