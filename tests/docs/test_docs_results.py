"""The results page is the results folder's summary and figures: every number on it comes
from the folder."""

import re
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
from docsgen import results

NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "results"
    (folder / "figures").mkdir(parents=True)
    (folder / "results.md").write_text(
        "| Experiment | handprop test acc. (%) |\n|---|---:|\n| `baseline` | 47.13 |\n"
    )
    (folder / "figures" / "baseline-curves.png").write_bytes(b"\x89PNG fake")
    return folder


def test_results_page_is_the_folder_summary_with_its_figures(tmp_path):
    folder = _folder(tmp_path)
    page = results.results_markdown(folder, tmp_path / "page" / "figures")
    assert (folder / "results.md").read_text().strip() in page
    assert "![" in page and "figures/baseline-curves.png" in page
    assert (tmp_path / "page" / "figures" / "baseline-curves.png").is_file()


def test_every_number_on_the_results_page_comes_from_the_folder(tmp_path):
    folder = _folder(tmp_path)
    page = results.results_markdown(folder, tmp_path / "figures")
    summary = (folder / "results.md").read_text()
    for number in NUMBER.findall(page):
        assert number in summary, number


def test_every_number_on_the_speed_page_comes_from_speed_md():
    speed_md = Path(__file__).resolve().parents[2] / "bench" / "speed" / "SPEED.md"
    page = results.speed_markdown(speed_md)
    source = speed_md.read_text()
    for number in NUMBER.findall(page):
        assert number in source, number


def test_built_results_page_matches_its_folder(site):
    import os

    folder = Path(os.environ.get("HANDPROP_DOCS_RESULTS") or site.parent / ".ci-results")
    if not (folder / "results.md").is_file():
        pytest.skip(f"no results folder at {folder}")
    html = (site / "results" / "index.html").read_text(encoding="utf-8")
    for number in NUMBER.findall((folder / "results.md").read_text()):
        assert number in html, number
