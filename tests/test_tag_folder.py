"""The "tag a folder" operation that the CLI and the Batch tab share, through its own sink."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
from modelgen import colour_model
from recording_sink import RecordingSink
from sample_images import solid

from resnet_desktop.core.batch.run import BatchOptions, BatchProgress, BatchRecord
from resnet_desktop.core.engine import Engine
from resnet_desktop.core.foundation.cancel import CancelToken
from resnet_desktop.core.foundation.errors import Cancelled
from resnet_desktop.core.operations.tag_folder import (
    SidecarMode,
    TagRequest,
    TagSink,
    write_planned_sidecars,
)
from resnet_desktop.core.sidecars.undo_journal import undo_last
from resnet_desktop.core.sidecars.xmp import plan_sidecars, read_keywords


@pytest.fixture
def model(tmp_path) -> Path:
    return colour_model(tmp_path / "model")


@pytest.fixture
def folder(tmp_path) -> Path:
    for name, colour in (("a.jpg", "red"), ("b.jpg", "green"), ("c.jpg", "blue")):
        solid(tmp_path / "photos" / name, colour)
    return tmp_path / "photos"


def test_the_sink_hears_the_model_then_each_record_in_order_and_outputs_are_written(
        tmp_path, model, folder):
    sink = RecordingSink()
    request = TagRequest(folder, BatchOptions(top_k=2), min_confidence=0.5,
                         csv=tmp_path / "out.csv", json=tmp_path / "out.json",
                         sidecars=SidecarMode.WRITE)
    result = Engine().tag_folder(model, "cpu", request, sink)

    kind, loaded = sink.events[0]
    assert kind == "model"
    assert loaded.model_id == "colours" and loaded.provider == "cpu"
    assert loaded.sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    assert sink.events[1:] == [("record", ("a.jpg", 1)), ("record", ("b.jpg", 2)),
                               ("record", ("c.jpg", 3))]
    assert (result.progress.done, result.progress.classified) == (3, 3)
    assert result.summary().startswith("3 images in ")
    with open(tmp_path / "out.csv", encoding="utf-8-sig", newline="") as handle:
        assert [row["label"] for row in csv.DictReader(handle)] == ["red", "green", "blue"]
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert data["provenance"]["model_sha256"] == loaded.sha256
    assert data["summary"]["images"] == 3
    assert result.sidecars.created == 3
    assert read_keywords((folder / "b.jpg.xmp").read_bytes()).subject == ("green",)


def test_a_sidecar_that_cannot_be_written_is_reported_and_the_run_goes_on(model, folder):
    (folder / "a.jpg.xmp").mkdir()
    sink = RecordingSink()
    result = Engine().tag_folder(model, "cpu", TagRequest(folder, sidecars=SidecarMode.WRITE),
                                 sink)
    failures = [message for kind, message in sink.events if kind == "sidecar_failed"]
    assert len(failures) == 1 and "a.jpg.xmp" in failures[0]
    assert result.sidecars.failed == failures and result.sidecars.created == 2
    assert [kind for kind, _ in sink.events].count("record") == 3


def test_a_preview_writes_nothing_and_says_what_writing_would_change(model, folder):
    result = Engine().tag_folder(model, "cpu",
                                 TagRequest(folder, sidecars=SidecarMode.PREVIEW))
    assert result.sidecars is None
    assert result.preview.files == 3 and result.preview.created == 3
    assert not list(folder.glob("*.xmp"))


def test_cancel_stops_after_the_reported_records_leaves_no_export_and_undo_reverts(
        tmp_path, model, folder):
    cancel = CancelToken()
    sink = RecordingSink(cancel, cancel_after=1)
    request = TagRequest(folder, BatchOptions(workers=1, batch_size=1),
                         csv=tmp_path / "out.csv", sidecars=SidecarMode.WRITE)
    with pytest.raises(Cancelled):
        Engine().tag_folder(model, "cpu", request, sink, cancel=cancel)
    assert [event for event in sink.events if event[0] == "record"] == [("record", ("a.jpg", 1))]
    assert not (tmp_path / "out.csv").exists()
    assert not list(tmp_path.glob("*.tmp"))
    assert sorted(p.name for p in folder.glob("*.xmp")) == ["a.jpg.xmp"]
    assert undo_last(folder).removed == 1
    assert not list(folder.glob("*.xmp"))


def test_sidecars_planned_after_a_run_are_written_under_one_undo_journal(model, folder):
    records: list[BatchRecord] = []

    class Keep(TagSink):
        def record_done(self, record: BatchRecord, progress: BatchProgress) -> None:
            records.append(record)

    result = Engine().tag_folder(model, "cpu", TagRequest(folder), Keep())
    changes, preview = plan_sidecars(records, 0.5)
    report = write_planned_sidecars(folder, changes, result.model.model_id)
    assert report.created == preview.files == 3
    assert undo_last(folder).removed == 3
