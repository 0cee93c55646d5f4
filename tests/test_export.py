"""CSV and JSON exports: contents, non-ASCII names, and nothing half-written on failure."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from modelgen import colour_model
from sample_images import bad_folder

from resnet_desktop.core.batch.export import (
    CSV_COLUMNS,
    CsvExport,
    ExportError,
    JsonExport,
    Provenance,
    write_csv,
    write_json,
)
from resnet_desktop.core.batch.run import BatchOptions, BatchRecord, BatchRun
from resnet_desktop.core.foundation.errors import Cancelled
from resnet_desktop.core.inference.classifier import Classifier, Prediction
from resnet_desktop.core.models.manifest import load_manifest_for


@pytest.fixture
def records(tmp_path) -> list[BatchRecord]:
    folder, _ = bad_folder(tmp_path)
    model = colour_model(tmp_path / "model")
    classifier = Classifier(model, load_manifest_for(model), "cpu", "colours")
    return list(BatchRun(classifier, folder, BatchOptions(recursive=True, top_k=3)))


def provenance() -> Provenance:
    return Provenance(model="colours", model_sha256="ab" * 32, provider="cpu",
                      folder="/photos", top_k=3, min_confidence=0.5)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_csv_has_one_row_per_image_with_errors_and_non_ascii_names(tmp_path, records):
    out = tmp_path / "out" / "results.csv"
    assert write_csv(out, records, min_confidence=0.5) == len(records)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM so that Excel reads the names"
    with open(out, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_path = {row["path"]: row for row in rows}
    assert len(by_path) == len(records)
    photo = by_path["café/日本 写真.jpg"]
    assert photo["label"] == "blue"
    assert float(photo["probability"]) > 0.9
    assert photo["model"] == "colours"
    assert photo["error"] == ""
    pairs = [pair.split(":") for pair in photo["top_k"].split(";")]
    assert pairs[0][0] == "blue" and len(pairs) == 3
    assert all(0 <= float(p) <= 1 for _, p in pairs)
    assert photo["tags"] == "blue"
    truncated = by_path["truncated.jpg"]
    assert truncated["label"] == truncated["probability"] == truncated["top_k"] == ""
    assert "truncated" in truncated["error"]
    assert by_path["a/b/deep green.jpg"]["label"] == "green"


def test_json_carries_provenance_records_and_summary(tmp_path, records):
    out = tmp_path / "results.json"
    with JsonExport(out, provenance(), min_confidence=0.5) as export:
        export.write_all(records)
    data = json.loads(out.read_text(encoding="utf-8"))
    prov = data["provenance"]
    assert prov["model"] == "colours" and prov["model_sha256"] == "ab" * 32
    assert prov["provider"] == "cpu" and prov["app"] == "resnet-desktop"
    assert prov["app_version"] and prov["created"].endswith("+00:00")
    by_path = {r["path"]: r for r in data["records"]}
    assert "Ünïcödé ✓.png" in by_path
    good = by_path["rotated.jpg"]
    assert good["label"] == "green" and good["error"] is None
    assert good["top_k"][0]["label"] == "green"
    assert good["tags"] == ["green"]
    bad = by_path["notes.jpg"]
    assert "top_k" not in bad and "text file" in bad["error"]
    assert "Ünïcödé ✓.png" in out.read_text(encoding="utf-8"), "not \\u-escaped"


def test_json_of_no_records_is_valid(tmp_path):
    out = tmp_path / "empty.json"
    write_json(out, [], provenance())
    assert json.loads(out.read_text())["records"] == []


def test_cancelling_mid_export_leaves_no_file_and_keeps_the_old_one(tmp_path, records):
    out = tmp_path / "results.csv"
    out.write_text("the previous complete export\n")
    with pytest.raises(Cancelled), CsvExport(out) as export:
        export.write(records[0])
        raise Cancelled()
    assert out.read_text() == "the previous complete export\n"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("target", ["is-a-file/results.csv", "folder"])
def test_unwritable_export_paths_give_a_clear_message(tmp_path, records, target):
    (tmp_path / "is-a-file").write_text("x")
    (tmp_path / "folder").mkdir()
    with pytest.raises(ExportError) as info:
        write_csv(tmp_path / target, records)
    message = str(info.value)
    assert "cannot write" in message and "nothing was written" in message
    assert "Traceback" not in message
    assert leftovers(tmp_path) == []


def test_a_full_disk_gives_a_clear_message_and_no_partial_file(tmp_path):
    """RLIMIT_FSIZE makes writes fail the way a full disk does, in a child process."""
    pytest.importorskip("resource")
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from pathlib import Path
        from resnet_desktop.core.batch.run import BatchRecord
        from resnet_desktop.core.batch.export import ExportError, write_csv
        from resnet_desktop.core.inference.classifier import Prediction
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        top = (Prediction(0, "label " * 20, 0.5),)
        records = [BatchRecord(f"img_{{i}}.jpg", Path("x"), "m", top) for i in range(500)]
        try:
            write_csv(Path({str(tmp_path / "big.csv")!r}), records)
        except ExportError as exc:
            print(exc)
            sys.exit(3)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 3, result.stderr
    assert "cannot write" in result.stdout and "nothing was written" in result.stdout
    assert "too large" in result.stdout or "full" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_export_writes_each_record_once_streamed(tmp_path):
    top = (Prediction(0, "a", 0.6), Prediction(1, "b", 0.4))
    records = (BatchRecord(f"{i}.jpg", tmp_path / f"{i}.jpg", "m", top) for i in range(1000))
    out = tmp_path / "big.csv"
    assert write_csv(out, records, min_confidence=0.5) == 1000
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1001
    assert lines[1] == "0.jpg,a,0.6000,a:0.6000;b:0.4000,m,,a,"


FORMULA_NAMES = ["=1+1.jpg", "=HYPERLINK(\"http://x\",\"a\").jpg", "+1.jpg", "-2.jpg", "@SUM.jpg",
                 "\tA1.jpg", "\rA1.jpg"]


def test_csv_cells_that_would_start_a_formula_get_a_leading_apostrophe(tmp_path):
    records = [BatchRecord(name, tmp_path / name, "colours",
                           (Prediction(0, "red", 0.9),)) for name in FORMULA_NAMES]
    records.append(BatchRecord("=bad.jpg", tmp_path / "=bad.jpg", "=model",
                               error="=bad.jpg: the image is corrupt"))
    records.append(BatchRecord("plain-name.jpg", tmp_path / "plain-name.jpg", "colours",
                               (Prediction(0, "red", 0.9),)))
    write_csv(tmp_path / "out.csv", records)
    with open(tmp_path / "out.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["path"] for row in rows[:len(FORMULA_NAMES)]] == [f"'{n}" for n in FORMULA_NAMES]
    bad = rows[len(FORMULA_NAMES)]
    assert (bad["path"], bad["model"], bad["error"]) == (
        "'=bad.jpg", "'=model", "'=bad.jpg: the image is corrupt")
    assert rows[-1]["path"] == "plain-name.jpg" and rows[-1]["probability"] == "0.9000"
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r"))
                       for cell in row.values()), row

    write_json(tmp_path / "out.json", records, provenance())
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert [r["path"] for r in data["records"]] == [*FORMULA_NAMES, "=bad.jpg", "plain-name.jpg"]
