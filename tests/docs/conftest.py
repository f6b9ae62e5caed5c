"""The docs site's tests: the generators import from ``docsgen/`` beside ``src/``."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SITE = Path(os.environ.get("HANDPROP_DOCS_SITE") or ROOT / "site")


@pytest.fixture(scope="module")
def site() -> Path:
    """The built site (``mkdocs build``); required in CI, else the test skips."""
    if not (SITE / "index.html").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"no built docs site in {SITE}: run mkdocs build first")
        pytest.skip(f"no built docs site in {SITE} (run mkdocs build --strict)")
    return SITE
