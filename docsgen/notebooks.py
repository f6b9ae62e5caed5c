"""Tutorials are jupytext percent-format sources (``docs/tutorials/*.py``); this module runs
each one in a fresh Jupyter kernel and writes it as a Markdown page with its outputs."""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbconvert import MarkdownExporter

#: Seconds one cell may take before the build fails.
CELL_TIMEOUT = 900


def execute(source: Path, cwd: Path) -> nbformat.NotebookNode:
    """The notebook of a jupytext source, executed top to bottom (raises on a failing cell)."""
    notebook = jupytext.read(source)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(env=dict(os.environ))
    return notebook


def to_markdown(notebook: nbformat.NotebookNode, page: Path) -> Path:
    """Write an executed notebook as ``page`` (.md) and its images beside it; returns page."""
    stem = page.stem
    exporter = MarkdownExporter()
    body, resources = exporter.from_notebook_node(
        notebook, resources={"output_files_dir": f"{stem}_files"}
    )
    for name, data in resources.get("outputs", {}).items():
        target = page.parent / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    page.write_text(body, encoding="utf-8")
    return page


def build(source: Path, page: Path) -> Path:
    """Execute the tutorial ``source`` and write it as the Markdown ``page``."""
    return to_markdown(execute(source, source.parent), page)
