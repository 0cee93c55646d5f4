"""What goes into the PyInstaller bundle and what is pruned from it.

Kept in a plain module (not in the spec) so the spec, ``build.py`` and the packaging tests share
one source of truth. Nothing here imports PyInstaller or Qt.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

APP_NAME = "resnet-desktop"
"""The executable and bundle folder name (``dist/resnet-desktop/resnet-desktop``)."""
DISPLAY_NAME = "ResNet Desktop"
BUNDLE_ID = "org.resnetdesktop.ResNetDesktop"
"""macOS CFBundleIdentifier; the camera permission the user grants is stored against it."""
PUBLISHER = "ResNet Desktop contributors"
SIZE_LIMIT_MB = 400
"""The Linux bundle must stay under this many MB unpacked (CI fails above it). 350 until the
built-in model (18 MB), exiv2 for embedded keywords (20 MB) and lxml (10 MB) came in."""

# The Qt modules the app imports (tests/test_packaging.py checks every `PySide6.QtX` import in
# resnet_desktop/ is listed), plus the ones those import: PySide6.QtMultimedia imports
# QtNetwork, and QtMultimedia's PyInstaller hook adds QtMultimediaWidgets. QtSvg renders the
# SVG icons.
KEEP_QT_MODULES = frozenset({
    "QtCore", "QtGui", "QtWidgets", "QtMultimedia", "QtMultimediaWidgets", "QtNetwork", "QtSvg",
})

# Qt modules never wanted, named even when absent from the build environment (the full
# `PySide6` wheel brings WebEngine; PySide6-Essentials/Addons do not). The spec adds every
# other installed PySide6 module outside KEEP_QT_MODULES.
ALWAYS_EXCLUDED_QT_MODULES = (
    "QtWebEngineCore", "QtWebEngineWidgets", "QtWebEngineQuick", "QtWebChannel", "QtWebView",
    "QtWebSockets", "QtQml", "QtQuick", "QtQuickWidgets", "QtQuickControls2", "QtQuickTest",
    "QtQuick3D", "Qt3DCore", "Qt3DRender", "Qt3DInput", "Qt3DLogic", "Qt3DAnimation",
    "Qt3DExtras", "QtPdf", "QtPdfWidgets", "QtDesigner", "QtUiTools", "QtHelp", "QtSql",
    "QtTest", "QtBluetooth", "QtNfc", "QtPositioning", "QtLocation", "QtSensors",
    "QtSerialPort", "QtSerialBus", "QtTextToSpeech", "QtDataVisualization", "QtGraphs",
    "QtGraphsWidgets", "QtCharts", "QtRemoteObjects", "QtScxml", "QtStateMachine",
    "QtSpatialAudio", "QtHttpServer", "QtNetworkAuth", "QtAxContainer", "QtCanvasPainter",
    "QtLabsStyleKit", "QtQmlFeatures", "QtOpenGL", "QtOpenGLWidgets", "QtPrintSupport",
    "QtXml", "QtConcurrent", "QtDBus", "QtSvgWidgets",
)

# Python packages the app never imports at run time: test tools and heavy science stacks that a
# development environment has installed. (onnx stays: core/models/facts.py reads model graphs with
# it.)
EXCLUDED_PYTHON_MODULES = (
    "tkinter", "_tkinter", "pytest", "_pytest", "pytestqt", "pluggy", "skimage", "scipy",
    "matplotlib", "pandas", "IPython", "jedi", "torch", "sympy", "ruff", "PyInstaller",
    "setuptools", "pkg_resources", "pip", "wheel", "lazy_loader", "imageio", "tifffile",
    "networkx", "ray", "onnxruntime.transformers", "onnxruntime.quantization",
    "onnxruntime.tools",
    "onnxruntime.datasets", "onnx.reference", "onnx.backend",
    # Python's readline module links GNU readline, which is GPL-3.0: nothing the app does reads
    # lines interactively, and packaging/licences.py has no entry for it on purpose.
    "readline",
    # `tag --ray` (the cluster extra): a cluster's nodes run it from a pip install, never from
    # the frozen app, which then says the extra is missing.
    "ray", "pyarrow",
)

# Qt plugin folders the app never loads (bundle paths under PySide6/Qt/plugins).
PRUNED_QT_PLUGIN_DIRS = (
    "sqldrivers", "qmltooling", "designer", "sceneparsers", "geometryloaders", "renderers",
    "renderplugins", "position", "sensors", "texttospeech", "canbus", "webview",
    "scxmldatamodel", "assetimporters", "geoservices", "egldeviceintegrations", "printsupport",
    "wayland-graphics-integration-server", "vectorimageformats", "generic",
)
# Single plugins: framebuffer/VNC/minimal platforms (desktop users have xcb, wayland, windows
# or cocoa; offscreen stays for --self-test), the PDF image format (drags in QtPdf) and the
# virtual keyboard (drags in Qt Quick Controls), the obsolete Wayland wl-shell (compositors
# speak xdg-shell, which stays), and the GTK 3 theme (it links the user's GTK,
# and PyInstaller would bundle parts of the build machine's GTK stack to go with it, which can
# clash with the user's; the XDG desktop portal theme still gives native file dialogs).
PRUNED_QT_PLUGIN_FILES = re.compile(
    r"(q?(eglfs|linuxfb|minimal|minimalegl|vkkhrdisplay|vnc|direct2d)\.|"
    r"qpdf\.|qtvirtualkeyboardplugin\.|qtuiotouchplugin\.|wl-shell-plugin\.|qgtk3\.)",
    re.IGNORECASE,
)
# The build machine's GTK stack that only the GTK 3 theme plugin pulled in; and its C++ and GCC
# runtimes. A bundled libstdc++.so.6 is loaded before the user's, and the user's Mesa drivers,
# built against a newer one, then fail with "GLIBCXX_3.4.x not found" and the app has no OpenGL.
# The glibc floor (the build machine's, README) already guarantees a user's libstdc++ at least
# as new as the build machine's, so the user's copies are always good enough.
PRUNED_SYSTEM_LIBRARIES = re.compile(
    r"^lib(gtk-3|gdk-3|gdk_pixbuf-2\.0|atk-1\.0|atk-bridge-2\.0|atspi|cairo|cairo-gobject|"
    r"pango-1\.0|pangocairo-1\.0|pangoft2-1\.0|harfbuzz|thai|datrie|fribidi|pixman-1|"
    r"graphite2|epoxy|stdc\+\+|gcc_s)\.so",
)
FORBIDDEN_LINUX_LIBRARIES = re.compile(r"^lib(stdc\+\+|gcc_s)\.so")
"""Top-level libraries a Linux bundle must never carry (``build.py`` fails if they are back)."""
# Qt translations: Qt's own strings for standard dialogs and the camera are all the app needs.
KEPT_TRANSLATION_PREFIXES = ("qt_", "qtbase_", "qtmultimedia_")

# Qt libraries that only pruned plugins or excluded modules use. Qt Quick and Qml stay: the
# FFmpeg multimedia backend links them.
PRUNED_QT_LIBRARIES = re.compile(
    r"Qt6?(Pdf|VirtualKeyboard|QuickControls2|QuickDialogs2|QuickTemplates2|QuickLayouts|"
    r"Quick3D|3D|WebEngine|Designer|Location|Positioning|Sensors|TextToSpeech|Charts|Graphs|"
    r"DataVisualization|Sql|Test|Help|Bluetooth|Nfc|SerialPort|SerialBus|Scxml|StateMachine|"
    r"RemoteObjects|HttpServer|NetworkAuth|WebSockets|WebChannel|WebView|SpatialAudio|Lottie|"
    r"ShaderTools|Labs|QmlCompiler|QmlDom|QmlLocalStorage|QmlXmlListModel|UiTools|"
    r"EglFSDeviceIntegration|EglFsKmsSupport|WlShellIntegration)",
)


def excluded_qt_modules(pyside_dir: Path | None = None) -> list[str]:
    """``PySide6.QtX`` names to exclude: the fixed list plus any installed module not kept."""
    names = set(ALWAYS_EXCLUDED_QT_MODULES)
    if pyside_dir is not None and pyside_dir.is_dir():
        for path in pyside_dir.iterdir():
            match = re.match(r"(Qt\w+)\.(abi3\.so|pyd|cpython.*\.so)$", path.name)
            if match:
                names.add(match.group(1))
    return [f"PySide6.{name}" for name in sorted(names - KEEP_QT_MODULES)]


def _qt_relative(parts: tuple[str, ...]) -> tuple[str, ...] | None:
    """The part of a PySide6 path below Qt's root: ``PySide6/Qt/plugins/...`` (Linux, macOS)
    and ``PySide6/plugins/...`` (Windows) both give ``("plugins", ...)``."""
    if "PySide6" not in parts:
        return None
    below = parts[parts.index("PySide6") + 1:]
    return below[1:] if below[:1] == ("Qt",) else below


def is_pruned(dest: str) -> bool:
    """True for a bundle path (as PyInstaller's TOC names it) that the app does not need."""
    path = PurePosixPath(dest.replace("\\", "/"))
    parts = path.parts
    name = path.name
    below = _qt_relative(parts)
    if below:
        if below[0] == "plugins" and len(below) > 2 and (
                below[1] in PRUNED_QT_PLUGIN_DIRS or PRUNED_QT_PLUGIN_FILES.search(name)):
            return True
        if below[0] == "translations":
            return not name.startswith(KEPT_TRANSLATION_PREFIXES)
        if below[0] == "qml":
            return True
    # macOS: every file of a pruned Qt framework (QtPdf.framework/...).
    if any(part.endswith(".framework") and PRUNED_QT_LIBRARIES.search(part) for part in parts):
        return True
    if len(parts) == 1 and PRUNED_SYSTEM_LIBRARIES.match(name):
        return True
    return bool(PRUNED_QT_LIBRARIES.search(name)) and _is_library(name)


def _is_library(name: str) -> bool:
    return bool(re.search(r"\.(so(\.\d+)*|dll|dylib)$", name))


def prune(toc: list) -> list:
    """The TOC (``(dest, source, kind)`` tuples) without the entries ``is_pruned`` rejects."""
    return [entry for entry in toc if not is_pruned(entry[0])]


def vendored_libraries(distribution: str) -> tuple[list[tuple[str, str]],
                                                   list[tuple[str, str]]]:
    """The files of a wheel's ``<package>.libs`` folder as PyInstaller (binaries, datas).

    auditwheel (Linux) and delvewheel (Windows) put a wheel's own copies of native libraries
    there, beside the package rather than in it, and delvewheel's ``__init__`` adds that folder
    to the DLL search path and preloads the DLLs in the order its ``.load-order-*`` file gives.
    PyInstaller has no hook for pi-heif, so the folder (and that file) is collected explicitly
    under the same name.
    """
    from importlib import metadata

    binaries, datas = [], []
    try:
        files = metadata.distribution(distribution).files or ()
    except metadata.PackageNotFoundError:
        return [], []
    for entry in files:
        parts = PurePosixPath(str(entry)).parts
        if len(parts) == 2 and parts[0].endswith(".libs"):
            pair = (str(entry.locate()), parts[0])
            (binaries if _is_library(parts[1]) else datas).append(pair)
    return binaries, datas


def windows_version_info(version: str, exe_name: str, description: str) -> str:
    """A PyInstaller version file (``EXE(version=...)``): the Windows version resource that
    Explorer's Properties and Task Manager show (description, company, version)."""
    release = re.match(r"\d+(\.\d+)*", version)  # "1.2.0rc1" -> 1.2.0.0
    numbers = [int(n) for n in release.group(0).split(".")[:4]] if release else []
    numbers += [0] * (4 - len(numbers))
    strings = {
        "CompanyName": PUBLISHER,
        "FileDescription": description,
        "FileVersion": version,
        "InternalName": exe_name.removesuffix(".exe"),
        "LegalCopyright": f"Copyright {PUBLISHER}; Apache License 2.0",
        "OriginalFilename": exe_name,
        "ProductName": DISPLAY_NAME,
        "ProductVersion": version,
    }
    entries = ",\n".join(f"          StringStruct({k!r}, {v!r})" for k, v in strings.items())
    return f"""\
# UTF-8
VSVersionInfo(
  ffi=FixedFileInfo(filevers={tuple(numbers)!r}, prodvers={tuple(numbers)!r},
                    mask=0x3f, flags=0x0, OS=0x40004, fileType=0x1, subtype=0x0,
                    date=(0, 0)),
  kids=[
    StringFileInfo([
      StringTable('040904B0', [
{entries}
      ])
    ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


def app_version(root: Path) -> str:
    """``__version__`` from ``resnet_desktop/__init__.py`` without importing the package."""
    text = (root / "resnet_desktop" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', text, re.MULTILINE)
    if not match:
        raise ValueError("resnet_desktop/__init__.py has no __version__")
    return match.group(1)
