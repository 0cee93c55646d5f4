"""``tag --ray``: the same folder on a local Ray cluster (2 CPUs) gives the same records.

One Ray is started for the whole module (start-up takes seconds); the run itself then joins
it, as ``--ray auto`` joins a running cluster.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import sys
from pathlib import Path

import pytest
from cli_runner import run_cli
from modelgen import colour_model
from recording_sink import RecordingSink
from sample_images import bad_folder, numbered_folder

from resnet_desktop.core.batch import cluster
from resnet_desktop.core.batch.cluster import (
    LOCAL,
    ClassifyWorker,
    ClusterError,
    ClusterOptions,
)
from resnet_desktop.core.batch.run import BatchOptions
from resnet_desktop.core.engine import Engine
from resnet_desktop.core.operations.tag_folder import TagRequest

# Ray Data's own context warns about its own defaults when it is created.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="Ray is not installed (pip install -e '.[cluster]')")


@pytest.fixture(scope="module")
def local_ray() -> str:
    """A running 2-CPU cluster's address (as ``ray start --head`` leaves one)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False,
             logging_level=logging.ERROR)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def _records(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["records"]


def _assert_same(local: list[dict], clustered: list[dict]) -> None:
    """Same files, labels and errors in the same order; probabilities within float rounding
    (the cluster's one-CPU workers run the model in batches, a local run image by image)."""
    assert [r["path"] for r in clustered] == [r["path"] for r in local]
    for mine, theirs in zip(local, clustered, strict=True):
        assert theirs.get("error") == mine.get("error"), mine["path"]
        assert [p["label"] for p in theirs.get("top_k", [])] == \
            [p["label"] for p in mine.get("top_k", [])]
        for a, b in zip(mine.get("top_k", []), theirs.get("top_k", []), strict=True):
            assert b["probability"] == pytest.approx(a["probability"], abs=1e-5)


def _photo_folder(root: Path, photos: dict[str, Path]) -> Path:
    folder, _ = bad_folder(root)
    for name, source in photos.items():
        (folder / "real" / f"{name}.png").parent.mkdir(exist_ok=True)
        (folder / "real" / f"{name}.png").write_bytes(source.read_bytes())
    return folder


@needs_ray
@pytest.mark.parametrize("ship_bytes", [False, True], ids=["shared-storage", "ship-bytes"])
def test_a_folder_on_ray_gives_the_records_of_a_local_run(tmp_path, local_ray, shared_model,
                                                          photos, ship_bytes):
    folder = _photo_folder(tmp_path, photos)
    if ship_bytes:
        os.mkfifo(folder / "pipe.jpg")  # the driver must refuse it as a local run does
    options = BatchOptions(recursive=True, top_k=3, skip_done=False)
    engine = Engine()
    engine.tag_folder(shared_model, "cpu", TagRequest(folder, options, json=tmp_path / "l.json"))
    result = engine.tag_folder(shared_model, "cpu", TagRequest(
        folder, options, json=tmp_path / "r.json",
        cluster=ClusterOptions(local_ray, ship_bytes=ship_bytes, batch_size=4)))

    local, clustered = _records(tmp_path / "l.json"), _records(tmp_path / "r.json")
    _assert_same(local, clustered)
    assert {r["path"] for r in clustered if r.get("error") is None} >= \
        {"red.jpg", "real/coffee.png", "real/chelsea.png", "real/astronaut.png"}
    assert any("pipe.jpg" in (r.get("error") or "") for r in clustered) == ship_bytes
    assert result.progress.classified == sum(1 for r in local if r.get("error") is None)
    provenance = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["provenance"]
    assert (provenance["cluster"], provenance["provider"]) == (local_ray, "cpu")
    local_provenance = json.loads((tmp_path / "l.json").read_text(encoding="utf-8"))
    assert local_provenance["provenance"]["cluster"] is None


@needs_ray
def test_a_worker_killed_mid_run_is_retried_and_every_file_gets_one_record(
        tmp_path, local_ray, monkeypatch):
    model = colour_model(tmp_path / "model")
    folder = numbered_folder(tmp_path, 12)
    request = TagRequest(folder, BatchOptions(top_k=1), csv=tmp_path / "out.csv",
                         cluster=ClusterOptions(local_ray, batch_size=3))
    marker = tmp_path / "killed"

    class DiesOnce(ClassifyWorker):
        """Kills its own process the first time a batch holds img_007.jpg (the marker file
        says it has happened), as a worker lost to the OOM killer or a failed node dies."""

        def __call__(self, batch):
            if any(str(p).endswith("img_007.jpg") for p in batch["path"]) and \
                    not marker.exists():
                marker.touch()
                os._exit(1)
            return super().__call__(batch)

    monkeypatch.setattr(cluster, "ClassifyWorker", DiesOnce)
    engine = Engine()
    result = engine.tag_folder(model, "cpu", request)

    assert marker.exists()
    rows = (tmp_path / "out.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    names = [row.split(",")[0] for row in rows]
    assert names == [f"img_{i:03d}.jpg" for i in range(12)]
    assert (result.progress.classified, result.progress.failed) == (12, 0)

    again = engine.tag_folder(model, "cpu", TagRequest(folder, BatchOptions(top_k=1),
                                                       cluster=ClusterOptions(local_ray)))
    assert (again.progress.cached, again.progress.classified) == (12, 0)


@needs_ray
def test_the_cluster_going_away_ends_the_run_with_what_to_do_and_a_rerun_resumes(
        tmp_path, local_ray, monkeypatch):
    model = colour_model(tmp_path / "model")
    folder = numbered_folder(tmp_path, 12)

    class KillsItsNode(ClassifyWorker):
        """Kills the node it runs on (its raylet: Ray starts workers as the raylet's children)
        once the first files are done, as a cluster whose head or node goes away."""

        def __call__(self, batch):
            if any(str(p).endswith("img_007.jpg") for p in batch["path"]):
                os.kill(os.getppid(), signal.SIGKILL)
            return super().__call__(batch)

    monkeypatch.setattr(cluster, "ClassifyWorker", KillsItsNode)
    sink = RecordingSink()
    engine = Engine()
    with pytest.raises(ClusterError, match=r"running the same command again resumes"):
        # A Ray of its own (`local`): the node it kills is not the other tests' cluster.
        engine.tag_folder(model, "cpu", TagRequest(folder, BatchOptions(top_k=1),
                                                   cluster=ClusterOptions(LOCAL, batch_size=3)),
                          sink)
    done_before = [path for kind, (path, _) in sink.events[1:] if kind == "record"]
    assert done_before == [f"img_{i:03d}.jpg" for i in range(len(done_before))]
    assert len(done_before) < 12

    monkeypatch.setattr(cluster, "ClassifyWorker", ClassifyWorker)
    again = engine.tag_folder(model, "cpu", TagRequest(folder, BatchOptions(top_k=1),
                                                       cluster=ClusterOptions(local_ray)))
    assert (again.progress.cached, again.progress.classified) == (len(done_before),
                                                                  12 - len(done_before))


@needs_ray
def test_tag_ray_on_the_command_line_writes_what_a_local_run_writes(tmp_path, local_ray,
                                                                     capsys, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", local_ray)  # what `--ray auto` joins first
    model = colour_model(tmp_path / "model")
    folder = numbered_folder(tmp_path, 5)
    code, _, err = run_cli(capsys, "tag", folder, "--model", model, "--provider", "cpu",
                           "--json", tmp_path / "l.json")
    assert code == 0, err
    code, _, err = run_cli(capsys, "tag", folder, "--model", model, "--provider", "cpu",
                           "--no-skip", "--json", tmp_path / "r.json", "--ray", "auto",
                           "--ray-ship-bytes")
    assert code == 0, err
    _assert_same(_records(tmp_path / "l.json"), _records(tmp_path / "r.json"))


def test_without_ray_the_run_stops_before_any_output_and_says_what_to_install(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "ray.data", None)
    model = colour_model(tmp_path / "model")
    folder = numbered_folder(tmp_path, 2)
    code, _, err = run_cli(capsys, "tag", folder, "--model", model, "--provider", "cpu",
                           "--csv", tmp_path / "out.csv", "--ray", "local")
    assert code == 2
    assert "resnet-desktop[cluster]" in err
    assert not (tmp_path / "out.csv").exists()
    with pytest.raises(ClusterError, match="Ray is not installed"):
        Engine().tag_folder(model, "cpu", TagRequest(folder, cluster=ClusterOptions()))


def test_ray_options_need_ray(tmp_path, capsys):
    code, _, err = run_cli(capsys, "tag", tmp_path, "--ray-ship-bytes")
    assert code == 2 and "need --ray" in err
