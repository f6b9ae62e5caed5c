"""The search folder's definition file: unique temporary names, damaged files as errors."""

from __future__ import annotations

import pytest
from search_fakes import LAMBDA_SPACE, FakeConfig, fake_runner

from handprop.errors import DataError
from handprop.search import Stage, search


def _search(out):
    return search(
        FakeConfig(),
        LAMBDA_SPACE,
        out_dir=out,
        stages=(Stage("grid", 3),),
        runner=fake_runner,
        workers=0,
    )


def test_the_definition_is_written_without_a_fixed_temporary_name(tmp_path):
    out = tmp_path / "search"
    (out / "search.json.tmp").mkdir(parents=True)  # a fixed temporary name would collide
    assert _search(out).best is not None
    assert (out / "search.json").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".search.json.")]


@pytest.mark.parametrize("content", ["", '{"base_config": {"lam"'])
def test_a_damaged_definition_is_a_data_error(tmp_path, content):
    out = tmp_path / "search"
    out.mkdir()
    (out / "search.json").write_text(content)
    with pytest.raises(DataError, match=r"search definition .*search.json is unreadable"):
        _search(out)
