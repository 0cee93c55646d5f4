"""Class labels: the ImageNet list that ships with the app, or a user's labels file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from resnet_desktop.core.foundation.errors import ManifestError
from resnet_desktop.core.foundation.regular_file import (
    FileTooLargeError,
    NotRegularFileError,
    read_regular_bytes,
)
from resnet_desktop.resources import resource_path

IMAGENET = "imagenet"
_WNID = re.compile(r"^n\d{8}$")
MAX_LABELS_BYTES = 16 * 1024**2


@dataclass(frozen=True)
class Label:
    """One class: the name people read and, for ImageNet-style labels, its WordNet id."""

    name: str
    wnid: str | None = None


def parse_label_line(line: str) -> Label:
    """Accept ``name``, ``wnid<TAB>name`` or the zoo's synset form ``wnid name, synonym, ...``."""
    line = line.strip()
    if "\t" in line:
        first, rest = line.split("\t", 1)
        if _WNID.match(first):
            return Label(rest.strip(), first)
    first, _, rest = line.partition(" ")
    if _WNID.match(first) and rest:
        return Label(rest.split(",")[0].strip(), first)
    return Label(line)


def read_labels_file(path: Path) -> tuple[Label, ...]:
    """One label per line; blank lines at the end are ignored, blank lines inside are an error."""
    try:
        text = read_regular_bytes(path, max_bytes=MAX_LABELS_BYTES).decode("utf-8-sig")
    except FileNotFoundError:
        raise ManifestError(f"labels: file not found: {path}", "labels") from None
    except NotRegularFileError as exc:
        raise ManifestError(f"labels: {path} is {exc.kind}, not a regular file", "labels") \
            from None
    except FileTooLargeError as exc:
        raise ManifestError(f"labels: {path} is too large ({exc.size:,} bytes)", "labels") \
            from None
    except UnicodeDecodeError:
        raise ManifestError(f"labels: {path} is not UTF-8 text", "labels") from None
    except OSError as exc:
        raise ManifestError(f"labels: cannot read {path}: {exc.strerror}", "labels") from None
    lines = text.rstrip("\r\n").splitlines()
    if not lines or not any(line.strip() for line in lines):
        raise ManifestError(f"labels: {path} is empty", "labels")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise ManifestError(f"labels: {path} line {number} is blank", "labels")
    return tuple(parse_label_line(line) for line in lines)


@lru_cache(maxsize=1)
def imagenet_labels() -> tuple[Label, ...]:
    """The 1000 ImageNet-1k classes in model output order."""
    return read_labels_file(resource_path("imagenet_classes.txt"))


def load_labels(spec: str | Path) -> tuple[Label, ...]:
    """``"imagenet"`` or a path to a labels file (already resolved against its manifest)."""
    if str(spec) == IMAGENET:
        return imagenet_labels()
    return read_labels_file(Path(spec))
