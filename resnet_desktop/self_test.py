"""``resnet-desktop --self-test``: the installed (often frozen) app checks that its parts work.

An installer can look complete and still lack a native library that only loads at run time:
ONNX Runtime's provider libraries, a Qt platform or image-format plugin, Qt Multimedia's FFmpeg
backend, or the bundled resources. The self-test loads each of them for real, classifies the
bundled sample image with the bundled tiny model and a real bundled photo with the built-in
EfficientNet-Lite0 through the same engine the window uses, and prints what it found. It exits
0 only if every check passed.

Qt runs on its ``offscreen`` platform so the test also works on a machine without a display
(CI). A windowed Windows build has no stdout, so ``--self-test-report PATH`` also writes the
report to a file.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from resnet_desktop import __version__

if TYPE_CHECKING:  # the checks import the engine when they run, not at start-up
    from resnet_desktop.core.engine import Classifier, Engine, Prediction

SELFTEST_MODEL = "selftest/colours.onnx"
SELFTEST_IMAGE = "selftest/red.jpg"
SELFTEST_HEIC = "selftest/red.heic"
EXPECTED_LABEL = "red"
SELFTEST_PHOTO = "selftest/coffee.jpg"
"""scikit-image's coffee photo (CC0, Rachel Michetti), which the built-in model calls espresso."""
EXPECTED_PHOTO_LABEL = "espresso"
REPORT_OPTION = "--self-test-report"
PLATFORM_PROBE_OPTION = "--self-test-platform"
"""``--self-test --self-test-platform xcb``: the child process of the display check."""

# The image formats the window needs from Qt's plugins: PNG is built in, JPEG and SVG are
# plugins that a pruned bundle could lose (the app icon is an SVG).
REQUIRED_IMAGE_FORMATS = ("png", "jpeg", "svg")

# The native platform plugin the real window needs on each OS (the test itself runs offscreen).
NATIVE_PLATFORM_PLUGIN = {"linux": "qxcb", "win32": "qwindows", "darwin": "qcocoa"}

# The packages (Debian/Ubuntu, Fedora, Arch) that provide the libraries Qt's xcb platform plugin
# loads and the bundle may lack (PyInstaller bundles only what the build machine had).
XCB_LIBRARY_PACKAGES: dict[str, tuple[str, str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil",
                                "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util"),
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus"),
}
# Other libxcb extensions follow one naming scheme: libxcb-randr.so.0 is Debian's libxcb-randr0
# and part of Fedora's and Arch's libxcb.
_XCB_EXTENSION = re.compile(r"^libxcb-([a-z0-9-]+)\.so\.(\d+)$")
# Qt (with QT_DEBUG_PLUGINS) names the library that stopped the plugin from loading:
# "Cannot load library .../libqxcb.so: (libxcb-cursor.so.0: cannot open shared object file...)"
_UNLOADABLE = re.compile(r"Cannot load library \S*libqxcb\.so: \(?(?:\S*/)?([^/:\s()]+\.so[.\d]*):")


class CheckFailed(Exception):
    """A check ran but found something wrong; the message says what."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float


def _check_app() -> str:
    frozen = getattr(sys, "frozen", False)
    where = f"frozen bundle {getattr(sys, '_MEIPASS', '?')}" if frozen else f"Python {sys.prefix}"
    return (f"resnet-desktop {__version__}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.machine()}, {where}")


def _check_resources() -> str:
    from resnet_desktop.resources import resource_path, resources_dir

    folder = resources_dir()
    missing = [name for name in ("models.json", "imagenet_classes.txt", SELFTEST_MODEL,
                                 SELFTEST_IMAGE, SELFTEST_HEIC, SELFTEST_PHOTO)
               if not resource_path(name).is_file()]
    if missing:
        raise CheckFailed(f"missing from {folder}: {', '.join(missing)}")
    return str(folder)


def _check_onnxruntime() -> str:
    import onnxruntime as ort

    from resnet_desktop.core.inference.runtime_check import flavour_warning

    detail = (f"onnxruntime {ort.__version__} ({ort.get_device()}), providers: "
              f"{', '.join(ort.get_available_providers())}")
    if sys.platform == "win32":
        detail += f"; {_vc_runtime()}"
    warning = flavour_warning()
    return f"{detail}; WARNING: {warning}" if warning else detail


def _qt_app():
    """The running QApplication, or a new one on the offscreen platform."""
    from PySide6.QtWidgets import QApplication

    import resnet_desktop.gui  # noqa: F401  (its PySide6 workaround must run before Qt calls)

    app = QApplication.instance()
    if app is None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        app = QApplication([sys.argv[0] if sys.argv else "resnet-desktop"])
    return app


def _plugin_paths(kind: str) -> list[Path]:
    from PySide6.QtCore import QCoreApplication

    paths: dict[str, Path] = {}
    for folder in QCoreApplication.libraryPaths():
        plugin_dir = Path(folder) / kind
        if plugin_dir.is_dir():
            paths.update((p.name, p) for p in plugin_dir.iterdir() if p.is_file())
    return [paths[name] for name in sorted(paths)]


def _plugin_files(kind: str) -> list[str]:
    return [path.name for path in _plugin_paths(kind)]


def _native_platform_plugin() -> str:
    """Whether the plugin the real window needs loads; missing system libraries are a note only.

    The test itself runs offscreen, and a CI machine need not have the X11 libraries a desktop
    has, so this explains rather than fails.
    """
    from PySide6.QtCore import QLibrary

    native = NATIVE_PLATFORM_PLUGIN.get(sys.platform)
    if native is None:
        return ""
    candidates = [p for p in _plugin_paths("platforms") if native in p.name]
    if not candidates:
        raise CheckFailed(f"the {native} platform plugin is missing (found: "
                          f"{', '.join(_plugin_files('platforms')) or 'none'}); the window "
                          "cannot open")
    library = QLibrary(str(candidates[0]))
    if library.load():
        return f", {native} plugin loads"
    error = library.errorString()
    hint = f" ({xcb_failure_hint(error)})" if native == "qxcb" else ""
    return (f", NOTE: the {native} plugin cannot load here: {error}{hint}; the window needs "
            "it on a desktop")


def _check_qt() -> str:
    import PySide6
    from PySide6.QtCore import qVersion
    from PySide6.QtGui import QIcon, QImageReader

    app = _qt_app()
    formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    missing = [f for f in REQUIRED_IMAGE_FORMATS if f not in formats]
    if missing:
        raise CheckFailed(f"Qt image-format plugins missing for: {', '.join(missing)}")
    platforms = _plugin_files("platforms")
    detail = (f"Qt {qVersion()}, PySide6 {PySide6.__version__}, platform {app.platformName()}, "
              f"platform plugins: {', '.join(platforms) or 'none'}")
    detail += _native_platform_plugin()
    from resnet_desktop.resources import resources_dir

    icon_file = resources_dir() / "icons" / "resnet-desktop.svg"
    if icon_file.is_file():
        if QIcon(str(icon_file)).pixmap(64, 64).isNull():
            raise CheckFailed(f"the app icon {icon_file.name} did not render")
        detail += ", app icon renders"
    return detail


def xcb_failure_hint(qt_output: str) -> str:
    """What stopped Qt's xcb platform plugin, from the probe's output, and what to install."""
    match = _UNLOADABLE.search(qt_output)
    if match:
        library = match.group(1)
        packages = XCB_LIBRARY_PACKAGES.get(library)
        extension = _XCB_EXTENSION.match(library)
        if packages is None and extension:
            packages = (f"libxcb-{extension.group(1)}{extension.group(2)}", "libxcb", "libxcb")
        if packages is None:
            return f"{library} cannot be loaded; install the package that provides it"
        debian, fedora, arch = packages
        return (f"{library} cannot be loaded; install {debian} (Debian, Ubuntu), "
                f"{fedora} (Fedora) or {arch} (Arch)")
    if "could not connect to display" in qt_output:
        display = os.environ.get("DISPLAY", "")
        return (f"cannot connect to the X display {display!r} (is the X server running, and "
                "does this user have access to it?)")
    lines = [line.strip() for line in qt_output.splitlines()
             if line.strip() and not line.startswith((" ", "\t", "{", "}", "qt.core."))]
    return lines[-1] if lines else "the probe exited without a message"


def _platform_probe_command() -> list[str]:
    """This app again (frozen or not), as the child that opens the native platform."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--self-test", PLATFORM_PROBE_OPTION, "xcb"]
    return [sys.executable, "-m", "resnet_desktop", "--self-test", PLATFORM_PROBE_OPTION, "xcb"]


def _check_display() -> str:
    """Linux with an X display: Qt's xcb platform plugin really loads and connects.

    The rest of the self-test runs offscreen, so this starts the app again in a child process
    on the xcb platform: a library the plugin needs (libxcb-cursor0 above all) that neither the
    bundle nor the system has stops Qt there with a message naming it, which becomes the
    package to install. Without a display (CI, SSH) there is nothing to connect to.
    """
    if not sys.platform.startswith("linux"):
        return f"not needed: the window uses {NATIVE_PLATFORM_PLUGIN.get(sys.platform, '?')}"
    display = os.environ.get("DISPLAY")
    if not display:
        return "no X display (DISPLAY is not set): the xcb platform is not checked"
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", QT_DEBUG_PLUGINS="1")
    try:
        result = subprocess.run(_platform_probe_command(), env=env, capture_output=True,
                                text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"starting Qt on the X display {display!r} did not finish in "
                          "120 s") from None
    output = result.stdout + result.stderr
    if result.returncode != 0 or "platform xcb" not in result.stdout:
        raise CheckFailed(f"Qt's xcb platform cannot start on DISPLAY={display}: "
                          f"{xcb_failure_hint(output)}; the window cannot open under X11")
    return f"{result.stdout.strip()}, DISPLAY={display}"


def _probe_platform() -> int:
    """The display check's child: start Qt on the platform in QT_QPA_PLATFORM and report it.

    Qt aborts the process when the platform plugin cannot load; the parent reads why.
    """
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication([sys.argv[0] if sys.argv else "resnet-desktop"])
    screen = app.primaryScreen()
    size = screen.size() if screen is not None else None
    where = f", screen {size.width()}x{size.height()}" if size is not None else ""
    print(f"platform {app.platformName()} loads and connects{where}", flush=True)
    return 0


def _check_multimedia() -> str:
    _qt_app()
    from PySide6.QtMultimedia import QMediaDevices, QMediaFormat

    cameras = QMediaDevices.videoInputs()
    # Without a backend plugin (FFmpeg, or the native one on macOS) Qt knows no codecs at all.
    codecs = QMediaFormat().supportedVideoCodecs(QMediaFormat.ConversionMode.Decode)
    if not codecs:
        raise CheckFailed("Qt Multimedia loaded but found no media backend plugin "
                          f"(plugins: {', '.join(_plugin_files('multimedia')) or 'none'}); "
                          "the webcam cannot work")
    names = ", ".join(c.description() for c in cameras) or "none (fine on a machine without one)"
    return (f"backend: {', '.join(_plugin_files('multimedia')) or 'built in'}, "
            f"{len(codecs)} video decoders, cameras: {names}")


def _loaded_module(name: str) -> str | None:
    """Windows: the path of the DLL called ``name`` that this process loaded, if any."""
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.GetModuleHandleW.restype = wintypes.HMODULE
    kernel32.GetModuleHandleW.argtypes = [wintypes.LPCWSTR]
    handle = kernel32.GetModuleHandleW(name)
    if not handle:
        return None
    buffer = ctypes.create_unicode_buffer(32768)
    kernel32.GetModuleFileNameW(wintypes.HMODULE(handle), buffer, len(buffer))
    return buffer.value


def _file_version(path: str) -> tuple[int, int, int, int] | None:
    """Windows: a DLL's FileVersion from its version resource."""
    import ctypes
    from ctypes import wintypes

    version = ctypes.WinDLL("version", use_last_error=True)
    version.GetFileVersionInfoSizeW.argtypes = [wintypes.LPCWSTR, wintypes.LPDWORD]
    version.GetFileVersionInfoW.argtypes = [wintypes.LPCWSTR, wintypes.DWORD, wintypes.DWORD,
                                            wintypes.LPVOID]
    version.VerQueryValueW.argtypes = [wintypes.LPCVOID, wintypes.LPCWSTR,
                                       ctypes.POINTER(wintypes.LPVOID),
                                       ctypes.POINTER(wintypes.UINT)]
    size = version.GetFileVersionInfoSizeW(path, None)
    if not size:
        return None
    data = ctypes.create_string_buffer(size)
    if not version.GetFileVersionInfoW(path, 0, size, data):
        return None
    fixed, length = wintypes.LPVOID(), wintypes.UINT()
    if not version.VerQueryValueW(data, "\\", ctypes.byref(fixed), ctypes.byref(length)) \
            or length.value < 16:
        return None
    # VS_FIXEDFILEINFO: signature, struct version, FileVersionMS, FileVersionLS, ...
    words = ctypes.cast(fixed, ctypes.POINTER(wintypes.DWORD * 4)).contents
    ms, ls = words[2], words[3]
    return ms >> 16, ms & 0xFFFF, ls >> 16, ls & 0xFFFF


VC_RUNTIME_FLOOR = (14, 40)
"""ONNX Runtime (built with Visual Studio 2022 17.10+) can crash with an older msvcp140.dll."""


def _vc_runtime() -> str:
    """Windows: the msvcp140.dll this process runs with (the bundle carries its own)."""
    path = _loaded_module("msvcp140.dll")
    if path is None:
        return "msvcp140.dll not loaded"
    version = _file_version(path)
    shown = ".".join(map(str, version)) if version else "unknown version"
    if version is None or version[:2] < VC_RUNTIME_FLOOR:
        raise CheckFailed(f"ONNX Runtime runs with {path} ({shown}), older than 14.40; it can "
                          "crash there")
    return f"msvcp140.dll {shown} from {path}"


def _expect(engine: Engine, classifier: Classifier, image: str,
            label: str) -> tuple[Prediction, float]:
    """The top prediction for the bundled ``image`` and its time, or why it is not ``label``."""
    from resnet_desktop.resources import resource_path

    result = engine.classify_file(classifier, resource_path(image), top_k=3)
    if not result.ok:
        raise CheckFailed(f"classifying {image} failed: {result.error}")
    best = result.top[0]
    if best.label != label:
        raise CheckFailed(f"{image} was classified as {best.label!r} ({best.probability:.1%}) "
                          f"by {classifier.model_id}; expected {label!r}")
    return best, result.ms


def _check_classify() -> str:
    from resnet_desktop.core.engine import Engine
    from resnet_desktop.resources import resource_path

    engine = Engine()
    classifier = engine.load(str(resource_path(SELFTEST_MODEL)), provider="auto")
    best, ms = _expect(engine, classifier, SELFTEST_IMAGE, EXPECTED_LABEL)
    detail = (f"{Path(SELFTEST_IMAGE).name}: {best.label} {best.probability:.1%} on "
              f"{classifier.provider.display} in {ms:.1f} ms")
    if classifier.provider.fallback_reason:
        detail += f" (GPU not used: {classifier.provider.fallback_reason})"
    if sys.platform == "win32" and classifier.provider.active == "directml":
        dll = _loaded_module("DirectML.dll")
        if dll and Path(dll).parent.name.lower() == "system32":
            raise CheckFailed(f"DirectML ran with Windows' own {dll}, not ONNX Runtime's copy; "
                              "the bundle's DLL search path is wrong")
        detail += f", DirectML.dll: {dll}"
    return detail


def _check_builtin_model() -> str:
    """The built-in model (the first start's default) answers a real photo correctly."""
    from resnet_desktop.core.engine import Engine

    engine = Engine()
    model = engine.catalog.builtin_id
    if model is None:
        raise CheckFailed("the catalog lists no built-in model")
    classifier = engine.load(model, provider="cpu")
    best, ms = _expect(engine, classifier, SELFTEST_PHOTO, EXPECTED_PHOTO_LABEL)
    return (f"{model}: {Path(SELFTEST_PHOTO).name}: {best.label} {best.probability:.1%} "
            f"in {ms:.1f} ms")


def _check_heif() -> str:
    """pi-heif's libheif and libde265 are native libraries a bundle can lose."""
    from resnet_desktop.core.imaging.decode import FORMATS, load_image
    from resnet_desktop.resources import resource_path

    if "HEIF" not in FORMATS:
        raise CheckFailed("HEIC/HEIF is not supported: pi-heif did not import")
    image = load_image(resource_path(SELFTEST_HEIC))
    r, g, b = image.getpixel((image.width // 2, image.height // 2))
    if not (r > 180 and g < 80 and b < 80):
        raise CheckFailed(f"{SELFTEST_HEIC} decoded to ({r}, {g}, {b}), not red")
    import pi_heif

    return (f"{Path(SELFTEST_HEIC).name}: {image.width}x{image.height}, "
            f"pi-heif {pi_heif.__version__}")


CHECKS: tuple[tuple[str, Callable[[], str]], ...] = (
    ("app", _check_app),
    ("resources", _check_resources),
    ("onnxruntime", _check_onnxruntime),
    ("qt", _check_qt),
    ("display", _check_display),
    ("qt-multimedia", _check_multimedia),
    ("classify", _check_classify),
    ("builtin-model", _check_builtin_model),
    ("heif", _check_heif),
)


def run_checks() -> list[CheckResult]:
    """Every check in order; one failing does not stop the others."""
    results = []
    for name, check in CHECKS:
        start = time.perf_counter()
        try:
            detail, ok = check(), True
        except CheckFailed as exc:
            detail, ok = str(exc), False
        except Exception as exc:  # an unexpected error is the finding, with where it came from
            where = traceback.extract_tb(exc.__traceback__)[-1]
            detail = (f"{type(exc).__name__}: {exc} "
                      f"({Path(where.filename).name}:{where.lineno})")
            ok = False
        results.append(CheckResult(name, ok, detail, time.perf_counter() - start))
    return results


def format_report(results: Sequence[CheckResult]) -> str:
    width = max(len(r.name) for r in results)
    lines = ["resnet-desktop self-test"]
    lines += [f"{'ok  ' if r.ok else 'FAIL'} {r.name:<{width}}  {r.detail}" for r in results]
    failed = [r.name for r in results if not r.ok]
    lines.append("self-test passed" if not failed else
                 f"self-test FAILED: {', '.join(failed)} ({len(failed)} of {len(results)} checks)")
    return "\n".join(lines) + "\n"


def report_path_from(argv: Sequence[str]) -> Path | None:
    """``--self-test-report PATH`` or ``--self-test-report=PATH``."""
    for i, arg in enumerate(argv):
        if arg.startswith(REPORT_OPTION + "="):
            return Path(arg.split("=", 1)[1])
        if arg == REPORT_OPTION and i + 1 < len(argv):
            return Path(argv[i + 1])
    return None


def run_self_test(argv: Sequence[str] | None = None) -> int:
    """Run every check, print the report (and write it to ``--self-test-report``); 0 if all ok."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if PLATFORM_PROBE_OPTION in argv:
        return _probe_platform()
    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia.*=false")
    results = run_checks()
    report = format_report(results)
    print(report, end="", flush=True)
    report_file = report_path_from(argv)
    if report_file is not None:
        from resnet_desktop.core.foundation.atomic import atomic_write_text

        try:
            atomic_write_text(report_file, report)
        except OSError as exc:
            print(f"resnet-desktop: cannot write the self-test report to {report_file}: "
                  f"{exc.strerror or exc}", file=sys.stderr)
            return 2
    return 0 if all(r.ok for r in results) else 1
