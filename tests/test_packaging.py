"""Static checks of packaging/: what the bundle keeps and prunes, the installer scripts, build.py.

No PyInstaller build here (minutes); packaging/ci_smoke.sh builds and runs the frozen app.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import os
import plistlib
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGING = REPO / "packaging"
sys.path.insert(0, str(PACKAGING))

import bundle_rules  # noqa: E402


def _load_build_script():
    # Under its own name: "build" is also the name of PyPA's build package.
    spec = importlib.util.spec_from_file_location("resnet_desktop_build_script",
                                                  PACKAGING / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build_script()


def qt_modules_imported_by_the_app() -> set[str]:
    """Every ``PySide6.QtX`` module named in an import anywhere in resnet_desktop/."""
    found = set()
    for path in (REPO / "resnet_desktop").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            found.update(m.group(1) for n in names if (m := re.match(r"PySide6\.(Qt\w+)", n)))
    return found


def test_every_qt_module_the_app_imports_is_kept() -> None:
    used = qt_modules_imported_by_the_app()
    assert {"QtCore", "QtGui", "QtWidgets", "QtMultimedia"} <= used
    assert used <= bundle_rules.KEEP_QT_MODULES, (
        f"add {sorted(used - bundle_rules.KEEP_QT_MODULES)} to KEEP_QT_MODULES in "
        "packaging/bundle_rules.py, or the bundle will lack them")
    excluded = bundle_rules.excluded_qt_modules(None)
    assert not {f"PySide6.{m}" for m in used} & set(excluded)


def test_unused_qt_modules_are_excluded() -> None:
    import PySide6

    excluded = set(bundle_rules.excluded_qt_modules(Path(PySide6.__file__).parent))
    for name in ("QtWebEngineCore", "QtWebEngineWidgets", "QtQml", "QtQuick", "QtQuick3D",
                 "Qt3DCore", "QtPdf", "QtDesigner", "QtSql", "QtBluetooth", "QtPositioning",
                 "QtSensors", "QtSerialPort", "QtTextToSpeech", "QtDataVisualization",
                 "QtLocation", "QtHelp", "QtTest", "QtUiTools", "QtCharts"):
        assert f"PySide6.{name}" in excluded
    installed = {p.name.split(".")[0] for p in Path(PySide6.__file__).parent.glob("Qt*.*")
                 if p.suffix in (".so", ".pyd")}
    assert installed - bundle_rules.KEEP_QT_MODULES <= {e.split(".")[1] for e in excluded}
    for kept in bundle_rules.KEEP_QT_MODULES:
        assert f"PySide6.{kept}" not in excluded


def test_test_tools_are_excluded_but_runtime_dependencies_are_not() -> None:
    excluded = set(bundle_rules.EXCLUDED_PYTHON_MODULES)
    assert {"pytest", "skimage", "scipy", "matplotlib", "tkinter"} <= excluded
    assert not {"onnx", "onnxruntime", "numpy", "PIL", "platformdirs", "truststore",
                "filelock", "tqdm"} & excluded


@pytest.mark.parametrize("dest", [
    "PySide6/Qt/plugins/platforms/libqxcb.so",
    "PySide6/Qt/plugins/platforms/libqwayland.so",
    "PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "PySide6/plugins/platforms/qwindows.dll",
    "PySide6/Qt/plugins/platforms/libqcocoa.dylib",
    "PySide6/Qt/plugins/imageformats/libqjpeg.so",
    "PySide6/Qt/plugins/imageformats/libqsvg.so",
    "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
    "PySide6/Qt/plugins/multimedia/libffmpegmediaplugin.so",
    "PySide6/plugins/multimedia/windowsmediaplugin.dll",
    "PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so",
    "PySide6/Qt/plugins/wayland-shell-integration/libxdg-shell.so",
    # The FFmpeg multimedia plugin links Qt Quick, Qml and Network.
    "PySide6/Qt/lib/libQt6Quick.so.6",
    "PySide6/Qt/lib/libQt6Qml.so.6",
    "PySide6/Qt/lib/libQt6QmlModels.so.6",
    "PySide6/Qt/lib/libQt6Network.so.6",
    "PySide6/Qt6Quick.dll",
    "PySide6/Qt/lib/QtMultimedia.framework/Versions/A/QtMultimedia",
    "PySide6/Qt/translations/qtbase_de.qm",
    "PySide6/translations/qt_fr.qm",
    "onnxruntime/capi/libonnxruntime.so.1.31.1",
    "onnxruntime/capi/DirectML.dll",
    "resources/selftest/colours.onnx",
    "libxcb-cursor.so.0",
])
def test_kept(dest: str) -> None:
    assert not bundle_rules.is_pruned(dest)


@pytest.mark.parametrize("dest", [
    "PySide6/Qt/plugins/platforms/libqeglfs.so",
    "PySide6/Qt/plugins/platforms/libqvnc.so",
    "PySide6/Qt/plugins/platforms/libqminimal.so",
    "PySide6/plugins/platforms/qdirect2d.dll",
    "PySide6/Qt/plugins/imageformats/libqpdf.so",
    "PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so",
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
    "PySide6/Qt/plugins/sqldrivers/libqsqlite.so",
    "PySide6/Qt/plugins/qmltooling/libqmldbg_debugger.so",
    "PySide6/Qt/plugins/wayland-shell-integration/libwl-shell-plugin.so",
    "PySide6/Qt/lib/libQt6Pdf.so.6",
    "PySide6/Qt/lib/libQt6QuickControls2.so.6",
    "PySide6/Qt/lib/libQt6VirtualKeyboard.so.6",
    "PySide6/Qt6Pdf.dll",
    "PySide6/Qt/lib/QtPdf.framework/Versions/A/QtPdf",
    "PySide6/Qt/lib/QtPdf.framework/Resources/Info.plist",
    "PySide6/Qt/translations/qtwebengine_de.qm",
    "PySide6/translations/designer_fr.qm",
    "PySide6/Qt/qml/QtQuick/Controls/qmldir",
    "libgtk-3.so.0",
    "libcairo.so.2",
    "libpango-1.0.so.0",
])
def test_pruned(dest: str) -> None:
    assert bundle_rules.is_pruned(dest)


def test_prune_keeps_toc_entries_whole() -> None:
    toc = [("PySide6/Qt/lib/libQt6Pdf.so.6", "/src/a", "BINARY"),
           ("PySide6/Qt/lib/libQt6Gui.so.6", "/src/b", "BINARY")]
    assert bundle_rules.prune(toc) == [toc[1]]


def test_spec_bundles_resources_onnxruntime_and_the_runtime_hook() -> None:
    spec = (PACKAGING / "resnet_desktop.spec").read_text(encoding="utf-8")
    compile(spec, "resnet_desktop.spec", "exec")
    assert '(str(ROOT / "resources"), "resources")' in spec
    assert 'collect_dynamic_libs("onnxruntime")' in spec
    assert 'collect_submodules("resnet_desktop")' in spec
    assert "bundle_rules.prune(a.binaries)" in spec and "bundle_rules.prune(a.datas)" in spec
    assert "console=False" in spec
    assert 'name=f"{bundle_rules.APP_NAME}-cli",\n        console=True' in spec
    hooks = re.findall(r'"rthooks" / "([^"]+)"', spec)
    assert hooks and all((PACKAGING / "rthooks" / h).is_file() for h in hooks)
    assert (PACKAGING / "entry_point.py").is_file()


def test_runtime_hook_preloads_the_bundled_directml_by_full_path() -> None:
    hook = (PACKAGING / "rthooks" / "pyi_rth_resnet_desktop.py").read_text(encoding="utf-8")
    compile(hook, "hook", "exec")
    assert '"DirectML.dll"' in hook and "ctypes.WinDLL(path)" in hook
    assert "os.add_dll_directory(capi)" in hook
    assert 'sys.platform == "win32"' in hook


def test_macos_plist_and_entitlements() -> None:
    with (PACKAGING / "macos" / "Info.plist").open("rb") as handle:
        info = plistlib.load(handle)
    assert info["CFBundleIdentifier"] == bundle_rules.BUNDLE_ID
    assert "camera" in info["NSCameraUsageDescription"].lower()
    with (PACKAGING / "macos" / "entitlements.plist").open("rb") as handle:
        entitlements = plistlib.load(handle)
    assert entitlements["com.apple.security.device.camera"] is True


def test_inno_setup_script_is_per_user_with_shortcut_uninstaller_and_vc_runtime() -> None:
    iss = (PACKAGING / "windows" / "resnet-desktop.iss").read_text(encoding="utf-8")
    assert "PrivilegesRequired=lowest" in iss
    assert re.search(r'^Name: "\{autoprograms\}\\\{#AppName\}"', iss, re.MULTILINE)
    assert "UninstallDisplayIcon=" in iss and "Uninstallable=no" not in iss
    assert "vc_redist.x64.exe" in iss and "Check: VCRedistNeeded" in iss
    assert "function VCRedistNeeded: Boolean;" in iss
    assert f'#define AppExe "{bundle_rules.APP_NAME}.exe"' in iss
    for define in ("AppVersion", "BundleDir", "OutputDir", "IconFile", "VCRedist"):
        assert f"{{#{define}}}" in iss
    assert "{{" in iss.split("AppId=")[1].splitlines()[0]


def test_desktop_file() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(PACKAGING / "linux" / "resnet-desktop.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Exec"].split()[0] == bundle_rules.APP_NAME
    assert desktop["Icon"] == bundle_rules.APP_NAME
    assert desktop["Name"] == bundle_rules.DISPLAY_NAME
    assert desktop["Categories"].endswith(";")


def test_build_help_works_without_building() -> None:
    result = subprocess.run([sys.executable, str(PACKAGING / "build.py"), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "--clean" in result.stdout and "--skip-installer" in result.stdout


def test_ci_smoke_script_parses_and_matches_the_size_limit() -> None:
    script = PACKAGING / "ci_smoke.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    text = script.read_text(encoding="utf-8")
    assert f"LIMIT_MB={bundle_rules.SIZE_LIMIT_MB}" in text
    assert "--self-test" in text and "--screenshot" in text
    assert "-m venv" in text


def test_version_is_read_without_importing(tmp_path: Path) -> None:
    from resnet_desktop import __version__

    assert bundle_rules.app_version(REPO) == __version__
    (tmp_path / "resnet_desktop").mkdir()
    (tmp_path / "resnet_desktop" / "__init__.py").write_text("x = 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="__version__"):
        bundle_rules.app_version(tmp_path)


def fake_bundle(root: Path) -> Path:
    """A stand-in bundle laid out like PyInstaller's, with real files of known sizes."""
    bundle = root / "resnet-desktop"
    files = {
        "resnet-desktop": 3000,
        "_internal/PySide6/Qt/lib/libQt6Gui.so.6": 5000,
        "_internal/PySide6/Qt/plugins/platforms/libqxcb.so": 700,
        "_internal/PySide6/Qt/plugins/platforms/libqoffscreen.so": 300,
        "_internal/onnxruntime/capi/libonnxruntime.so.1": 4000,
        "_internal/numpy.libs/libopenblas.so": 2000,
        "_internal/numpy.libs/libgfortran.so": 500,
    }
    for name, size in files.items():
        path = bundle / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * size)
    (bundle / "resnet-desktop").chmod(0o755)
    (bundle / "_internal" / "libQt6Gui.so.6").symlink_to("PySide6/Qt/lib/libQt6Gui.so.6")
    return bundle


def test_size_report_groups_components_and_counts_links_once(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path)
    total, biggest = build.size_report(bundle, top=10)
    assert total == 15500 == build.bundle_size(bundle)
    assert dict(biggest) == {
        "PySide6/Qt/lib/libQt6Gui": 5000,
        "onnxruntime/capi/libonnxruntime.so.1": 4000,
        "resnet-desktop": 3000,
        "numpy.libs": 2500,
        "PySide6/Qt/plugins/platforms": 1000,
    }


def test_linux_archive_holds_bundle_desktop_file_icon_and_note(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path / "dist")
    icon = tmp_path / "icon.png"
    icon.write_bytes(b"\x89PNG fake")
    args = build.parse_args(["--dist", str(tmp_path / "dist"), "--work", str(tmp_path / "w")])
    os.environ.pop("APPIMAGETOOL", None)
    build.build_linux(bundle, args, icon, "1.2.3")
    archive = tmp_path / "dist" / f"resnet-desktop-1.2.3-linux-{build.linux_arch()}.tar.gz"
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
        note = tar.extractfile(members[f"{archive.name[:-7]}/README-linux.txt"]).read()
    stem = archive.name[:-7]
    for name in ("resnet-desktop.desktop", "install.sh", "resnet-desktop.png",
                 "resnet-desktop/resnet-desktop",
                 "resnet-desktop/_internal/PySide6/Qt/lib/libQt6Gui.so.6"):
        assert f"{stem}/{name}" in members
    assert members[f"{stem}/resnet-desktop/_internal/libQt6Gui.so.6"].issym()
    assert members[f"{stem}/install.sh"].mode & 0o111
    assert b"libxcb-cursor0" in note
    assert not list((tmp_path / "dist").glob("*.part"))


def test_install_script_installs_for_the_user_and_uninstalls(tmp_path: Path) -> None:
    unpacked = tmp_path / "unpacked"
    (unpacked / "resnet-desktop").mkdir(parents=True)
    app = unpacked / "resnet-desktop" / "resnet-desktop"
    app.write_text("#!/bin/sh\necho resnet-desktop 9.9\n", encoding="utf-8")
    app.chmod(0o755)
    for name in ("install.sh", "resnet-desktop.desktop"):
        (unpacked / name).write_bytes((PACKAGING / "linux" / name).read_bytes())
    (unpacked / "resnet-desktop.png").write_bytes(b"png")
    home = tmp_path / "home"
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"))
    result = subprocess.run(["sh", str(unpacked / "install.sh")], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    installed = home / "data" / "resnet-desktop" / "resnet-desktop"
    assert installed.is_file()
    assert (home / ".local" / "bin" / "resnet-desktop").resolve() == installed
    desktop = (home / "data" / "applications" / "resnet-desktop.desktop").read_text()
    assert f'Exec="{installed}" %F' in desktop
    assert (home / "data" / "icons" / "hicolor" / "256x256" / "apps" /
            "resnet-desktop.png").is_file()
    result = subprocess.run(["sh", str(unpacked / "install.sh"), "--uninstall"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert not installed.exists()
    assert not (home / "data" / "applications" / "resnet-desktop.desktop").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF bundles are Linux's")
def test_strip_debug_info_keeps_symbols_and_links(tmp_path: Path) -> None:
    import ctypes
    import shutil

    if not (shutil.which("cc") and shutil.which("strip") and shutil.which("readelf")):
        pytest.skip("needs a C compiler and binutils (cc, strip, readelf)")
    source = tmp_path / "answer.c"
    source.write_text("int answer(void) { return 42; }\n", encoding="utf-8")
    library = tmp_path / "bundle" / "_internal" / "libanswer.so"
    library.parent.mkdir(parents=True)
    subprocess.run(["cc", "-g", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    (tmp_path / "bundle" / "_internal" / "notes.txt").write_text("not ELF", encoding="utf-8")
    assert build.elf_files(tmp_path / "bundle") == [library]

    saved = build.strip_debug_info(tmp_path / "bundle")

    sections = subprocess.run(["readelf", "-S", "--wide", str(library)], capture_output=True,
                              text=True, check=True).stdout
    assert saved > 0 and ".debug_info" not in sections
    assert ctypes.CDLL(str(library)).answer() == 42
    assert build.strip_debug_info(tmp_path / "bundle") == 0


def test_icons_for_windows_and_macos_are_made_from_the_png(tmp_path: Path) -> None:
    from PIL import Image

    png = build.icon_png(tmp_path)
    assert png is not None
    with Image.open(png) as image:
        assert image.size[0] >= 256
    ico = build.platform_icon(png, tmp_path, system="win32")
    with Image.open(ico) as image:
        assert image.format == "ICO" and (256, 256) in image.ico.sizes()
    icns = build.platform_icon(png, tmp_path, system="darwin")
    with Image.open(icns) as image:
        assert image.format == "ICNS" and (512, 512, 2) in image.info["sizes"]
    assert build.platform_icon(png, tmp_path, system="linux") is None
