"""The local cache of catalog models: what the CLI and the GUI ask for a model file.

Verified models live in ``<cache_dir()>/models/<id>.onnx``, each with a verified stamp
(:mod:`.verified_stamp`); downloads go through
:func:`resnet_desktop.core.models.download.download_verified`, so a file there is always complete,
and :meth:`ModelCache.ensure` hands out a file only while its stamp matches or a new hash does.
``RESNET_DESKTOP_MIRROR=<base URL>`` puts ``<base URL>/<id>.onnx`` before the catalog's URLs
and ``RESNET_DESKTOP_OFFLINE=1`` forbids the network.

A built-in catalog model (an entry with a ``file``) is always "cached": its path is the bundled
file, it is never downloaded, and it cannot be removed. No stamp can be written beside it (the
installation may be read-only), so each ModelCache hashes it once, and again whenever its
``stat`` changes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from resnet_desktop.core.foundation.cancel import NEVER, CancelToken
from resnet_desktop.core.foundation.errors import ResNetDesktopError
from resnet_desktop.core.foundation.hashing import sha256_file
from resnet_desktop.core.foundation.paths import cache_dir
from resnet_desktop.core.foundation.regular_file import NotRegularFileError
from resnet_desktop.core.models.catalog import Catalog, CatalogEntry, load_catalog
from resnet_desktop.core.models.download_limits import (
    DEFAULT_ATTEMPTS,
    DEFAULT_BACKOFF_S,
    DEFAULT_MIN_RATE,
    DEFAULT_RATE_WINDOW_S,
    DEFAULT_TIMEOUT_S,
)
from resnet_desktop.core.models.verified_stamp import remove_stamp, stamp_matches, write_stamp

# The downloader (urllib, ssl, filelock) is imported by the methods that download, lock or
# resume: looking models up, which the window does before its first paint, needs none of it.
if TYPE_CHECKING:
    from resnet_desktop.core.models.download import ProgressCallback

logger = logging.getLogger(__name__)

MIRROR_ENV = "RESNET_DESKTOP_MIRROR"
_KNOWN_IDS_SHOWN = 6
_SETTLED_NS = 2_000_000_000


class UnknownModelError(ResNetDesktopError):
    """A model id that the catalog does not list."""


class ModelBusyError(ResNetDesktopError):
    """The model is being downloaded by another thread or process."""


class BuiltinModelError(ResNetDesktopError):
    """A built-in model cannot be removed, or its bundled file is missing."""


@dataclass(frozen=True)
class CachedModel:
    id: str
    path: Path
    bytes: int


def mirror_urls(model_id: str) -> list[str]:
    """``[<RESNET_DESKTOP_MIRROR>/<id>.onnx]``, or ``[]`` when no mirror is set."""
    base = os.environ.get(MIRROR_ENV, "").strip()
    return [f"{base.rstrip('/')}/{model_id}.onnx"] if base else []


class ModelCache:
    """Catalog models on disk: look up, download (resumably, verified), list, verify, remove."""

    def __init__(self, root: Path | None = None, catalog: Catalog | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT_S,
                 attempts: int = DEFAULT_ATTEMPTS,
                 backoff: float = DEFAULT_BACKOFF_S,
                 min_rate: float = DEFAULT_MIN_RATE,
                 rate_window: float = DEFAULT_RATE_WINDOW_S) -> None:
        self.root = Path(root) if root is not None else cache_dir() / "models"
        self.catalog = catalog if catalog is not None else load_catalog()
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.min_rate = min_rate
        self.rate_window = rate_window
        self._builtins_hashed: set[tuple[str, int, int, int]] = set()
        """(path, size, mtime_ns, inode) of built-in files whose SHA-256 matched."""

    def entry(self, model_id: str) -> CatalogEntry:
        """The catalog entry, or UnknownModelError naming the known ids."""
        entry = self.catalog.get(model_id)
        if entry is None:
            ids = [e.id for e in self.catalog]
            shown = ", ".join(ids[:_KNOWN_IDS_SHOWN])
            if len(ids) > _KNOWN_IDS_SHOWN:
                shown += f" and {len(ids) - _KNOWN_IDS_SHOWN} more"
            raise UnknownModelError(f"unknown model {model_id!r}; known models: {shown or 'none'}")
        return entry

    def path_for(self, model_id: str) -> Path:
        """Where the verified file lives (it may not exist yet); a built-in model's bundled
        file."""
        entry = self.entry(model_id)
        return entry.file if entry.file is not None else self.root / entry.filename

    def urls_for(self, model_id: str) -> list[str]:
        """The sources in the order they are tried: the mirror, then the catalog's URLs."""
        urls = mirror_urls(model_id) + list(self.entry(model_id).urls)
        return list(dict.fromkeys(urls))

    def is_cached(self, model_id: str) -> bool:
        """The file exists with the catalog's size (cheap: no hashing; :meth:`ensure` checks
        its stamp, and hashes it again if the file changed, before handing it out)."""
        entry = self.entry(model_id)
        try:
            return self.path_for(model_id).stat().st_size == entry.bytes
        except OSError:
            return False

    def partial_bytes(self, model_id: str) -> int:
        """Bytes of a resumable partial download (0 if none)."""
        entry = self.entry(model_id)
        if entry.builtin:
            return 0
        from resnet_desktop.core.models import download

        return download.resumable_bytes(self.root / entry.filename, entry.bytes, entry.sha256)

    def list(self) -> list[CachedModel]:
        """Cached catalog models, in catalog order (partials, locks and strangers ignored)."""
        return [CachedModel(e.id, self.path_for(e.id), e.bytes)
                for e in self.catalog if self.is_cached(e.id)]

    def remove(self, model_id: str) -> bool:
        """Delete the cached file and any partial; False if there was nothing to delete.

        Raises ModelBusyError while another thread or process downloads the model, and
        BuiltinModelError for the built-in model.
        """
        if self.entry(model_id).builtin:
            raise BuiltinModelError(f"{model_id} is built into ResNet Desktop; it cannot be "
                                    "removed")
        from resnet_desktop.core.models import download

        path = self.path_for(model_id)
        with self._locked(path):
            found = download.discard_partial(path)
            remove_stamp(path)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                found = True
        if found:
            logger.info("removed %s from the cache", model_id)
        return found

    def verify(self, model_id: str, cancel: CancelToken | None = None) -> bool:
        """Re-hash the cached file against the catalog; a bad file is deleted and False returned."""
        entry = self.entry(model_id)
        if entry.builtin:  # read-only, inside the installation: checked, never deleted
            try:
                return sha256_file(entry.file, cancel) == entry.sha256
            except FileNotFoundError:
                return False
        path = self.root / entry.filename
        with self._locked(path):
            try:
                good = (path.stat().st_size == entry.bytes
                        and sha256_file(path, cancel) == entry.sha256)
            except FileNotFoundError:
                return False
            if good:
                write_stamp(path, entry.sha256)
            else:
                logger.warning("cached %s is corrupt; deleting %s", model_id, path)
                remove_stamp(path)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        return good

    def ensure(self, model_id: str, progress: ProgressCallback | None = None,
               cancel: CancelToken | None = None) -> Path:
        """The cached model's path, downloading it first if needed.

        A cached file whose verified stamp no longer matches is hashed again first; if its
        bytes changed it is downloaded again (offline: refused), never used.

        Raises OfflineError (offline and not cached or damaged), Cancelled (the partial is kept,
        and the next call resumes it), DownloadError or ChecksumError naming every source tried.
        """
        entry = self.entry(model_id)
        if entry.file is not None:
            if not self._builtin_intact(entry.file, entry, cancel or NEVER):
                raise BuiltinModelError(f"the built-in model's file is missing or damaged "
                                        f"({entry.file}); reinstall ResNet Desktop")
            return entry.file
        path = self.root / entry.filename
        if self.is_cached(model_id) and stamp_matches(path, entry.sha256):
            return path
        from resnet_desktop.core.models import download

        if download.offline_mode() and not os.path.lexists(path):
            raise download.offline_error(f"model {model_id}")
        return download.download_verified(
            self.urls_for(model_id), path, size=entry.bytes, sha256=entry.sha256,
            progress=progress, cancel=cancel or NEVER, timeout=self.timeout,
            attempts=self.attempts, backoff=self.backoff, min_rate=self.min_rate,
            rate_window=self.rate_window,
        )

    def _builtin_intact(self, path: Path, entry: CatalogEntry, cancel: CancelToken) -> bool:
        try:
            info = os.stat(path)
        except OSError:
            return False
        key = (str(path), info.st_size, info.st_mtime_ns, info.st_ino)
        if key in self._builtins_hashed:
            return True
        try:
            intact = info.st_size == entry.bytes and sha256_file(path, cancel) == entry.sha256
        except (OSError, NotRegularFileError):
            return False
        # A file changed in the same clock tick as this stat keeps its mtime, so only a file
        # that has been still for a while is remembered (the verified stamp's racy rule).
        if intact and time.time_ns() - info.st_mtime_ns > _SETTLED_NS:
            self._builtins_hashed.add(key)
        return intact

    @contextlib.contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        if not self.root.is_dir():
            yield
            return
        import filelock

        from resnet_desktop.core.models import download

        lock = filelock.FileLock(download.lock_path(path))
        try:
            lock.acquire(timeout=1.0)
        except filelock.Timeout:
            raise ModelBusyError(f"{path.stem} is being downloaded; cancel the download first") \
                from None
        try:
            yield
        finally:
            lock.release()
