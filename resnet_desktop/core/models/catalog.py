"""The model catalog (``resources/models.json``): the zoo's ResNets as data, not code.

An entry with a ``file`` (a path relative to the catalog) is built in: it ships inside the
package, is never downloaded and cannot be removed. The catalog's built-in model answers when
its default ResNet has not been downloaded (:attr:`Catalog.builtin_id`).

``RESNET_DESKTOP_CATALOG=<path>`` (or the ``path`` argument) swaps in another catalog file; the
tests use that to point the real download path at models they generate.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resnet_desktop.core.foundation.errors import ManifestError
from resnet_desktop.core.foundation.regular_file import (
    FileTooLargeError,
    NotRegularFileError,
    read_regular_bytes,
)
from resnet_desktop.core.models.manifest import ModelManifest, parse_manifest
from resnet_desktop.resources import resource_path

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_CATALOG_BYTES = 16 * 1024**2


@dataclass(frozen=True)
class CatalogEntry:
    """One downloadable model with everything needed to fetch, verify and run it."""

    id: str
    name: str
    family: str
    depth: int | None
    opset: int | None
    bytes: int
    sha256: str
    top1: float | None
    top5: float | None
    license: str | None
    urls: tuple[str, ...]
    manifest: ModelManifest
    file: Path | None = None
    """The bundled ``.onnx`` of a built-in model; None for a model that is downloaded."""

    @property
    def filename(self) -> str:
        return f"{self.id}.onnx"

    @property
    def builtin(self) -> bool:
        return self.file is not None


@dataclass(frozen=True)
class Catalog:
    path: Path
    default_id: str
    entries: tuple[CatalogEntry, ...]

    @property
    def builtin_id(self) -> str | None:
        """The first built-in model's id, or None when the catalog ships none."""
        return next((e.id for e in self.entries if e.builtin), None)

    def get(self, model_id: str) -> CatalogEntry | None:
        return next((e for e in self.entries if e.id == model_id), None)

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def default_catalog_path() -> Path:
    override = os.environ.get("RESNET_DESKTOP_CATALOG")
    return Path(override).expanduser() if override else resource_path("models.json")


def _entry(raw: Any, base_dir: Path) -> CatalogEntry:
    if not isinstance(raw, dict):
        raise ManifestError("catalog: every model must be a JSON object")
    model_id = raw.get("id")
    if not isinstance(model_id, str) or not _ID.match(model_id):
        raise ManifestError(f"id: {model_id!r} is not a valid model id", "id")

    def bad(field: str, why: str) -> ManifestError:
        return ManifestError(f"{model_id}: {field}: {why}", field)

    size = raw.get("bytes")
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise bad("bytes", f"must be a positive whole number, got {size!r}")
    sha = raw.get("sha256")
    if not isinstance(sha, str) or not _SHA256.match(sha.lower()):
        raise bad("sha256", "must be 64 hexadecimal digits")
    urls = raw.get("urls", [])
    if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
        raise bad("urls", "must be a list of URLs")
    for key in ("top1", "top5"):
        value = raw.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise bad(key, f"must be a number, got {value!r}")
    depth, opset = raw.get("depth"), raw.get("opset")
    file = raw.get("file")
    if file is not None and (not isinstance(file, str) or not file.strip()):
        raise bad("file", "must be the path of the bundled .onnx, relative to the catalog")
    try:
        manifest = parse_manifest(raw, base_dir, model_id)
    except ManifestError as exc:
        raise ManifestError(f"{model_id}: {exc}", exc.field) from None
    return CatalogEntry(
        id=model_id,
        name=manifest.name,
        family=str(raw.get("family", "")),
        depth=depth if isinstance(depth, int) else None,
        opset=opset if isinstance(opset, int) else None,
        bytes=size,
        sha256=sha.lower(),
        top1=raw.get("top1"),
        top5=raw.get("top5"),
        license=manifest.license,
        urls=tuple(urls),
        manifest=manifest,
        file=(base_dir / file).resolve() if file is not None else None,
    )


def load_catalog(path: Path | None = None) -> Catalog:
    """Read and validate a catalog file; a bad one raises ManifestError naming the field."""
    path = Path(path) if path is not None else default_catalog_path()
    try:
        data = json.loads(read_regular_bytes(path, max_bytes=MAX_CATALOG_BYTES).decode("utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"catalog not found: {path}") from None
    except NotRegularFileError as exc:
        raise ManifestError(f"catalog {path} is {exc.kind}, not a regular file") from None
    except FileTooLargeError as exc:
        raise ManifestError(f"catalog {path}: too large ({exc.size:,} bytes)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"catalog {path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"catalog {path}: not valid JSON (line {exc.lineno}: {exc.msg})") \
            from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise ManifestError(f"catalog {path}: must be an object with a \"models\" list")
    entries = tuple(_entry(raw, path.parent) for raw in data["models"])
    ids = [e.id for e in entries]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate:
        raise ManifestError(f"catalog {path}: model id {duplicate!r} appears twice", "id")
    default_id = data.get("default", ids[0] if ids else "")
    if entries and default_id not in ids:
        raise ManifestError(f"catalog {path}: default {default_id!r} is not one of its models",
                            "default")
    return Catalog(path=path, default_id=default_id, entries=entries)
