"""Static checks of packaging/: what the bundle keeps and prunes, the installer scripts, build.py.

No PyInstaller build here (minutes); packaging/ci_smoke.sh builds and runs the frozen app.
"""

from __future__ import annotations

import ast
import configparser
import ctypes
import importlib.util
import os
import plistlib
import re
import runpy
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
    "pi_heif.libs/libheif-7a3e919c.so.1.23.0",
    # numpy's own GCC runtime on macOS is not the build machine's.
    "numpy/.dylibs/libgcc_s.1.1.dylib",
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
    "libstdc++.so.6",
    "libgcc_s.so.1",
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


@pytest.mark.parametrize(("platform", "frozen", "preloads"),
                         [("win32", True, True), ("win32", False, False),
                          ("linux", True, False)])
def test_runtime_hook_preloads_the_bundled_directml_by_full_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str, frozen: bool,
        preloads: bool) -> None:
    """Run as the frozen Windows app runs it, with the loader calls recorded instead of made:
    the bundle's DLLs are loaded by full path, DirectML first, and their folder goes first on
    the search path; elsewhere (or unfrozen) the hook leaves the loader alone."""
    capi = tmp_path / "onnxruntime" / "capi"
    capi.mkdir(parents=True)
    for name in ("onnxruntime.dll", "DirectML.dll"):  # no providers_shared: it is skipped
        (capi / name).write_bytes(b"")
    loaded: list[str] = []
    dll_dirs: list[str] = []
    monkeypatch.setattr(ctypes, "WinDLL", loaded.append, raising=False)
    monkeypatch.setattr(os, "add_dll_directory", dll_dirs.append, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.setattr(sys, "frozen", frozen, raising=False)
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setenv("PATH", "elsewhere")
    monkeypatch.setenv("ORT_DISABLE_TELEMETRY", "1")
    runpy.run_path(str(PACKAGING / "rthooks" / "pyi_rth_resnet_desktop.py"))
    if preloads:
        assert loaded == [str(capi / "DirectML.dll"), str(capi / "onnxruntime.dll")]
        assert dll_dirs == [str(capi)]
        assert os.environ["PATH"] == str(capi) + os.pathsep + "elsewhere"
    else:
        assert (loaded, dll_dirs, os.environ["PATH"]) == ([], [], "elsewhere")


def test_macos_plist_and_entitlements() -> None:
    with (PACKAGING / "macos" / "Info.plist").open("rb") as handle:
        info = plistlib.load(handle)
    assert info["CFBundleIdentifier"] == bundle_rules.BUNDLE_ID
    assert "camera" in info["NSCameraUsageDescription"].lower()
    assert build.version_tuple(info["LSMinimumSystemVersion"]) == (14,)
    [images] = info["CFBundleDocumentTypes"]
    assert images["CFBundleTypeRole"] == "Viewer" and images["LSHandlerRank"] == "Alternate"
    assert {"public.jpeg", "public.png", "public.heic", "public.heif", "public.avif",
            "org.webmproject.webp", "public.tiff"} <= set(images["LSItemContentTypes"])
    with (PACKAGING / "macos" / "entitlements.plist").open("rb") as handle:
        entitlements = plistlib.load(handle)
    assert entitlements["com.apple.security.device.camera"] is True


def test_inno_setup_script_is_per_user_with_shortcut_and_uninstaller() -> None:
    iss = (PACKAGING / "windows" / "resnet-desktop.iss").read_text(encoding="utf-8")
    assert "PrivilegesRequired=lowest" in iss
    assert re.search(r'^Name: "\{autoprograms\}\\\{#AppName\}"', iss, re.MULTILINE)
    assert "UninstallDisplayIcon=" in iss and "Uninstallable=no" not in iss
    assert f'#define AppExe "{bundle_rules.APP_NAME}.exe"' in iss
    for define in ("AppVersion", "BundleDir", "OutputDir", "IconFile"):
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
    assert desktop["Exec"] == f"{bundle_rules.APP_NAME} %F"


# The MIME types (shared-mime-info names) of the formats the app decodes.
FORMAT_MIME_TYPES = {
    "JPEG": {"image/jpeg"}, "PNG": {"image/png"}, "WEBP": {"image/webp"}, "BMP": {"image/bmp"},
    "GIF": {"image/gif"}, "TIFF": {"image/tiff"}, "HEIF": {"image/heif"},
    "AVIF": {"image/avif"},
    "PPM": {"image/x-portable-pixmap", "image/x-portable-graymap", "image/x-portable-bitmap"},
}


def test_desktop_file_offers_every_format_the_app_decodes() -> None:
    from resnet_desktop.core.imaging.decode import FORMATS

    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(PACKAGING / "linux" / "resnet-desktop.desktop", encoding="utf-8")
    mime_types = entry["Desktop Entry"]["MimeType"]
    assert mime_types.endswith(";")
    offered = set(mime_types.split(";")) - {""}
    assert {"image/heif", "image/avif"} <= offered
    assert set().union(*(FORMAT_MIME_TYPES[f] for f in FORMATS)) <= offered


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
    from PIL import Image

    bundle = fake_bundle(tmp_path / "dist")
    icon = tmp_path / "icon.png"
    Image.new("RGBA", (300, 300), (200, 30, 30, 255)).save(icon)
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
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extract(members[f"{stem}/resnet-desktop.png"], unpacked, filter="data")
    with Image.open(unpacked / stem / "resnet-desktop.png") as packed_icon:
        # install.sh puts it into hicolor/512x512, so it must be that size.
        assert packed_icon.format == "PNG" and packed_icon.size == (512, 512)


def unpacked_archive(root: Path, app_script: str = "echo resnet-desktop 9.9\n") -> Path:
    """What the .tar.gz unpacks to, with a shell script standing in for the frozen app."""
    unpacked = root / "unpacked"
    (unpacked / "resnet-desktop").mkdir(parents=True)
    app = unpacked / "resnet-desktop" / "resnet-desktop"
    app.write_text("#!/bin/sh\n" + app_script, encoding="utf-8")
    app.chmod(0o755)
    for name in ("install.sh", "resnet-desktop.desktop"):
        (unpacked / name).write_bytes((PACKAGING / "linux" / name).read_bytes())
    (unpacked / "resnet-desktop.png").write_bytes(b"png")
    return unpacked


def run_install(unpacked: Path, home: Path, *args: str, path_dirs: tuple[Path, ...] = (),
                display: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               PATH=os.pathsep.join([*map(str, path_dirs), os.environ.get("PATH", "")]))
    env.pop("DISPLAY", None)
    if display is not None:
        env["DISPLAY"] = display
    return subprocess.run(["sh", str(unpacked / "install.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_install_script_installs_for_the_user_and_uninstalls(tmp_path: Path) -> None:
    unpacked = unpacked_archive(tmp_path)
    home = tmp_path / "home"
    # A fake update-desktop-database records the folders it is asked to refresh.
    tools = tmp_path / "tools"
    tools.mkdir()
    calls = tmp_path / "update-desktop-database.calls"
    tool = tools / "update-desktop-database"
    tool.write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\n', encoding="utf-8")
    tool.chmod(0o755)
    result = run_install(unpacked, home, path_dirs=(tools,))
    assert result.returncode == 0, result.stderr
    installed = home / "data" / "resnet-desktop" / "resnet-desktop"
    assert installed.is_file()
    assert (home / ".local" / "bin" / "resnet-desktop").resolve() == installed
    desktop = (home / "data" / "applications" / "resnet-desktop.desktop").read_text()
    assert f'Exec="{installed}" %F' in desktop
    icons = home / "data" / "icons" / "hicolor"
    assert (icons / "512x512" / "apps" / "resnet-desktop.png").is_file()
    assert not (icons / "256x256" / "apps" / "resnet-desktop.png").exists()
    assert calls.read_text().splitlines() == [str(home / "data" / "applications")]

    result = run_install(unpacked, home, "--uninstall", path_dirs=(tools,))
    assert result.returncode == 0
    assert not installed.exists()
    assert not (home / ".local" / "bin" / "resnet-desktop").exists()
    assert not (home / ".local" / "bin" / "resnet-desktop").is_symlink()
    assert not (home / "data" / "applications" / "resnet-desktop.desktop").exists()
    assert not (icons / "512x512" / "apps" / "resnet-desktop.png").exists()
    assert calls.read_text().splitlines() == [str(home / "data" / "applications")] * 2


@pytest.mark.parametrize("existing", ["pip script", "link elsewhere"])
def test_install_script_keeps_a_command_that_is_not_its_own(tmp_path: Path,
                                                            existing: str) -> None:
    unpacked = unpacked_archive(tmp_path)
    home = tmp_path / "home"
    command = home / ".local" / "bin" / "resnet-desktop"
    command.parent.mkdir(parents=True)
    pip_script = "#!/usr/bin/python3\nfrom resnet_desktop.cli import main\nmain()\n"
    other = tmp_path / "pipx" / "venvs" / "resnet-desktop" / "bin" / "resnet-desktop"
    if existing == "pip script":
        command.write_text(pip_script, encoding="utf-8")
    else:
        command.symlink_to(other)  # pipx's link (left dangling here)

    result = run_install(unpacked, home)
    assert result.returncode == 0, result.stderr
    installed = home / "data" / "resnet-desktop" / "resnet-desktop"
    assert installed.is_file()
    assert "is not ResNet Desktop's link" in result.stderr
    assert f"run '{installed}'" in result.stdout

    result = run_install(unpacked, home, "--uninstall")
    assert result.returncode == 0
    assert not installed.exists()
    if existing == "pip script":
        assert not command.is_symlink() and command.read_text(encoding="utf-8") == pip_script
    else:
        assert command.is_symlink() and Path(os.readlink(command)) == other


def test_install_script_replaces_its_own_link(tmp_path: Path) -> None:
    unpacked = unpacked_archive(tmp_path)
    home = tmp_path / "home"
    command = home / ".local" / "bin" / "resnet-desktop"
    command.parent.mkdir(parents=True)
    command.symlink_to(home / "data" / "resnet-desktop" / "old-name")  # an earlier install's
    result = run_install(unpacked, home)
    assert result.returncode == 0, result.stderr
    assert command.resolve() == home / "data" / "resnet-desktop" / "resnet-desktop"
    assert "not ResNet Desktop's link" not in result.stderr


def test_install_script_runs_the_self_test_when_there_is_a_display(tmp_path: Path) -> None:
    app_script = ('if [ "$1" = --self-test ]; then\n'
                  '  echo "ok   qt  fine"\n'
                  '  echo "FAIL display  install libxcb-cursor0 (Debian, Ubuntu)"\n'
                  '  exit 1\n'
                  'fi\n'
                  'echo resnet-desktop 9.9\n')
    unpacked = unpacked_archive(tmp_path, app_script)
    result = run_install(unpacked, tmp_path / "home", display=":0")
    assert result.returncode == 0
    assert "the installed app's self-test failed" in result.stderr
    assert "FAIL display  install libxcb-cursor0" in result.stderr
    assert "ok   qt" not in result.stderr
    result = run_install(unpacked, tmp_path / "home")  # no display: only --version runs
    assert result.returncode == 0 and result.stderr == ""


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


# --- build checks on the finished bundle ------------------------------------------------------

def bundle_with_index(root: Path, listed: list[str]) -> Path:
    """A fake bundle whose licence index names ``listed`` as its native libraries."""
    bundle = fake_bundle(root)
    index = bundle / "_internal" / "licences" / "THIRD-PARTY.txt"
    index.parent.mkdir(parents=True)
    index.write_text("app 1 is licensed under Apache-2.0\n\nSome component  MIT\n"
                     + "".join(f"    {path}\n" for path in listed), encoding="utf-8")
    return bundle


FAKE_NATIVE = ["PySide6/Qt/lib/libQt6Gui.so.6", "PySide6/Qt/plugins/platforms/libqoffscreen.so",
               "PySide6/Qt/plugins/platforms/libqxcb.so", "numpy.libs/libgfortran.so",
               "numpy.libs/libopenblas.so", "onnxruntime/capi/libonnxruntime.so.1"]


def test_bundle_check_accepts_a_bundle_whose_libraries_are_all_listed(tmp_path: Path) -> None:
    bundle = bundle_with_index(tmp_path, FAKE_NATIVE)
    # Extension modules are their distribution's code, and links are not files of their own.
    extension = bundle / "_internal" / "PIL" / "_imaging.cpython-311-x86_64-linux-gnu.so"
    extension.parent.mkdir()
    extension.write_bytes(b"\0")
    assert build.native_libraries(bundle / "_internal") == sorted(FAKE_NATIVE)
    build.check_bundle_contents(bundle)


def test_bundle_check_fails_on_a_library_missing_from_the_licence_index(tmp_path: Path) -> None:
    bundle = bundle_with_index(tmp_path, FAKE_NATIVE[1:])
    with pytest.raises(build.BuildError, match=r"does not name[^\n]*\n  PySide6/Qt/lib/libQt6Gui"):
        build.check_bundle_contents(bundle)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux bundles only")
@pytest.mark.parametrize("library", ["libstdc++.so.6", "libgcc_s.so.1"])
def test_bundle_check_fails_when_the_cxx_runtime_is_back(tmp_path: Path, library: str) -> None:
    bundle = bundle_with_index(tmp_path, [*FAKE_NATIVE, library])
    (bundle / "_internal" / library).write_bytes(b"\x7fELF")
    with pytest.raises(build.BuildError, match=re.escape(library)):
        build.check_bundle_contents(bundle)


# --- macOS: minimum system version -------------------------------------------------------------

# `otool -l` on a universal binary: an old-style load command for x86_64, LC_BUILD_VERSION for
# arm64 (trimmed to the load commands that matter).
OTOOL_OUTPUT = """\
numpy/_core/_multiarray_umath.cpython-311-darwin.so (architecture x86_64):
Load command 8
      cmd LC_VERSION_MIN_MACOSX
  cmdsize 16
  version 10.13
      sdk 14.0
numpy/_core/_multiarray_umath.cpython-311-darwin.so (architecture arm64):
Load command 9
      cmd LC_BUILD_VERSION
  cmdsize 32
 platform 1
    minos 14.0
      sdk 14.2
   ntools 1
     tool 3
  version 1015.7
Load command 10
      cmd LC_BUILD_VERSION
  cmdsize 32
 platform 2
    minos 17.0
      sdk 17.2
Load command 11
      cmd LC_SOURCE_VERSION
  cmdsize 16
  version 0.0
"""


def test_minos_is_read_from_otool_output() -> None:
    # The iOS (platform 2) build version and LC_SOURCE_VERSION's "version" are not minimums.
    assert build.parse_minos(OTOOL_OUTPUT) == [(10, 13), (14,)]
    assert build.parse_minos("Load command 0\n      cmd LC_SEGMENT_64\n") == []


def test_a_binary_newer_than_the_declared_floor_is_a_violation() -> None:
    minimums = {"Contents/Frameworks/numpy/_core/_multiarray_umath.so": (14,),
                "Contents/MacOS/resnet-desktop": (11,),
                "Contents/Frameworks/PySide6/Qt/lib/QtCore.framework/QtCore": (13,)}
    assert build.macos_floor_violations(minimums, build.version_tuple("14.0")) == []
    assert build.macos_floor_violations(minimums, build.version_tuple("13.0")) == [
        "Contents/Frameworks/numpy/_core/_multiarray_umath.so needs macOS 14"]
    assert build.version_tuple("13.0.0") == build.version_tuple("13") < (13, 1)


def test_macos_signing_failures_are_errors_when_an_identity_is_given() -> None:
    signed = build.pyinstaller_env({"CODESIGN_IDENTITY": "Developer ID Application: X (T)"},
                                   None, system="darwin")
    assert signed["PYINSTALLER_STRICT_BUNDLE_CODESIGN_ERROR"] == "1"
    assert signed["PYINSTALLER_VERIFY_BUNDLE_SIGNATURE"] == "1"
    adhoc = build.pyinstaller_env({}, Path("icon.icns"), system="darwin")
    assert "PYINSTALLER_STRICT_BUNDLE_CODESIGN_ERROR" not in adhoc
    assert adhoc["RESNET_DESKTOP_ICON"] == "icon.icns"
    linux = build.pyinstaller_env({"CODESIGN_IDENTITY": "x"}, None, system="linux")
    assert "PYINSTALLER_VERIFY_BUNDLE_SIGNATURE" not in linux


# --- Windows: Visual C++ runtime, version resource -------------------------------------------

def pe_with_version_resource() -> Path:
    """A real Windows executable with a version resource: pip's script launcher (1.x)."""
    pytest.importorskip("pefile", reason="pefile reads PE files (PyInstaller needs it on "
                                         "Windows)")
    import pip

    launcher = Path(pip.__file__).parent / "_vendor" / "distlib" / "t64.exe"
    if not launcher.is_file():
        pytest.skip(f"no {launcher} to read")
    return launcher


def test_pe_file_version_reads_the_version_resource() -> None:
    version = build.pe_file_version(pe_with_version_resource())
    assert version is not None and version[0] >= 1 and version[:2] < (14, 40)


def test_an_old_or_missing_vc_runtime_in_the_bundle_fails(tmp_path: Path) -> None:
    launcher = pe_with_version_resource()
    internal = tmp_path / "resnet-desktop" / "_internal"
    (internal / "PySide6").mkdir(parents=True)
    (internal / "PySide6" / "msvcp140.dll").write_bytes(launcher.read_bytes())
    (internal / "vcruntime140.dll").write_bytes(b"MZ not really")
    problems = build.vc_runtime_problems(tmp_path / "resnet-desktop")
    assert problems[0].startswith("_internal/PySide6/msvcp140.dll: 1.")
    assert problems[0].endswith("older than 14.40")
    assert problems[1:] == ["_internal/vcruntime140.dll: not a PE file with a version resource",
                            "_internal/msvcp140.dll: missing",
                            "_internal/vcruntime140_1.dll: missing"]


def test_vc_runtime_names() -> None:
    for name in ("msvcp140.dll", "MSVCP140_1.dll", "vcruntime140_1.dll", "concrt140.dll",
                 "msvcp140-0f2ea95580b32bcfc81c235d5751ce78.dll"):
        assert build.VC_RUNTIME_DLL.match(name), name
    assert not build.VC_RUNTIME_DLL.match("msvcp120.dll")


def test_windows_version_resource_names_the_app() -> None:
    text = bundle_rules.windows_version_info("1.2.0rc1", "resnet-desktop-cli.exe",
                                             "ResNet Desktop (command line)")

    def record(kind: str):
        return lambda *args, **kwargs: (kind, args, kwargs)

    names = ("VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable", "StringStruct",
             "VarFileInfo", "VarStruct")
    info = eval(text, {name: record(name) for name in names})  # the format is a Python call
    fixed = info[2]["ffi"][2]
    assert fixed["filevers"] == fixed["prodvers"] == (1, 2, 0, 0)
    string_table = info[2]["kids"][0][1][0][0]
    strings = dict(entry[1] for entry in string_table[1][1])
    assert strings["FileDescription"] == "ResNet Desktop (command line)"
    assert strings["CompanyName"] == bundle_rules.PUBLISHER
    assert strings["ProductName"] == bundle_rules.DISPLAY_NAME
    assert strings["OriginalFilename"] == "resnet-desktop-cli.exe"
    assert strings["ProductVersion"] == "1.2.0rc1"


def test_pi_heif_libraries_are_collected_from_their_own_folder() -> None:
    from importlib import metadata

    binaries, datas = bundle_rules.vendored_libraries("pi-heif")
    vendored = [f for f in metadata.distribution("pi-heif").files or ()
                if f.parts[0].endswith(".libs")]
    assert len(binaries) + len(datas) == len(vendored)
    for source, target in binaries + datas:
        assert Path(source).is_file() and target == "pi_heif.libs"
    if sys.platform.startswith("linux"):
        assert any("libheif" in Path(source).name for source, _ in binaries)
    assert bundle_rules.vendored_libraries("no-such-distribution") == ([], [])


@pytest.mark.parametrize("machine", ["arm64", "x86_64"])
def test_the_disk_image_is_named_for_the_mac_that_builds_it(tmp_path: Path, monkeypatch,
                                                            machine: str) -> None:
    monkeypatch.setattr(build.platform, "machine", lambda: machine)
    expected = tmp_path / f"resnet-desktop-1.2.3-macos-{machine}.dmg"
    assert build.dmg_path(tmp_path, "1.2.3") == expected
