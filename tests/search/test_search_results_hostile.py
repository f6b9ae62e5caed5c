"""A hostile ``results.jsonl`` is a one-line DataError, never a RecursionError."""

from __future__ import annotations

import pytest

from handprop.errors import DataError
from handprop.search.results import read_results


def test_a_deeply_nested_results_line_is_a_data_error(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(DataError, match="line 1: not a trial record"):
        read_results(path)
