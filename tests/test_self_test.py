"""``resnet-desktop --self-test``: run for real in a child process, as the frozen app runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from resnet_desktop.self_test import (
    CheckResult,
    format_report,
    report_path_from,
    xcb_failure_hint,
)

REPO = Path(__file__).resolve().parent.parent
CHECKS = ("app", "resources", "onnxruntime", "qt", "display", "qt-multimedia", "classify",
          "builtin-model", "heif")


def run_self_test(*args: str, cwd: Path = REPO, pythonpath: Path | None = None,
                  extra_env: dict[str, str] | None = None,
                  ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)  # the self-test must choose offscreen itself
    env.pop("DISPLAY", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    env.update(extra_env or {})
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
    assert "no X display (DISPLAY is not set)" in result.stdout
    assert "red.jpg: red" in result.stdout
    assert "efficientnet-lite0: coffee.jpg: espresso" in result.stdout
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
    assert "self-test FAILED: classify (1 of 9 checks)" in result.stdout


def test_a_photo_the_builtin_model_gets_wrong_fails_its_check(tmp_path: Path) -> None:
    app = copy_of_app(tmp_path / "app")
    Image.new("RGB", (384, 256), (30, 90, 200)).save(app / "resources" / "selftest" /
                                                     "coffee.jpg")
    result = run_self_test(cwd=app, pythonpath=app)
    assert result.returncode == 1
    assert check_lines(result.stdout)["builtin-model"] == "FAIL"
    assert "selftest/coffee.jpg was classified as" in result.stdout
    assert "by efficientnet-lite0; expected 'espresso'" in result.stdout


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


@pytest.fixture
def x_display():
    """A private Xvfb server; its display name (``:N``), chosen by Xvfb itself."""
    if not sys.platform.startswith("linux") or shutil.which("Xvfb") is None:
        pytest.skip("needs Xvfb (apt-get install xvfb)")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as announced:
        number = announced.readline().strip()  # written once the server accepts clients
    if not number:
        server.kill()
        server.wait()
        pytest.skip("Xvfb did not start")
    yield f":{number}"
    server.terminate()
    server.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 is Linux's")
def test_with_a_display_the_xcb_platform_really_starts(x_display: str) -> None:
    result = run_self_test(extra_env={"DISPLAY": x_display})
    assert result.returncode == 0, result.stdout + result.stderr
    display_line = next(line for line in result.stdout.splitlines()
                        if line.startswith("ok   display"))
    assert "platform xcb loads and connects" in display_line
    assert f"DISPLAY={x_display}" in display_line


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 is Linux's")
def test_a_library_the_xcb_plugin_cannot_load_fails_with_the_package_to_install(
        x_display: str, tmp_path: Path) -> None:
    # A broken libxcb-cursor.so.0 found first stands for a missing one: the dynamic loader
    # fails on it exactly where the real plugin needs it.
    broken = tmp_path / "lib"
    broken.mkdir()
    (broken / "libxcb-cursor.so.0").write_bytes(b"")
    result = run_self_test(extra_env={"DISPLAY": x_display, "LD_LIBRARY_PATH": str(broken)})
    assert result.returncode == 1
    lines = check_lines(result.stdout)
    assert lines["display"] == "FAIL"
    assert {name for name, status in lines.items() if status == "FAIL"} == {"display"}
    assert "install libxcb-cursor0 (Debian, Ubuntu), xcb-util-cursor (Fedora)" in result.stdout
    assert "self-test FAILED: display (1 of 9 checks)" in result.stdout


@pytest.mark.parametrize(("qt_output", "expected"), [
    ("qt.core.plugin.loader: QLibraryPrivate::loadPlugin failed\n"
     "qt.core.library: \"/app/_internal/PySide6/Qt/plugins/platforms/libqxcb.so\" cannot load: "
     "Cannot load library /app/_internal/PySide6/Qt/plugins/platforms/libqxcb.so: "
     "(libxcb-cursor.so.0: cannot open shared object file: No such file or directory)\n"
     "qt.qpa.plugin: Could not load the Qt platform plugin \"xcb\" in \"\" even though it was "
     "found.\n",
     "libxcb-cursor.so.0 cannot be loaded; install libxcb-cursor0 (Debian, Ubuntu), "
     "xcb-util-cursor (Fedora) or xcb-util-cursor (Arch)"),
    ("Cannot load library /q/platforms/libqxcb.so: /usr/lib/libxkbcommon-x11.so.0: file too "
     "short",
     "libxkbcommon-x11.so.0 cannot be loaded; install libxkbcommon-x11-0 (Debian, Ubuntu), "
     "libxkbcommon-x11 (Fedora) or libxkbcommon-x11 (Arch)"),
    ("Cannot load library /q/platforms/libqxcb.so: (libxcb-xinput.so.0: cannot open shared "
     "object file: No such file or directory)",
     "libxcb-xinput.so.0 cannot be loaded; install libxcb-xinput0 (Debian, Ubuntu), libxcb "
     "(Fedora) or libxcb (Arch)"),
    ("Cannot load library /q/platforms/libqxcb.so: (libfoo.so.3: cannot open shared object "
     "file: No such file or directory)",
     "libfoo.so.3 cannot be loaded; install the package that provides it"),
    ("qt.qpa.xcb: could not connect to display :55\n"
     "qt.qpa.plugin: Could not load the Qt platform plugin \"xcb\" in \"\" even though it was "
     "found.\n",
     "cannot connect to the X display"),
])
def test_xcb_failure_hint_names_the_package(qt_output: str, expected: str) -> None:
    assert xcb_failure_hint(qt_output).startswith(expected)
