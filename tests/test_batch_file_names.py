"""File names that are not valid UTF-8 (Linux allows any bytes but ``/`` and NUL).

Such a name reaches Python as a ``str`` with lone surrogates (``surrogateescape``). Every place
that stores or exports it must give the same bytes back through ``os.fsencode``, and the batch
must finish for every other file.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from modelgen import colour_model
from sample_images import solid

from resnet_desktop.cli import main
from resnet_desktop.core.batch.results_store import ResultsStore
from resnet_desktop.core.inference.classifier import Prediction
from resnet_desktop.core.sidecars.undo_journal import UndoJournal, undo_last

pytestmark = pytest.mark.skipif(sys.platform in ("win32", "darwin"),
                                reason="only Linux file systems take names that are not UTF-8")

RAW_NAME = b"caf\xe9.jpg"  # Latin-1 "café.jpg", as an old camera card or Windows share gives it


def _latin1_folder(root: Path) -> tuple[Path, Path]:
    folder = root / "photos"
    folder.mkdir()
    solid(folder / "red.jpg", "red")
    latin1 = Path(os.fsdecode(os.fsencode(folder) + b"/" + RAW_NAME))
    solid(latin1, "blue")
    return folder, latin1


def test_tag_with_a_latin1_name_writes_every_output_and_names_round_trip(capsys, tmp_path):
    model = colour_model(tmp_path / "model")
    folder, latin1 = _latin1_folder(tmp_path)
    code = main(["tag", str(folder), "--model", str(model), "--csv", str(tmp_path / "out.csv"),
                 "--json", str(tmp_path / "out.json"), "--xmp", "--min-confidence", "0.5"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "2 classified" in err

    # CSV: the cell holds the name's own bytes (what `ls` would print), the rest is UTF-8.
    with open(tmp_path / "out.csv", encoding="utf-8-sig", errors="surrogateescape",
              newline="") as handle:
        rows = {os.fsencode(row["path"]): row for row in csv.DictReader(handle)}
    assert rows[RAW_NAME]["label"] == "blue" and rows[b"red.jpg"]["label"] == "red"

    # JSON: valid JSON (ASCII escapes for the undecodable bytes) that decodes to the same name.
    text = (tmp_path / "out.json").read_bytes().decode("utf-8")
    records = {os.fsencode(r["path"]): r for r in json.loads(text)["records"]}
    assert records[RAW_NAME]["label"] == "blue"

    sidecar = Path(os.fsdecode(os.fsencode(latin1) + b".xmp"))
    assert sidecar.is_file()
    assert main(["tag", str(folder), "--undo"]) == 0, capsys.readouterr().err
    assert not sidecar.exists() and latin1.is_file()


def test_the_results_store_keeps_a_latin1_name(tmp_path):
    latin1 = Path(os.fsdecode(os.fsencode(tmp_path) + b"/" + RAW_NAME))
    top = (Prediction(0, "red", 0.9),)
    with ResultsStore(tmp_path / "s.sqlite3") as store:
        store.put_many([(latin1, 1, 2, top, ())], "m", 1)
        store.put_many([(tmp_path / "café.jpg", 1, 2, top, ())], "m", 1)
        assert store.get(latin1, 1, 2, "m", 1) == (top, ())
        assert store.get(tmp_path / "café.jpg", 1, 2, "m", 1) == (top, ())
        assert store.count() == 2


def test_the_undo_journal_restores_a_latin1_sidecar(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    sidecar = Path(os.fsdecode(os.fsencode(folder) + b"/" + RAW_NAME + b".xmp"))
    sidecar.write_bytes(b"<old/>")
    with UndoJournal.start(folder, tmp_path / "undo") as journal:
        journal.record(sidecar, b"<old/>", b"<new/>", sidecar.stat())
        sidecar.write_bytes(b"<new/>")
    report = undo_last(folder, tmp_path / "undo")
    assert report.restored == 1, report.summary()
    assert sidecar.read_bytes() == b"<old/>"


def test_classify_prints_a_latin1_name_as_its_own_bytes_under_a_strict_utf8_locale(tmp_path):
    model = colour_model(tmp_path / "model")
    _, latin1 = _latin1_folder(tmp_path)
    env = os.environ | {"PYTHONIOENCODING": "utf-8"}  # strict, as in an en_US.UTF-8 terminal
    for extra in ([], ["--json"]):
        result = subprocess.run([sys.executable, "-m", "resnet_desktop", "classify", "--model",
                                 str(model), *extra, latin1], capture_output=True, env=env,
                                timeout=120)
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        assert RAW_NAME in result.stdout and b"blue" in result.stdout
