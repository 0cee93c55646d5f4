"""Build ResNet Desktop's bundle and installer for the platform this runs on.

    python packaging/build.py [--clean] [--skip-installer]

- Linux: ``dist/resnet-desktop/`` and ``dist/resnet-desktop-VERSION-linux-ARCH.tar.gz`` (bundle,
  ``.desktop`` file, icon, ``install.sh``); an AppImage too when ``appimagetool`` is installed.
- Windows: ``dist\\resnet-desktop\\`` and, with Inno Setup 6 installed, a per-user Setup.exe.
- macOS: ``dist/ResNet Desktop.app`` and a ``.dmg``.

Run it with the Python of a virtual environment that has the app and PyInstaller installed
(``pip install ".[packaging]"``). It prints the bundle's unpacked size and what takes the space.
See packaging/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import plistlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent
ROOT = PACKAGING.parent
sys.path[:0] = [str(PACKAGING), str(ROOT)]

import bundle_rules  # noqa: E402
import licences  # noqa: E402

SPEC = PACKAGING / "resnet_desktop.spec"
ICON_SVG = ROOT / "resources" / "icons" / "resnet-desktop.svg"
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]
ISCC_DEFAULTS = (r"C:\Program Files (x86)\Inno Setup 6\ISCC.exe",
                 r"C:\Program Files\Inno Setup 6\ISCC.exe")
LINUX_XCB_NOTE = """\
ResNet Desktop for Linux
========================

Run ./install.sh to install for your user (menu entry, icon, `resnet-desktop` command), or run
resnet-desktop/resnet-desktop straight from this folder.

Qt's X11 platform plugin needs libxcb-cursor0, which some distributions leave out:
    Debian/Ubuntu:  sudo apt install libxcb-cursor0
    Fedora:         sudo dnf install xcb-util-cursor
    Arch:           sudo pacman -S xcb-util-cursor
Without it the window does not open under X11 ("could not load the Qt platform plugin xcb").
On Wayland the wayland plugin is used instead.

Check the installation (install.sh does this too): with a display, the self-test also starts
Qt's X11 platform for real and names the package to install when a library is missing:
    resnet-desktop/resnet-desktop --self-test
"""


class BuildError(Exception):
    """A build step failed; the message says which and why."""


def log(message: str) -> None:
    print(f"build: {message}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python packaging/build.py",
        description="Build ResNet Desktop's PyInstaller bundle and this platform's installer "
                    "(Linux: .tar.gz [+ AppImage]; Windows: Inno Setup Setup.exe; "
                    "macOS: .app + .dmg).")
    parser.add_argument("--clean", action="store_true",
                        help="remove PyInstaller's cache and earlier build output first")
    parser.add_argument("--skip-installer", action="store_true",
                        help="build the bundle only, not the .tar.gz/Setup.exe/.dmg")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist",
                        help="output folder (default: dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller",
                        help="PyInstaller's work folder (default: build/pyinstaller/)")
    parser.add_argument("--top", type=int, default=15,
                        help="how many of the biggest components to list (default: 15)")
    return parser.parse_args(argv)


def check_environment() -> None:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        raise BuildError(f"PyInstaller is not installed in {sys.prefix}: pip install "
                         "\".[packaging]\"") from None
    from resnet_desktop.core.inference.runtime_check import flavour_warning, installed_flavours

    warning = flavour_warning()
    if warning:
        raise BuildError(warning)
    flavours = installed_flavours()
    if sys.platform == "win32" and not any(f.startswith("onnxruntime-directml ") for f in
                                           flavours):
        raise BuildError("the Windows bundle ships onnxruntime-directml, but this environment "
                         f"has {', '.join(flavours) or 'no ONNX Runtime'}")
    log(f"Python {platform.python_version()} at {sys.executable}; {', '.join(flavours)}")
    broken = unimportable_modules()
    if broken:
        raise BuildError("these modules cannot be imported in this environment, so the frozen "
                         "app would fail where it uses them (a dependency missing from "
                         "pyproject.toml?):\n  " + "\n  ".join(broken))


IMPORT_ALL = """
import importlib, pkgutil, resnet_desktop
for info in pkgutil.walk_packages(resnet_desktop.__path__, "resnet_desktop."):
    if info.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(info.name)
    except Exception as exc:
        print(f"{info.name}: {type(exc).__name__}: {exc}")
"""


def unimportable_modules() -> list[str]:
    """Every ``resnet_desktop`` module imported in a child process; the ones that fail.

    PyInstaller only warns about a missing dependency; the frozen app would then fail at run
    time, in front of a user.
    """
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True,
                            cwd=ROOT, env=env)
    lines = result.stdout.splitlines()
    if result.returncode != 0:
        lines.append(f"(the import check itself failed: {result.stderr.strip()[-300:]})")
    return lines


# --- icon ------------------------------------------------------------------------------------

def icon_png(work: Path) -> Path | None:
    """The biggest PNG of the app icon in resources/icons, else one rendered from the SVG."""
    pngs = sorted((ROOT / "resources" / "icons").glob("resnet-desktop*.png"))
    if pngs:
        from PIL import Image

        def width(path: Path) -> int:
            with Image.open(path) as image:
                return image.size[0]

        return max(pngs, key=width)
    if not ICON_SVG.is_file():
        log("no app icon in resources/icons; building without one")
        return None
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])  # noqa: F841
    image = QImage(512, 512, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(ICON_SVG)).render(painter)
    painter.end()
    out = work / "icons" / "resnet-desktop-512.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(out)):
        raise BuildError(f"cannot render {ICON_SVG} to {out}")
    return out


def platform_icon(png: Path | None, work: Path, system: str = sys.platform) -> Path | None:
    """The .ico (Windows) or .icns (macOS) PyInstaller embeds, made from the PNG with Pillow."""
    if png is None or system not in ("win32", "darwin"):
        return None
    from PIL import Image

    with Image.open(png) as source:
        image = source.convert("RGBA")
    out = work / "icons" / ("resnet-desktop.ico" if system == "win32" else "resnet-desktop.icns")
    out.parent.mkdir(parents=True, exist_ok=True)
    if system == "win32":
        image.save(out, sizes=ICO_SIZES)
    else:
        image.resize((1024, 1024), Image.Resampling.LANCZOS).save(out)
    return out


# --- PyInstaller ---------------------------------------------------------------------------

def pyinstaller_env(base: dict[str, str], icon: Path | None,
                    system: str = sys.platform) -> dict[str, str]:
    """PyInstaller's environment: the icon for the spec and, on macOS with a signing identity,
    signing failures as errors (PyInstaller only warns by default and ships an app that
    Gatekeeper then rejects) and a verification of the finished bundle's signature."""
    env = dict(base)
    if icon is not None:
        env["RESNET_DESKTOP_ICON"] = str(icon)
    if system == "darwin" and env.get("CODESIGN_IDENTITY"):
        env["PYINSTALLER_STRICT_BUNDLE_CODESIGN_ERROR"] = "1"
        env["PYINSTALLER_VERIFY_BUNDLE_SIGNATURE"] = "1"
    return env


def run_pyinstaller(args: argparse.Namespace, icon: Path | None) -> Path:
    env = pyinstaller_env(dict(os.environ), icon)
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
               "--distpath", str(args.dist), "--workpath", str(args.work), str(SPEC)]
    if args.clean:
        command.insert(4, "--clean")
    log("running " + " ".join(command))
    if subprocess.run(command, env=env, cwd=ROOT).returncode != 0:
        raise BuildError("PyInstaller failed (its messages are above)")
    bundle = args.dist / (f"{bundle_rules.DISPLAY_NAME}.app" if sys.platform == "darwin"
                          else bundle_rules.APP_NAME)
    if not bundle.exists():
        raise BuildError(f"PyInstaller finished but {bundle} is missing")
    return bundle


# --- size report ---------------------------------------------------------------------------

def bundle_size(bundle: Path) -> int:
    """Bytes of every regular file in the bundle (symlinks are not counted twice)."""
    return sum(p.lstat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())


def component_of(relative: Path) -> str:
    """Group a bundle file under a name people recognise (``PySide6/Qt/lib/libQt6Gui``...)."""
    parts = relative.parts
    if "_internal" in parts:
        parts = parts[parts.index("_internal") + 1:]
    if parts[:1] == ("Contents",):
        parts = parts[2:]
    if len(parts) <= 1:
        return parts[0] if parts else "."
    if parts[0] == "PySide6" and len(parts) > 2 and parts[1] == "Qt":
        if parts[2] == "lib":
            return "PySide6/Qt/lib/" + parts[3].split(".")[0]
        return "/".join(parts[:4]) if parts[2] == "plugins" and len(parts) > 4 else \
            "/".join(parts[:3])
    if parts[0] in ("onnxruntime", "numpy") and len(parts) > 2:
        return "/".join(parts[:3]) if len(parts) == 3 else "/".join(parts[:2])
    return parts[0]


def size_report(bundle: Path, top: int) -> tuple[int, list[tuple[str, int]]]:
    sizes: Counter[str] = Counter()
    for path in bundle.rglob("*"):
        if path.is_file() and not path.is_symlink():
            sizes[component_of(path.relative_to(bundle))] += path.lstat().st_size
    return sum(sizes.values()), sizes.most_common(top)


def print_size_report(bundle: Path, top: int) -> int:
    total, biggest = size_report(bundle, top)
    mb = total / 1e6
    log(f"bundle {bundle}: {mb:.1f} MB unpacked (limit {bundle_rules.SIZE_LIMIT_MB} MB)")
    for name, size in biggest:
        print(f"  {size / 1e6:8.1f} MB  {name}")
    return total


# --- Linux ---------------------------------------------------------------------------------

def elf_files(bundle: Path) -> list[Path]:
    """The bundle's executables and shared libraries (symlinks left out)."""
    found = []
    for path in sorted(bundle.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def strip_debug_info(bundle: Path) -> int:
    """Remove DWARF debug info (not symbols) from the bundle's ELF files; bytes saved.

    A Python built from source (pyenv) and some wheels carry it: libpython alone has ~17 MB.
    ``--strip-debug`` keeps the symbol tables, so nothing that looks symbols up breaks.
    """
    if shutil.which("strip") is None or shutil.which("readelf") is None:
        log("debug info kept: binutils (strip, readelf) is not installed")
        return 0
    saved = 0
    for path in elf_files(bundle):
        sections = subprocess.run(["readelf", "-S", "--wide", str(path)], capture_output=True,
                                  text=True).stdout
        if ".debug_info" not in sections:
            continue
        before = path.stat().st_size
        if subprocess.run(["strip", "--strip-debug", str(path)]).returncode == 0:
            saved += before - path.stat().st_size
    return saved


def missing_linux_libraries(bundle: Path) -> dict[str, list[str]]:
    """Shared libraries that the bundle's ELF files need but neither it nor this machine has.

    PyInstaller bundles the build machine's copies of most system libraries; one missing here is
    missing from the bundle too, and must then be installed on the user's machine.
    """
    if shutil.which("ldd") is None:
        return {}
    env = dict(os.environ, LD_LIBRARY_PATH=str(bundle / "_internal"))
    missing: dict[str, list[str]] = {}
    for path in elf_files(bundle):
        result = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env)
        for line in result.stdout.splitlines():
            if "=> not found" in line:
                missing.setdefault(line.split()[0], []).append(path.name)
    return missing


def report_missing_libraries(bundle: Path) -> None:
    missing = missing_linux_libraries(bundle)
    if not missing:
        log("every shared library the bundle links is in it or on this machine")
        return
    log("not bundled (absent on this build machine; the user's system must have them):")
    for library, users in sorted(missing.items()):
        shown = ", ".join(sorted(set(users))[:3]) + (" ..." if len(set(users)) > 3 else "")
        print(f"  {library}  (needed by {shown})")


def forbidden_libraries(bundle: Path) -> list[str]:
    """The build machine's libstdc++/libgcc_s if they are in the bundle (they must not be)."""
    internal = bundle / "_internal"
    if not internal.is_dir():
        return []
    return sorted(p.name for p in internal.iterdir()
                  if bundle_rules.FORBIDDEN_LINUX_LIBRARIES.match(p.name))


def native_libraries(internal: Path) -> list[str]:
    """Bundle paths (below ``_internal``) of every native library that is not a Python
    extension module: what the licence index must name."""
    found = []
    for path in internal.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        relative = path.relative_to(internal).as_posix()
        if re.search(r"\.(so(\.[\w-]+)*|dll|dylib)$", path.name) and \
                not licences.is_extension_module(relative):
            found.append(relative)
    return sorted(found)


def unlisted_native_libraries(bundle: Path) -> list[str]:
    """Native libraries in the finished bundle that ``licences/THIRD-PARTY.txt`` does not name.

    The index is written from the libraries PyInstaller was about to collect; this checks that
    what it actually collected matches, so no notice goes missing.
    """
    internal = bundle / "_internal"
    index = internal / licences.BUNDLE_FOLDER / "THIRD-PARTY.txt"
    if not index.is_file():
        raise BuildError(f"{index} is missing: the bundle carries no licence index")
    listed = licences.listed_native_files(index.read_text(encoding="utf-8"))
    return [path for path in native_libraries(internal) if path not in listed]


def check_bundle_contents(bundle: Path) -> None:
    """Linux and Windows: fail on libraries that must not ship and on unlisted ones."""
    forbidden = forbidden_libraries(bundle) if sys.platform.startswith("linux") else []
    if forbidden:
        raise BuildError(f"the bundle carries {', '.join(forbidden)}: the user's Mesa drivers "
                         "then fail to load ('GLIBCXX... not found'); bundle_rules.py must "
                         "prune them")
    unlisted = unlisted_native_libraries(bundle)
    if unlisted:
        raise BuildError("native libraries in the bundle that licences/THIRD-PARTY.txt does not "
                         "name (packaging/licences.py):\n  " + "\n  ".join(unlisted))
    log("licence index names every bundled native library; no libstdc++/libgcc_s")


def linux_arch() -> str:
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(),
                                                        platform.machine())


LINUX_ICON_SIZE = 512
"""install.sh puts the icon into hicolor/512x512/apps, so the archive's icon is that size."""


def linux_icon(png: Path, out: Path) -> None:
    """The app icon at exactly LINUX_ICON_SIZE px, as the icon theme folder it goes to says."""
    from PIL import Image

    with Image.open(png) as source:
        if source.size == (LINUX_ICON_SIZE, LINUX_ICON_SIZE) and source.format == "PNG":
            shutil.copy2(png, out)
            return
        image = source.convert("RGBA")
    image.resize((LINUX_ICON_SIZE, LINUX_ICON_SIZE), Image.Resampling.LANCZOS).save(out)


def build_linux(bundle: Path, args: argparse.Namespace, png: Path | None, version: str) -> None:
    stem = f"{bundle_rules.APP_NAME}-{version}-linux-{linux_arch()}"
    tarball = args.dist / f"{stem}.tar.gz"
    with tempfile.TemporaryDirectory(dir=args.dist) as tmp:
        stage = Path(tmp) / stem
        stage.mkdir()
        (stage / bundle_rules.APP_NAME).symlink_to(bundle.resolve(), target_is_directory=True)
        shutil.copy2(PACKAGING / "linux" / "resnet-desktop.desktop", stage)
        shutil.copy2(PACKAGING / "linux" / "install.sh", stage)
        if png is not None:
            linux_icon(png, stage / "resnet-desktop.png")
        (stage / "README-linux.txt").write_text(LINUX_XCB_NOTE, encoding="utf-8")
        partial = tarball.with_name(tarball.name + ".part")
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            for item in sorted(stage.iterdir()):
                tar.add(item.resolve() if item.is_symlink() else item,
                        arcname=f"{stem}/{item.name}")
        partial.replace(tarball)
    log(f"{tarball} ({tarball.stat().st_size / 1e6:.1f} MB)")
    log("note: Qt's xcb plugin needs libxcb-cursor0 on the user's machine (README-linux.txt)")
    build_appimage(bundle, args, png, version)


def build_appimage(bundle: Path, args: argparse.Namespace, png: Path | None,
                   version: str) -> None:
    """An AppImage when appimagetool is installed (it is in neither Debian nor PyPI)."""
    tool = os.environ.get("APPIMAGETOOL") or shutil.which("appimagetool")
    if not tool:
        log("AppImage skipped: appimagetool is not installed (it is not packaged in Debian or "
            "on PyPI; see packaging/README.md to build one where it is available)")
        return
    if png is None:
        log("AppImage skipped: an AppImage needs an icon and resources/icons has none")
        return
    appdir = args.work / "AppDir"
    if appdir.exists():
        shutil.rmtree(appdir)
    shutil.copytree(bundle, appdir / "usr" / "lib" / bundle_rules.APP_NAME, symlinks=True)
    shutil.copy2(PACKAGING / "linux" / "AppRun", appdir / "AppRun")
    (appdir / "AppRun").chmod(0o755)
    shutil.copy2(PACKAGING / "linux" / "resnet-desktop.desktop", appdir)
    shutil.copy2(png, appdir / "resnet-desktop.png")
    (appdir / ".DirIcon").symlink_to("resnet-desktop.png")
    out = args.dist / f"{bundle_rules.APP_NAME}-{version}-{linux_arch()}.AppImage"
    env = dict(os.environ, ARCH=linux_arch())
    if subprocess.run([tool, "--no-appstream", str(appdir), str(out)], env=env).returncode:
        raise BuildError("appimagetool failed (its messages are above)")
    log(f"{out} ({out.stat().st_size / 1e6:.1f} MB)")


# --- Windows -------------------------------------------------------------------------------

def find_iscc() -> str | None:
    found = shutil.which("ISCC") or shutil.which("iscc")
    return found or next((p for p in ISCC_DEFAULTS if Path(p).is_file()), None)


VC_RUNTIME_FLOOR = (14, 40)
"""ONNX Runtime is built with Visual Studio 2022 17.10+; with an older msvcp140.dll it crashes
in std::mutex."""
VC_RUNTIME_DLL = re.compile(r"^(msvcp140|vcruntime140|concrt140)(_\w+)?(-[0-9a-f]+)?\.dll$",
                            re.IGNORECASE)
VC_RUNTIME_REQUIRED = ("msvcp140.dll", "vcruntime140.dll", "vcruntime140_1.dll")
"""The installer installs no Visual C++ runtime: the bundle carries these, new enough."""


def pe_file_version(path: Path) -> tuple[int, int, int, int] | None:
    """A Windows PE file's FileVersion from its version resource (pefile, which PyInstaller
    requires on Windows), or None when it has none or is no PE file."""
    import pefile

    try:
        pe = pefile.PE(str(path), fast_load=True)
    except pefile.PEFormatError:
        return None
    try:
        pe.parse_data_directories(
            directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]])
        fixed = getattr(pe, "VS_FIXEDFILEINFO", None)
        if not fixed:
            return None
        ms, ls = fixed[0].FileVersionMS, fixed[0].FileVersionLS
        return ms >> 16, ms & 0xFFFF, ls >> 16, ls & 0xFFFF
    finally:
        pe.close()


def vc_runtime_problems(bundle: Path) -> list[str]:
    """Every Visual C++ runtime DLL in the bundle older than 14.40 (or of unknown version),
    and the required ones that are missing.

    PyInstaller and the PySide6 wheel each bring copies, and whichever the process loads first
    is the one every module uses, so all of them must be new enough.
    """
    internal = bundle / "_internal"
    problems = []
    copies = [p for p in internal.rglob("*.dll") if VC_RUNTIME_DLL.match(p.name)]
    for path in sorted(copies):
        version = pe_file_version(path)
        where = path.relative_to(bundle).as_posix()
        if version is None:
            problems.append(f"{where}: not a PE file with a version resource")
        elif version[:2] < VC_RUNTIME_FLOOR:
            problems.append(f"{where}: {'.'.join(map(str, version))}, older than "
                            f"{'.'.join(map(str, VC_RUNTIME_FLOOR))}")
    top = {p.name.lower() for p in internal.iterdir()} if internal.is_dir() else set()
    problems += [f"_internal/{name}: missing" for name in VC_RUNTIME_REQUIRED if name not in top]
    return problems


def check_vc_runtime(bundle: Path) -> None:
    problems = vc_runtime_problems(bundle)
    if problems:
        raise BuildError("the bundle's Visual C++ runtime is not fit to ship (install the "
                         "latest Visual C++ 2015-2022 redistributable on the build machine and "
                         "rebuild):\n  " + "\n  ".join(problems))
    log(f"Visual C++ runtime: every bundled copy is {'.'.join(map(str, VC_RUNTIME_FLOOR))} "
        "or newer")


def build_windows(bundle: Path, args: argparse.Namespace, icon: Path | None,
                  version: str) -> None:
    iscc = find_iscc()
    if iscc is None:
        log("Setup.exe skipped: Inno Setup 6 (ISCC.exe) is not installed; install it from "
            "jrsoftware.org, or run ISCC packaging\\windows\\resnet-desktop.iss yourself")
        return
    defines = {"AppVersion": version, "BundleDir": str(bundle.resolve()),
               "OutputDir": str(args.dist.resolve())}
    if icon is not None:
        defines["IconFile"] = str(icon.resolve())
    command = [iscc, *(f"/D{k}={v}" for k, v in defines.items()),
               str(PACKAGING / "windows" / "resnet-desktop.iss")]
    log("running " + " ".join(command))
    if subprocess.run(command).returncode != 0:
        raise BuildError("Inno Setup failed (its messages are above)")
    log(f"installer in {args.dist}: sign it with signtool (packaging/README.md)")


# --- macOS ---------------------------------------------------------------------------------

MACHO_MAGICS = frozenset(bytes.fromhex(magic) for magic in (
    "feedface", "feedfacf", "cefaedfe", "cffaedfe", "cafebabe", "cafebabf"))


def version_tuple(text: str) -> tuple[int, ...]:
    """``"14.0"`` -> ``(14, 0)``; trailing zeros dropped so that 14 == 14.0 == 14.0.0."""
    numbers = [int(n) for n in text.strip().split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def parse_minos(otool_output: str) -> list[tuple[int, ...]]:
    """The minimum macOS versions in ``otool -l`` output: ``minos`` of each LC_BUILD_VERSION
    for macOS (platform 1) and ``version`` of each older LC_VERSION_MIN_MACOSX (one per
    architecture of a universal binary)."""
    found = []
    command = platform_id = None
    for line in otool_output.splitlines():
        key, _, value = line.strip().partition(" ")
        value = value.strip()
        if key == "cmd":
            command, platform_id = value, None
        elif command == "LC_BUILD_VERSION" and key == "platform":
            platform_id = value
        else:
            build_version = (command == "LC_BUILD_VERSION" and key == "minos"
                             and platform_id in ("1", "MACOS"))
            old_style = command == "LC_VERSION_MIN_MACOSX" and key == "version"
            if build_version or old_style:
                found.append(version_tuple(value))
    return found


def macos_floor_violations(minimums: dict[str, tuple[int, ...]],
                           floor: tuple[int, ...]) -> list[str]:
    """The binaries (bundle path -> highest minos) that need a newer macOS than ``floor``."""
    return [f"{path} needs macOS {'.'.join(map(str, needed))}"
            for path, needed in sorted(minimums.items(), key=lambda item: item[1], reverse=True)
            if needed > floor]


def macho_files(app: Path) -> list[Path]:
    found = []
    for path in sorted(app.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(4) in MACHO_MAGICS:
                    found.append(path)
    return found


def check_macos_minimum(app: Path) -> None:
    """Fail when a bundled binary needs a newer macOS than Info.plist's LSMinimumSystemVersion.

    pip picks wheels for the build Mac's own macOS (numpy's ``macosx_14_0_arm64`` on macOS 14),
    and such a library does not load on an older system that Info.plist still admits.
    """
    with (app / "Contents" / "Info.plist").open("rb") as handle:
        declared = plistlib.load(handle)["LSMinimumSystemVersion"]
    minimums = {}
    for path in macho_files(app):
        result = subprocess.run(["otool", "-l", str(path)], capture_output=True, text=True)
        found = parse_minos(result.stdout) if result.returncode == 0 else []
        if found:
            minimums[path.relative_to(app).as_posix()] = max(found)
    violations = macos_floor_violations(minimums, version_tuple(declared))
    if violations:
        shown = violations[:15] + ([f"... and {len(violations) - 15} more"]
                                   if len(violations) > 15 else [])
        raise BuildError(f"LSMinimumSystemVersion is {declared} (packaging/macos/Info.plist), "
                         "but these binaries need a newer macOS; build on that macOS with "
                         "wheels for it, or raise the floor deliberately:\n  "
                         + "\n  ".join(shown))
    highest = max(minimums.values(), default=(0,))
    log(f"macOS floor {declared}: the highest minos of {len(minimums)} binaries is "
        f"{'.'.join(map(str, highest))}")


def verify_macos_signature(app: Path) -> None:
    """``codesign --verify --deep --strict``: an app whose signature does not verify is killed
    on launch on Apple Silicon, or rejected by Gatekeeper."""
    result = subprocess.run(["codesign", "--verify", "--deep", "--strict", "--verbose=2",
                             str(app)], capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"codesign --verify --deep --strict failed for {app}:\n"
                         f"{result.stderr.strip()}")
    log("codesign --verify --deep --strict: the signature is valid")


def dmg_path(dist: Path, version: str) -> Path:
    """The disk image, named for the architecture this Mac builds (``arm64``, ``x86_64``)."""
    return dist / f"{bundle_rules.APP_NAME}-{version}-macos-{platform.machine()}.dmg"


def build_macos(bundle: Path, args: argparse.Namespace, version: str) -> None:
    dmg = dmg_path(args.dist, version)
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        subprocess.run(["ditto", str(bundle), str(stage / bundle.name)], check=True)
        (stage / "Applications").symlink_to("/Applications")
        dmg.unlink(missing_ok=True)
        command = ["hdiutil", "create", "-volname", bundle_rules.DISPLAY_NAME, "-srcfolder",
                   str(stage), "-ov", "-format", "UDZO", str(dmg)]
        if subprocess.run(command).returncode != 0:
            raise BuildError("hdiutil failed (its messages are above)")
    log(f"{dmg}")
    if not os.environ.get("CODESIGN_IDENTITY"):
        log("not signed: set CODESIGN_IDENTITY='Developer ID Application: ...' and rebuild, "
            "then notarize the .dmg (packaging/README.md)")


# --- main ----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.dist = args.dist.resolve()
    args.work = args.work.resolve()
    try:
        check_environment()
        if args.clean:
            for folder in (args.work, args.dist / bundle_rules.APP_NAME,
                           args.dist / f"{bundle_rules.DISPLAY_NAME}.app"):
                shutil.rmtree(folder, ignore_errors=True)
        args.dist.mkdir(parents=True, exist_ok=True)
        args.work.mkdir(parents=True, exist_ok=True)
        version = bundle_rules.app_version(ROOT)
        png = icon_png(args.work)
        icon = platform_icon(png, args.work)
        bundle = run_pyinstaller(args, icon)
        if sys.platform.startswith("linux"):
            log(f"stripped {strip_debug_info(bundle) / 1e6:.1f} MB of debug info")
        total = print_size_report(bundle, args.top)
        if total > bundle_rules.SIZE_LIMIT_MB * 1e6:
            log(f"warning: the bundle is over {bundle_rules.SIZE_LIMIT_MB} MB")
        if sys.platform.startswith("linux"):
            report_missing_libraries(bundle)
        if sys.platform == "darwin":
            check_macos_minimum(bundle)
            verify_macos_signature(bundle)
        else:
            check_bundle_contents(bundle)
        if sys.platform == "win32":
            check_vc_runtime(bundle)
        if args.skip_installer:
            return 0
        if sys.platform.startswith("linux"):
            build_linux(bundle, args, png, version)
        elif sys.platform == "win32":
            build_windows(bundle, args, icon, version)
        elif sys.platform == "darwin":
            build_macos(bundle, args, version)
        else:
            log(f"no installer for {sys.platform}; the bundle is in {bundle}")
    except BuildError as exc:
        print(f"build: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
