"""Named pipes where a model, its manifest, its labels or the catalog belong: refused, never read.

Opening a FIFO for reading blocks until a writer appears, so each of these used to hang the app
or (for a manifest) silently fall back to the default preprocessing. The commands run as real
subprocesses with a time limit, so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import modelgen
import pytest
from PIL import Image

from resnet_desktop.core.foundation.errors import ManifestError
from resnet_desktop.core.models.manifest import load_manifest_for
from resnet_desktop.core.operations.import_model import ImportRequest, check_import

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")

REPO = Path(__file__).resolve().parent.parent
FIFO = "is a named pipe (FIFO), not a regular file"


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "flowers.onnx"
    modelgen.colour_classifier(path, classes=("rose", "fern", "iris"))
    modelgen.write_labels(tmp_path / "flowers.txt", ("rose", "fern", "iris"))
    return path


def cli(*args: object, **env: str) -> subprocess.CompletedProcess:
    child_env = {**os.environ, **env,
                 "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                             os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "resnet_desktop", *map(str, args)], cwd=REPO,
                          env=child_env, capture_output=True, text=True, timeout=30)


def test_a_fifo_manifest_is_an_error_not_the_defaults(model: Path) -> None:
    os.mkfifo(model.with_suffix(".json"))
    with pytest.raises(ManifestError, match=f"^flowers\\.json {re.escape(FIFO)}$"):
        load_manifest_for(model)


def test_a_manifest_naming_fifo_labels_is_refused(model: Path, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    model.with_suffix(".json").write_text(json.dumps({"labels": "pipe.txt"}))
    with pytest.raises(ManifestError, match=r"labels: .*pipe\.txt is not a regular file"):
        load_manifest_for(model)


def test_importing_a_fifo_model_is_refused(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.onnx"
    os.mkfifo(pipe)
    modelgen.write_labels(tmp_path / "labels.txt", ("a", "b", "c"))
    with pytest.raises(ManifestError) as info:
        check_import(ImportRequest(pipe, tmp_path / "labels.txt"))
    assert info.value.field == "model"
    assert str(info.value) == f"model: pipe.onnx {FIFO}"


def test_import_with_fifo_labels_says_so_instead_of_blocking(model: Path, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    proc = cli("import", model, "--labels", tmp_path / "pipe.txt")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"resnet-desktop: error: labels: {tmp_path / 'pipe.txt'} "
                                   f"{FIFO}")
    assert not model.with_suffix(".json").exists()


def test_a_fifo_catalog_says_so_instead_of_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "models.json")
    proc = cli("models", "list", RESNET_DESKTOP_CATALOG=str(tmp_path / "models.json"))
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        f"resnet-desktop: error: catalog {tmp_path / 'models.json'} {FIFO}"]


def test_classify_with_a_fifo_as_the_model_says_what_it_is(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.onnx"
    os.mkfifo(pipe)
    photo = tmp_path / "red.png"
    Image.new("RGB", (64, 48), (230, 20, 20)).save(photo)
    result = cli("classify", "--model", pipe, photo)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].endswith(
        "pipe.onnx: is a named pipe (FIFO), not a model file")
