"""``resnet-desktop --self-test``: run for real in a child process, as the frozen app runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from resnet_desktop.self_test import CheckResult, format_report, report_path_from

REPO = Path(__file__).resolve().parent.parent
CHECKS = ("app", "resources", "onnxruntime", "qt", "qt-multimedia", "classify", "heif")


def run_self_test(*args: str, cwd: Path = REPO, pythonpath: Path | None = None,
                  ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)  # the self-test must choose offscreen itself
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([sys.executable, "-m", "resnet_desktop", "--self-test", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def check_lines(stdout: str) -> dict[str, str]:
    """``{check name: "ok" | "FAIL"}`` from the printed report."""
    found = {}
    for line in stdout.splitlines():
        status, _, rest = line.partition(" ")
        name = rest.split()[0] if rest.split() else ""
        if status in ("ok", "FAIL") and name in CHECKS:
            found[name] = status
    return found


def copy_of_app(tmp_path: Path) -> Path:
    """The package and resources/ copied to ``tmp_path``, as an installation to break."""
    shutil.copytree(REPO / "resnet_desktop", tmp_path / "resnet_desktop",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "resources", tmp_path / "resources")
    return tmp_path


def test_self_test_passes_and_writes_the_same_report(tmp_path: Path) -> None:
    report = tmp_path / "reports" / "self-test.txt"
    result = run_self_test("--self-test-report", str(report))
    assert result.returncode == 0, result.stdout + result.stderr
    assert check_lines(result.stdout) == dict.fromkeys(CHECKS, "ok")
    assert "red.jpg: red" in result.stdout
    assert "CPUExecutionProvider" in result.stdout
    assert result.stdout.rstrip().endswith("self-test passed")
    assert report.read_text(encoding="utf-8") == result.stdout


def test_a_wrong_answer_fails_the_classify_check(tmp_path: Path) -> None:
    app = copy_of_app(tmp_path / "app")
    Image.new("RGB", (64, 64), (20, 200, 30)).save(app / "resources" / "selftest" / "red.jpg")
    result = run_self_test(cwd=app, pythonpath=app)
    assert result.returncode == 1
    assert check_lines(result.stdout)["classify"] == "FAIL"
    assert "classified as 'green'" in result.stdout
    assert "expected 'red'" in result.stdout
    assert "self-test FAILED: classify (1 of 7 checks)" in result.stdout


def test_a_heic_that_does_not_decode_fails_the_heif_check(tmp_path: Path) -> None:
    app = copy_of_app(tmp_path / "app")
    heic = app / "resources" / "selftest" / "red.heic"
    heic.write_bytes(heic.read_bytes()[:60])
    result = run_self_test(cwd=app, pythonpath=app)
    assert result.returncode == 1
    assert check_lines(result.stdout)["heif"] == "FAIL"
    assert "red.heic: the image is corrupt" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_missing_test_model_is_named(tmp_path: Path) -> None:
    app = copy_of_app(tmp_path / "app")
    (app / "resources" / "selftest" / "colours.onnx").unlink()
    result = run_self_test(cwd=app, pythonpath=app)
    assert result.returncode == 1
    lines = check_lines(result.stdout)
    assert lines["resources"] == "FAIL" and lines["classify"] == "FAIL"
    assert lines["onnxruntime"] == "ok" and lines["qt"] == "ok"
    assert "selftest/colours.onnx" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_an_unwritable_report_path_is_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    result = run_self_test("--self-test-report", str(blocker / "report.txt"))
    assert result.returncode == 2
    assert "cannot write the self-test report" in result.stderr
    assert not (blocker / "report.txt").exists()


@pytest.mark.parametrize(("argv", "expected"), [
    (["--self-test"], None),
    (["--self-test", "--self-test-report", "out.txt"], Path("out.txt")),
    (["--self-test-report=a b.txt", "--self-test"], Path("a b.txt")),
    (["--self-test", "--self-test-report"], None),
])
def test_report_option(argv: list[str], expected: Path | None) -> None:
    assert report_path_from(argv) == expected


def test_report_lists_failures_last() -> None:
    text = format_report([CheckResult("app", True, "fine", 0.0),
                          CheckResult("classify", False, "wrong answer", 0.1)])
    assert text.splitlines() == [
        "resnet-desktop self-test",
        "ok   app       fine",
        "FAIL classify  wrong answer",
        "self-test FAILED: classify (1 of 2 checks)",
    ]
