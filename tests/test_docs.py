"""The documentation: the site builds in strict mode (a broken link, an unknown anchor, a page missing from the
navigation or a module the API pages name but the package lacks fails it), the strict build does catch a planted
broken link, every public module has its API entry, and the README stays short with the findings block in it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MKDOCS = Path(sys.executable).parent / "mkdocs"
# The packages whose public modules the API pages list (one page each, docs/api/<name>.md).
API_PACKAGES = ("core", "networks", "stimuli", "decoding", "seeg", "brainscore", "gaze", "search")

pytestmark = pytest.mark.skipif(not MKDOCS.exists(), reason="needs the `docs` extra (mkdocs, mkdocstrings)")


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_site_builds_strict(tmp_path):
    out = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert out.returncode == 0, out.stderr[-4000:]
    for page in ("index.html", "decoding/index.html", "notes/search/index.html", "api/gaze/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    api = (tmp_path / "site" / "api" / "decoding" / "index.html").read_text()
    assert "neuromodels.decoding.models" in api and "MindBridge" in api  # rendered from the docstrings


def test_strict_build_fails_on_a_broken_link_an_anchor_and_a_page_left_out(tmp_path):
    """The site's own validation settings, on a copy of two pages: a link to a missing page, an anchor that no
    heading makes, and a page that the navigation leaves out each fail the build with a line naming them."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(ROOT / "docs" / "findings.md", docs / "findings.md")
    (docs / "index.md").write_text("# Home\n\n[gone](missing.md), [no such heading](findings.md#no-such-heading)\n")
    (docs / "orphan.md").write_text("# Not in the navigation\n")
    config.update(
        docs_dir="docs", nav=[{"Home": "index.md"}, {"Findings": "findings.md"}], plugins=["search"]
    )  # no API pages here: the check is about links and pages
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    out = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert out.returncode != 0
    assert "missing.md" in out.stderr
    assert "no-such-heading" in out.stderr
    assert "orphan.md" in out.stderr


def test_every_public_module_has_an_api_entry():
    for package in API_PACKAGES:
        page = (ROOT / "docs" / "api" / f"{package}.md").read_text()
        modules = sorted(p.stem for p in (ROOT / "neuromodels" / package).glob("*.py") if not p.stem.startswith("_"))
        missing = [m for m in modules if f"::: neuromodels.{package}.{m}\n" not in page]
        assert not missing, f"docs/api/{package}.md lacks {missing}"


def test_readme_is_short_and_holds_the_findings_block():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    start, end = text.index("<!-- findings:start -->"), text.index("<!-- findings:end -->")
    assert start < end
