"""MkDocs hooks: generate the reference, results, speed and tutorial pages before the build,
and copy the bundled MathJax into the built site after it (the site loads nothing from the
network)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from mkdocs.exceptions import PluginError  # noqa: E402

from docsgen import notebooks, reference, results  # noqa: E402

DOCS = ROOT / "docs"


def results_folder() -> Path:
    """The results folder the pages are generated from: ``$HANDPROP_DOCS_RESULTS``, else the
    smoke suite's ``.ci-results`` beside the sources."""
    return Path(os.environ.get("HANDPROP_DOCS_RESULTS") or ROOT / ".ci-results").resolve()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def on_pre_build(config: Any, **_: Any) -> None:
    os.environ.setdefault("HANDPROP_DOCS_RESULTS", str(results_folder()))
    _write(DOCS / "reference" / "cli.md", reference.cli_markdown())
    _write(DOCS / "reference" / "config.md", reference.config_markdown())
    folder = results_folder()
    if not (folder / "results.md").is_file():
        raise PluginError(
            f"no results folder at {folder}: set HANDPROP_DOCS_RESULTS to a folder written by "
            "handprop reproduce (e.g. handprop reproduce --suite smoke --out .ci-results)"
        )
    page = DOCS / "results" / "index.md"
    _write(page, results.results_markdown(folder, page.parent / "figures"))
    speed = ROOT / "bench" / "speed"
    _write(DOCS / "speed" / "index.md", results.speed_markdown(speed / "SPEED.md"))
    for png in speed.glob("*.png"):
        shutil.copyfile(png, DOCS / "speed" / png.name)
    for source in sorted((DOCS / "tutorials").glob("*.py")):
        page = source.with_suffix(".md")
        if os.environ.get("HANDPROP_DOCS_REUSE") and page.is_file():
            continue
        notebooks.build(source, page)


def on_post_build(config: Any, **_: Any) -> None:
    import jupyter_server_mathjax

    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(static, Path(config["site_dir"]) / "mathjax", dirs_exist_ok=True)
