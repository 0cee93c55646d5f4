"""The licence texts an installer must carry: the app's own and every bundled distribution's.

The bundle redistributes Qt (LGPL-3.0), ONNX Runtime, libheif and the rest in binary form,
which their licences allow on condition that the notices travel with them. This module walks
the runtime requirements in ``pyproject.toml`` (for the platform that builds) through the
installed distributions, and collects each one's licence files from its ``.dist-info`` folder
and its package's top folder. Distributions whose wheels carry no text (PySide6 and shiboken6)
get the texts their licence names from ``packaging/licences/``.

Kept free of PyInstaller so that the spec, ``build.py`` and the tests share it.
"""

from __future__ import annotations

import re
import tomllib
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


def summary(app_name: str, app_version: str, items: list[Notice]) -> str:
    """The index file of the bundle's licence folder."""
    lines = [f"{app_name} {app_version} is licensed under the Apache License 2.0 (LICENSE).",
             "",
             "It bundles the following software, each under its own licence; the texts are in",
             "the folder named after each one.", ""]
    width = max((len(f"{n.name} {n.version}") for n in items), default=0)
    lines += [f"{f'{n.name} {n.version}':<{width}}  {n.licence}" for n in items]
    return "\n".join(lines) + "\n"


def datas(root: Path, workdir: Path, app_name: str, app_version: str) -> list[tuple[str, str]]:
    """PyInstaller ``datas`` entries: the app's LICENSE, an index, and every notice's files.

    The index is written into ``workdir`` (the build folder) first.
    """
    items = notices(root)
    workdir.mkdir(parents=True, exist_ok=True)
    index = workdir / "THIRD-PARTY.txt"
    index.write_text(summary(app_name, app_version, items), encoding="utf-8")
    entries = [(str(root / "LICENSE"), BUNDLE_FOLDER), (str(index), BUNDLE_FOLDER)]
    for notice in items:
        for source, inside in notice.files:
            parent = PurePosixPath(inside).parent
            target = notice.folder if str(parent) == "." else f"{notice.folder}/{parent}"
            entries.append((str(source), target))
    return entries
