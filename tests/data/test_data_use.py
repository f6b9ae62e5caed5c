"""``handprop data use/show``: the recorded source, its order among the others, and a
failed start that leaves no folder behind."""

from __future__ import annotations

import json

import pytest
from data_fakes import fake_files, make_archive

from handprop.cli import main
from handprop.data import locate
from handprop.data.source import record_file
from handprop.errors import DataError


def write_archive(path):
    path.write_bytes(make_archive(fake_files()))
    return path


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty config folder and no HANDPROP_DATA (restored after, also when --data set it)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HANDPROP_DATA", "")
    monkeypatch.delenv("HANDPROP_DATA")
    return tmp_path


def test_use_records_the_absolute_path_and_show_names_it(home, monkeypatch, capsys):
    archive = write_archive(home / "c10.tar.gz")
    monkeypatch.chdir(home)
    assert main(["data", "use", "c10.tar.gz"]) == 0
    assert json.loads(record_file().read_text()) == {"source": str(archive.resolve())}
    found = locate()
    assert found is not None and found.path == archive.resolve()
    capsys.readouterr()
    assert main(["data", "show"]) == 0
    out = capsys.readouterr().out
    assert str(archive.resolve()) in out and "recorded in" in out


def test_data_and_env_come_before_the_record(home, monkeypatch, capsys):
    recorded, other = write_archive(home / "a.tar.gz"), write_archive(home / "b.tar.gz")
    assert main(["data", "use", str(recorded)]) == 0
    monkeypatch.setenv("HANDPROP_DATA", str(other))
    found = locate()
    assert found is not None and found.path == other
    capsys.readouterr()
    assert main(["--data", str(other), "data", "show"]) == 0
    assert "given by --data" in capsys.readouterr().out


def test_use_refuses_a_bad_copy_and_records_nothing(home, capsys):
    bad = home / "bad.tar.gz"
    bad.write_bytes(b"not a gzip file")
    assert main(["data", "use", str(bad)]) == 2
    assert main(["data", "use", str(home / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("handprop data: error: ") for line in err)
    assert not record_file().exists()


def test_a_damaged_record_is_one_line_naming_the_fix(home, capsys):
    record_file().parent.mkdir(parents=True)
    record_file().write_text("{not json")
    with pytest.raises(DataError):
        locate()
    record_file().write_text(json.dumps({"source": str(home / "gone")}))
    with pytest.raises(DataError, match="handprop data use"):
        locate()
    assert main(["data", "show"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "command",
    [
        ["train", "--config", "baseline", "--out", "runs/baseline"],
        ["lr-find", "--config", "baseline", "--out", "runs/lrfind"],
        ["search", "--config", "search_lambda", "--out", "runs/lambda", "--workers", "0"],
        ["ensemble", "--config", "beyond_ensemble", "--out", "runs/ensemble"],
        ["reproduce", "--suite", "smoke", "--out", "results", "--only", "baseline"],
    ],
)
def test_a_start_without_data_leaves_no_folder(home, monkeypatch, capsys, command):
    monkeypatch.chdir(home)
    assert main(["--data", str(home / "missing"), *command]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "no such file or folder" in err[-1] and not any("Traceback" in e for e in err)
    assert not (home / "runs").exists() and not (home / "results").exists()
