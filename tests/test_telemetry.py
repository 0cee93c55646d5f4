"""ONNX Runtime's telemetry stays off: no device id or event queue in a fresh home folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import modelgen
import onnxruntime
import pytest
from PIL import Image

from resnet_desktop.core.foundation.telemetry import (
    ENV,
    disable_onnxruntime_events,
    telemetry_opted_in,
)

REPO = Path(__file__).resolve().parent.parent
RTHOOK = REPO / "packaging" / "rthooks" / "pyi_rth_resnet_desktop.py"


def fresh_home_env(root: Path, **extra: str) -> dict[str, str]:
    """The environment with a new, empty HOME and XDG folders inside it, and no telemetry
    setting inherited from this test process (which has imported the package already)."""
    home = root / "home"
    env = {k: v for k, v in os.environ.items() if k != ENV and not k.startswith("XDG_")}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               RESNET_DESKTOP_CACHE=str(home / "cache"), RESNET_DESKTOP_DATA=str(home / "data"),
               RESNET_DESKTOP_SETTINGS=str(home / "settings"), QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
               **extra)
    home.mkdir(parents=True)
    return env


def telemetry_folders(root: Path) -> list[Path]:
    return [p for p in root.rglob("DeveloperTools") if p.parent.name == "Microsoft"]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def colour_model(tmp_path: Path) -> Path:
    return modelgen.colour_model(tmp_path / "model")


@pytest.mark.gui
def test_classify_tag_and_the_window_leave_no_telemetry(tmp_path: Path,
                                                        colour_model: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    image = photos / "red.png"
    Image.new("RGB", (40, 30), (220, 10, 10)).save(image)
    env = fresh_home_env(tmp_path)
    run(["-m", "resnet_desktop", "classify", "-m", str(colour_model), str(image)], env)
    run(["-m", "resnet_desktop", "tag", str(photos), "-m", str(colour_model), "--csv",
         str(tmp_path / "tags.csv")], env)
    run(["-m", "resnet_desktop", "--model", str(colour_model), "--image", str(image),
         "--screenshot", str(tmp_path / "shot.png")], env)
    assert (tmp_path / "tags.csv").is_file() and (tmp_path / "shot.png").is_file()
    assert telemetry_folders(tmp_path) == []


def test_the_frozen_apps_runtime_hook_switches_telemetry_off(tmp_path: Path) -> None:
    env = fresh_home_env(tmp_path)
    run(["-c", f"import runpy; runpy.run_path({str(RTHOOK)!r}); import onnxruntime"], env)
    assert telemetry_folders(tmp_path) == []


@pytest.mark.parametrize(("value", "kept"), [(None, "1"), ("", "1"), ("0", "0"),
                                             ("false", "false")])
def test_a_user_can_opt_in(tmp_path: Path, value: str | None, kept: str,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The package sets the variable only when the user has not; ONNX Runtime reads anything but
    1, true or yes as "on" (checked by hand: not run here, since it would send events)."""
    env = fresh_home_env(tmp_path, **({} if value is None else {ENV: value}))
    proc = run(["-c", f"import os, resnet_desktop; print(os.environ[{ENV!r}])"], env)
    assert proc.stdout.strip() == kept
    monkeypatch.setenv(ENV, kept)
    assert telemetry_opted_in() is (kept != "1")


@pytest.mark.parametrize("value", ["1", "yes", "TRUE"])
def test_an_off_value_of_the_users_own_is_read_as_onnx_runtime_reads_it(
        tmp_path: Path, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = fresh_home_env(tmp_path, **{ENV: value})
    run(["-c", "import resnet_desktop, onnxruntime"], env)
    monkeypatch.setenv(ENV, value)
    assert telemetry_folders(tmp_path) == [] and not telemetry_opted_in()


def test_the_event_switch_is_onnx_runtimes_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "1")
    disable_onnxruntime_events(onnxruntime)  # the real call; Windows' ETW has no trace here
