"""Reading what the app writes with exiftool, the reader photographers trust (a pytest plugin).

The ``exiftool`` fixture skips, saying why, where exiftool is not installed; CI installs it
(``.ci/run``: Debian's ``libimage-exiftool-perl``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

KEYWORD_TAGS = {"subject": "XMP-dc:Subject", "hierarchical": "XMP-lr:HierarchicalSubject",
                "tags_list": "XMP-digiKam:TagsList"}
APP_GROUP = "XMP-resnetDesktop:"


@dataclass(frozen=True)
class ExifTool:
    executable: str

    def _run(self, *args: str) -> str:
        return subprocess.run([self.executable, *args], capture_output=True, text=True,
                              encoding="utf-8", check=True).stdout

    def fields(self, path: Path) -> dict[str, Any]:
        """Every XMP field of ``path`` as exiftool reads it, keyed ``XMP-<prefix>:<Name>``."""
        found = json.loads(self._run("-j", "-struct", "-G1", "-XMP:all", str(path)))[0]
        found.pop("SourceFile")
        return found

    def keywords(self, path: Path) -> dict[str, list[str]]:
        """The three keyword lists (``subject``, ``hierarchical``, ``tags_list``), each a list
        (empty when absent)."""
        found = self.fields(path)
        out = {}
        for key, tag in KEYWORD_TAGS.items():
            value = found.get(tag, [])
            out[key] = [str(v) for v in (value if isinstance(value, list) else [value])]
        return out

    def foreign(self, path: Path) -> dict[str, Any]:
        """The fields outside the keyword lists and this app's namespace: what a merge keeps."""
        return {k: v for k, v in self.fields(path).items()
                if k not in KEYWORD_TAGS.values() and not k.startswith(APP_GROUP)}

    def write(self, path: Path, *assignments: str) -> None:
        """Set fields as exiftool does (``"-XMP-dc:Subject+=beach"``); a missing ``.xmp`` file
        is created, as photographers make one with exiftool."""
        self._run("-overwrite_original", "-q", *assignments, str(path))

    def iptc_keywords(self, path: Path) -> list[str]:
        """IPTC Keywords as exiftool reads them (UTF-8 when the file says so)."""
        value = json.loads(self._run("-j", "-IPTC:Keywords", str(path)))[0].get("Keywords", [])
        return [str(v) for v in (value if isinstance(value, list) else [value])]

    def warnings(self, path: Path) -> list[str]:
        """What ``exiftool -validate -warning -a`` says is wrong with ``path`` ([] when OK)."""
        lines = self._run("-validate", "-warning", "-a", "-s", str(path)).splitlines()
        problems = [line for line in lines if not line.startswith("Validate")]
        if not any(line.split(":", 1)[1].strip() == "OK" for line in lines
                   if line.startswith("Validate")):
            problems.append("exiftool -validate did not say OK: " + " / ".join(lines))
        return problems


@pytest.fixture
def exiftool() -> ExifTool:
    executable = shutil.which("exiftool")
    if executable is None:
        pytest.skip("exiftool is not installed (Debian: libimage-exiftool-perl), so what the "
                    "app writes cannot be read back by an independent reader")
    return ExifTool(executable)
