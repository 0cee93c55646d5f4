"""FIFOs, devices and broken links named like images: an error record each, never a hang.

A plain ``open()`` of a FIFO waits for a writer that never comes, so these tests run the CLI in
a subprocess: should a regression block again, the subprocess timeout turns the hang into a
failure instead of a stuck test run.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from modelgen import colour_model
from sample_images import solid

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and devices are POSIX")

GUARD_SECONDS = 120  # far beyond a normal run; only a blocked open reaches it


def resnet_desktop(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "resnet_desktop", *map(str, args)],
                          capture_output=True, text=True, timeout=GUARD_SECONDS,
                          env=os.environ.copy())


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "photos"
    solid(folder / "red.jpg", "red")
    os.mkfifo(folder / "pipe.jpg")
    (folder / "zero.jpg").symlink_to("/dev/zero")
    (folder / "gone.jpg").symlink_to(folder / "missing.jpg")
    return folder


def test_classify_refuses_a_fifo_and_a_device_with_one_line_each(tmp_path, folder):
    model = colour_model(tmp_path / "model")
    result = resnet_desktop("classify", "--model", model, folder / "pipe.jpg",
                            folder / "zero.jpg", folder / "red.jpg")
    assert result.returncode == 1
    assert "pipe.jpg: is a named pipe (FIFO), not an image file" in result.stderr
    assert "zero.jpg: is a device, not an image file" in result.stderr
    assert "Traceback" not in result.stderr
    assert "red" in result.stdout


def test_tag_gives_special_files_an_error_record_and_finishes(tmp_path, folder):
    model = colour_model(tmp_path / "model")
    result = resnet_desktop("tag", folder, "--model", model, "--csv", tmp_path / "out.csv",
                            "--xmp")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "out.csv", encoding="utf-8-sig", newline="") as handle:
        rows = {row["path"]: row for row in csv.DictReader(handle)}
    assert rows["red.jpg"]["label"] == "red"
    assert "named pipe (FIFO)" in rows["pipe.jpg"]["error"]
    assert "is a device" in rows["zero.jpg"]["error"]
    assert "a symbolic link to a file that does not exist" in rows["gone.jpg"]["error"]
    assert (folder / "red.jpg.xmp").is_file()
    assert not (folder / "pipe.jpg.xmp").exists()
