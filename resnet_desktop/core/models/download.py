"""Verified, resumable downloads of large files (the models), independent of the catalog.

A download streams into ``<dest>.partial`` beside a small ``<dest>.partial.json`` that records
the source URL, its validator (ETag or Last-Modified) and the expected size and SHA-256. After a
dropped connection, or in a later process, the download resumes with ``Range`` plus ``If-Range``:
a server whose file changed answers 200 with the whole new file, and the partial restarts from
zero instead of splicing two versions together. Only when the size and SHA-256 match is the
partial moved onto ``dest`` with ``os.replace``, so ``dest`` is never half-written, and a
verified stamp (:mod:`.verified_stamp`) is written beside it: a file found later whose stamp no
longer matches is hashed again, and one whose bytes changed is downloaded again, never used.

A source is given up (and the next one tried) when it is slower than ``min_rate`` bytes a second
over a ``rate_window``, when it redirects anywhere but to an http or https URL, or when its
bytes are wrong. A resumed download whose result has the wrong SHA-256 starts once more from
zero before the source is blamed: the bytes kept from before may have been the bad ones. When no
source's host name resolves, the one message is that the computer appears to be offline.

``<dest>.lock`` (a :class:`filelock.FileLock`) serialises downloaders of the same file across
threads and processes; the second one waits and then finds the verified file.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import logging
import os
import re
import shutil
import socket
import ssl
import stat
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any, BinaryIO

import filelock

from resnet_desktop import __version__
from resnet_desktop.core.foundation.atomic import atomic_write_text
from resnet_desktop.core.foundation.cancel import NEVER, CancelToken
from resnet_desktop.core.foundation.errors import (
    Cancelled,
    ChecksumError,
    DownloadError,
    OfflineError,
    write_error_reason,
)
from resnet_desktop.core.foundation.hashing import sha256_file
from resnet_desktop.core.foundation.regular_file import describe_mode
from resnet_desktop.core.models.download_limits import (
    DEFAULT_ATTEMPTS,
    DEFAULT_BACKOFF_S,
    DEFAULT_MIN_RATE,
    DEFAULT_RATE_WINDOW_S,
    DEFAULT_TIMEOUT_S,
)
from resnet_desktop.core.models.verified_stamp import remove_stamp, stamp_matches, write_stamp

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, float], None]
"""``progress(done_bytes, total_bytes, rate_bytes_per_s)``; ``done`` only goes down when a
source has to restart from zero."""

USER_AGENT = f"ResNetDesktop/{__version__}"
CHUNK_SIZE = 128 * 1024
PROGRESS_INTERVAL_S = 0.1
OFFLINE_ENV = "RESNET_DESKTOP_OFFLINE"

_SCHEMES = ("http://", "https://", "file://")
_REDIRECT_SCHEMES = ("http", "https")
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_SNIFF_BYTES = 512


def offline_mode() -> bool:
    """True when ``RESNET_DESKTOP_OFFLINE`` is set to anything but empty, 0, false, no or off."""
    value = os.environ.get(OFFLINE_ENV, "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def offline_error(what: str) -> OfflineError:
    return OfflineError(
        f"{what} is not cached and offline mode is on ({OFFLINE_ENV}="
        f"{os.environ.get(OFFLINE_ENV, '')}); unset {OFFLINE_ENV} or set it to 0 to download it"
    )


def partial_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".partial")


def partial_meta_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".partial.json")


def lock_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".lock")


@dataclass(frozen=True)
class PartialMeta:
    """What a resumed request needs to know about the bytes already on disk."""

    url: str
    size: int
    sha256: str
    etag: str | None = None
    last_modified: str | None = None

    @property
    def validator(self) -> str | None:
        """The If-Range value: a strong ETag, else Last-Modified (weak ETags are not allowed)."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified


def read_partial_meta(dest: Path) -> PartialMeta | None:
    try:
        raw = json.loads(partial_meta_path(dest).read_text(encoding="utf-8"))
        return PartialMeta(
            url=str(raw["url"]), size=int(raw["size"]), sha256=str(raw["sha256"]).lower(),
            etag=raw.get("etag"), last_modified=raw.get("last_modified"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_partial_meta(dest: Path, meta: PartialMeta) -> None:
    data = {"url": meta.url, "size": meta.size, "sha256": meta.sha256, "etag": meta.etag,
            "last_modified": meta.last_modified}
    atomic_write_text(partial_meta_path(dest), json.dumps(data, indent=2) + "\n")


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def resumable_bytes(dest: Path, size: int, sha256: str) -> int:
    """Bytes of ``dest``'s partial download that a new download of (size, sha256) can keep."""
    meta = read_partial_meta(dest)
    if meta is None or meta.size != size or meta.sha256 != sha256.lower():
        return 0
    done = _file_size(partial_path(dest))
    return done if done <= size else 0


def discard_partial(dest: Path) -> bool:
    """Delete ``dest``'s partial file and its metadata; True if there was anything."""
    found = False
    for path in (partial_path(dest), partial_meta_path(dest)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            found = True
    return found


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """The OS certificate store (truststore), so corporate TLS-inspecting proxies work.

    Falls back to Python's default verified context; certificate checks are never disabled.
    """
    try:
        import truststore

        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    except Exception as exc:  # any failure of the OS store: fall back, still verifying
        logger.warning("OS certificate store unavailable (%s); using Python's defaults", exc)
        return ssl.create_default_context()


class _RefusedRedirect(Exception):
    """A server redirected to a URL that is not http or https (``ftp://``, ``file://``)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """urllib follows redirects to ``ftp://`` too; a model comes only over http or https."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        scheme = urllib.parse.urlsplit(urllib.parse.urljoin(req.full_url, newurl)).scheme
        if scheme.lower() not in _REDIRECT_SCHEMES:
            raise _RefusedRedirect(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    # build_opener keeps its default ProxyHandler, which reads *_proxy / no_proxy from the env
    # now: built per request so a changed proxy setting applies to the next download.
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=ssl_context()),
                                       _HttpOnlyRedirects())


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f}"


def _disk_full(directory: Path, need: int) -> DownloadError:
    return DownloadError(f"not enough disk space in {directory}: need {_mb(need)} MB; "
                         "free some space and try again")


def _check_free_space(directory: Path, need: int) -> None:
    if need <= 0:
        return
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        return
    if free < need:
        raise DownloadError(f"not enough disk space in {directory}: need {_mb(need)} MB, "
                            f"only {_mb(free)} MB free; free some space and try again")


class _SourceFailure(Exception):
    """One attempt at one URL failed; ``retry`` says whether the same URL may be tried again."""

    def __init__(self, reason: str, *, retry: bool = False, bad_bytes: bool = False,
                 unresolved: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.bad_bytes = bad_bytes
        self.unresolved = unresolved
        """The host name did not resolve: with every source like that, the user is offline."""


def _sniff(first: bytes) -> None:
    head = first[:_SNIFF_BYTES].lstrip().lower()
    if head.startswith(b"version https://git-lfs"):
        raise _SourceFailure("served a Git LFS pointer file instead of the model (the file was "
                             "not fetched through Git LFS)", bad_bytes=True)
    if head.startswith((b"<!doctype html", b"<html")):
        raise _SourceFailure("served an HTML page instead of the model (an error or login "
                             "page?)", bad_bytes=True)


def _http_reason(exc: urllib.error.HTTPError) -> str:
    return f"HTTP {exc.code} {exc.reason}".rstrip()


class _Progress:
    """Throttles the caller's callback to about ten calls a second plus the final one."""

    def __init__(self, callback: ProgressCallback | None, total: int) -> None:
        self._callback = callback
        self._total = total
        self._last = 0.0
        self._start = time.monotonic()
        self._start_done = 0

    def restart(self, done: int) -> None:
        self._start = time.monotonic()
        self._start_done = done

    def __call__(self, done: int, *, force: bool = False) -> None:
        if self._callback is None:
            return
        now = time.monotonic()
        if not force and done < self._total and now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        elapsed = now - self._start
        rate = (done - self._start_done) / elapsed if elapsed > 0 else 0.0
        self._callback(done, self._total, max(rate, 0.0))


@contextlib.contextmanager
def _shutdown_on_cancel(response: Any, cancel: CancelToken) -> Iterator[None]:
    """Wake a read blocked on a stalled server when ``cancel`` fires.

    A blocked ``recv`` only returns on data, timeout or shutdown, so a watcher thread shuts the
    socket down. It works on a duplicate descriptor, which stays valid even if the response is
    closed first, so it can never hit an unrelated file that reused the number.
    """
    if cancel is NEVER:
        yield
        return
    try:
        fd = os.dup(response.fileno())
    except (OSError, AttributeError, ValueError):
        yield
        return
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        os.close(fd)
        yield  # not a socket (a file:// URL): reads cannot stall
        return
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if cancel.wait(0.05):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                return

    watcher = threading.Thread(target=watch, name="download-cancel-watcher", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        sock.close()


class _RateGuard:
    """Gives a source up when fewer than ``min_rate * window`` bytes arrive in any window.

    The per-read timeout alone lets a server that sends a byte every few seconds hold a
    download for ever.
    """

    def __init__(self, min_rate: float, window: float) -> None:
        self._min_rate = min_rate
        self._window = window
        self._start = time.monotonic()
        self._start_done = 0

    def restart(self, done: int) -> None:
        self._start = time.monotonic()
        self._start_done = done

    def check(self, done: int) -> None:
        now = time.monotonic()
        if now - self._start < self._window:
            return
        got = done - self._start_done
        if got < self._min_rate * self._window:
            raise _SourceFailure(
                f"too slow: {got} bytes in {now - self._start:.0f} s, below the minimum of "
                f"{self._min_rate / 1000:g} kB/s; gave up after {done} of the bytes")
        self.restart(done)


@dataclass
class _Job:
    url: str
    dest: Path
    size: int
    sha256: str
    cancel: CancelToken
    progress: _Progress
    timeout: float
    rate: _RateGuard
    resumed: bool = False
    """Bytes from an earlier request were kept: a wrong SHA-256 may be theirs."""


def _open(job: _Job, offset: int, meta: PartialMeta | None) -> Any:
    request = urllib.request.Request(job.url, headers={
        "User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    if offset and meta is not None and meta.validator:
        request.add_header("Range", f"bytes={offset}-")
        request.add_header("If-Range", meta.validator)
    try:
        return _opener().open(request, timeout=job.timeout)
    except _RefusedRedirect as exc:
        raise _SourceFailure(f"redirected to {exc.url}, which is not an http or https URL; "
                             "refused") from None
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416:
            discard_partial(job.dest)  # the next try starts from zero
            raise _SourceFailure(f"{_http_reason(exc)} for a resumed download", retry=True) \
                from None
        retry = exc.code >= 500 or exc.code in (408, 429)
        raise _SourceFailure(_http_reason(exc), retry=retry) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise _SourceFailure(f"certificate not trusted ({reason.verify_message})") from None
        if isinstance(reason, FileNotFoundError):  # a file:// source
            raise _SourceFailure(f"file not found ({reason.filename or job.url})") from None
        if isinstance(reason, socket.gaierror):
            raise _SourceFailure(f"cannot resolve the host name ({reason})",
                                 unresolved=True) from None
        raise _SourceFailure(f"cannot connect ({reason})", retry=True) from None
    except (TimeoutError, OSError, HTTPException) as exc:
        raise _SourceFailure(f"cannot connect ({exc or type(exc).__name__})", retry=True) \
            from None


def _attempt(job: _Job) -> None:
    """One request: stream into the partial file from where it stops; raises on failure."""
    part = partial_path(job.dest)
    meta = read_partial_meta(job.dest)
    offset = resumable_bytes(job.dest, job.size, job.sha256)
    if meta is None or meta.url != job.url or not meta.validator:
        offset = 0  # bytes from another URL, or no validator: If-Range cannot protect a splice
    response = _open(job, offset, meta)
    with response, _shutdown_on_cancel(response, job.cancel):
        _stream(job, response, part, offset)


def _stream(job: _Job, response: Any, part: Path, offset: int) -> None:
    status = getattr(response, "status", None) or 200
    headers = response.headers
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type == "text/html":
        raise _SourceFailure("served an HTML page (Content-Type text/html) instead of the model",
                             bad_bytes=True)
    etag, last_modified = headers.get("ETag"), headers.get("Last-Modified")
    if status == 206:
        match = _CONTENT_RANGE.match(headers.get("Content-Range") or "")
        old = read_partial_meta(job.dest)
        if (match is None or int(match.group(1)) != offset
                or match.group(3) not in ("*", str(job.size))
                or (etag and old is not None and old.etag and etag != old.etag)):
            logger.info("%s: unusable partial response (%s); restarting from zero",
                        job.url, headers.get("Content-Range"))
            discard_partial(job.dest)
            raise _SourceFailure("partial response did not match the resumed file", retry=True)
        mode = "ab"
        job.resumed = True
    else:
        if offset:
            logger.info("%s: server sent the whole file (changed or no Range support); "
                        "restarting from zero", job.url)
        offset = 0
        mode = "wb"
    job.progress.restart(offset)
    job.rate.restart(offset)
    declared = headers.get("Content-Length")
    done = offset
    try:
        if mode == "wb":
            discard_partial(job.dest)
            _write_partial_meta(job.dest, PartialMeta(job.url, job.size, job.sha256, etag,
                                                      last_modified))
        with open(part, mode, buffering=0) as out:
            job.progress(done, force=True)
            if offset == 0:
                head = _read_head(job, response)
                _sniff(head)
                if declared and declared.isdigit() and int(declared) != job.size:
                    raise _SourceFailure(f"served {int(declared)} bytes, expected {job.size}",
                                         bad_bytes=True)
                done = _append(job, out, head, done)
            while chunk := _read_chunk(job, response, done):
                done = _append(job, out, chunk, done)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            discard_partial(job.dest)
            raise _disk_full(job.dest.parent, job.size - offset) from None
        raise DownloadError(f"cannot write {part}: {write_error_reason(exc)}") from None
    job.cancel.raise_if_cancelled()
    if done < job.size:
        raise _SourceFailure(f"connection closed after {done} of {job.size} bytes", retry=True)


def _read_chunk(job: _Job, response: Any, done: int) -> bytes:
    """Whatever has arrived, up to CHUNK_SIZE (``read1`` does not wait for a full chunk)."""
    job.cancel.raise_if_cancelled()
    try:
        chunk = response.read1(CHUNK_SIZE)
    except (TimeoutError, OSError, HTTPException) as exc:
        job.cancel.raise_if_cancelled()
        raise _SourceFailure(f"connection failed after {done} of {job.size} bytes "
                             f"({exc or type(exc).__name__})", retry=True) from None
    job.rate.check(done + len(chunk))
    return chunk


def _read_head(job: _Job, response: Any) -> bytes:
    """The body's first bytes, enough to recognise an LFS pointer or HTML page."""
    head = b""
    while len(head) < _SNIFF_BYTES and (chunk := _read_chunk(job, response, len(head))):
        head += chunk
    return head


def _append(job: _Job, out: BinaryIO, data: bytes, done: int) -> int:
    if done + len(data) > job.size:
        raise _SourceFailure(f"served more than the expected {job.size} bytes", bad_bytes=True)
    _write_all(out, data)
    done += len(data)
    job.progress(done)
    return done


def _write_all(out: BinaryIO, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = out.write(view)
        view = view[written or 0:]


def _finish(dest: Path, size: int, sha256: str, cancel: CancelToken) -> str | None:
    """Verify a complete partial and move it onto ``dest``; the failure reason, or None."""
    part = partial_path(dest)
    got_size = _file_size(part)
    if got_size != size:
        discard_partial(dest)
        return f"served {got_size} bytes, expected {size}"
    got = sha256_file(part, cancel)
    if got != sha256.lower():
        discard_partial(dest)
        return f"served bytes with SHA-256 {got[:16]}…, expected {sha256[:16]}…"
    try:
        with open(part, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(part, dest)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            discard_partial(dest)
            raise _disk_full(dest.parent, size) from None
        raise DownloadError(f"cannot move the download into {dest}: {write_error_reason(exc)}") \
            from None
    with contextlib.suppress(FileNotFoundError):
        partial_meta_path(dest).unlink()
    write_stamp(dest, sha256)
    return None


def _cached_problem(dest: Path, size: int, sha256: str, cancel: CancelToken) -> str | None:
    """None when ``dest`` is the verified file; else why not ("" when absent), once it is gone.

    A file whose stamp no longer matches is hashed again; one whose bytes changed is deleted.
    """
    try:
        info = os.stat(dest)
    except FileNotFoundError:
        remove_stamp(dest)
        return ""
    if not stat.S_ISREG(info.st_mode):
        problem = f"it is {describe_mode(info.st_mode)}, not a regular file"
    elif info.st_size != size:
        problem = f"it has {info.st_size} bytes, expected {size}"
    elif stamp_matches(dest, sha256):
        return None
    elif sha256_file(dest, cancel) == sha256:
        logger.info("%s changed on disk but its SHA-256 still matches", dest)
        write_stamp(dest, sha256)
        return None
    else:
        problem = "its SHA-256 no longer matches (the file was changed or damaged)"
    logger.warning("cached %s cannot be used: %s; removing it", dest, problem)
    remove_stamp(dest)
    try:
        dest.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise DownloadError(f"{dest} cannot be used ({problem}) and cannot be removed: "
                            f"{exc.strerror or exc}") from None
    return problem


def _try_url(job: _Job, attempts: int, backoff: float) -> str | None:
    """All attempts at one URL; returns None on success or raises _SourceFailure."""
    failures = 0
    best = resumable_bytes(job.dest, job.size, job.sha256)
    restarted = False
    while True:
        try:
            _attempt(job)
        except _SourceFailure as exc:
            if not exc.retry:
                if exc.bad_bytes:
                    discard_partial(job.dest)
                raise
            # Only a partial larger than ever before is progress: a server that ignores Range
            # and drops at the same byte every time must still run out of attempts.
            now = resumable_bytes(job.dest, job.size, job.sha256)
            grew = now > best
            best = max(best, now)
            failures = 0 if grew else failures + 1
            if failures >= attempts:
                raise _SourceFailure(f"{exc.reason} (gave up after {attempts} attempts)",
                                     retry=True) from None
            delay = 0.0 if grew else backoff * 2 ** (failures - 1)
            logger.info("%s: %s; retrying in %.1f s", job.url, exc.reason, delay)
            if delay and job.cancel.wait(delay):
                raise Cancelled() from None
            continue
        reason = _finish(job.dest, job.size, job.sha256, job.cancel)
        if reason is not None and job.resumed and not restarted:
            # _finish discarded the partial: the next attempt starts from zero.
            logger.info("%s: %s after resuming; downloading it again from the start",
                        job.url, reason)
            restarted, job.resumed, best = True, False, 0
            continue
        return reason


@dataclass(frozen=True)
class _Failure:
    url: str
    reason: str
    bad_bytes: bool = False
    unresolved: bool = False


def _acquire(lock: filelock.FileLock, cancel: CancelToken) -> None:
    try:
        lock.acquire(poll_interval=0.05, cancel_check=lambda: cancel.cancelled)
    except filelock.Timeout:
        raise Cancelled() from None


def download_verified(
    urls: Sequence[str],
    dest: Path,
    *,
    size: int,
    sha256: str,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF_S,
    min_rate: float = DEFAULT_MIN_RATE,
    rate_window: float = DEFAULT_RATE_WINDOW_S,
) -> Path:
    """Make ``dest`` a verified copy of the file (size, sha256), trying ``urls`` in order.

    Each URL gets up to ``attempts`` tries with back-off ``backoff * 2**n`` seconds (an attempt
    that added bytes does not use one up); every try resumes from the partial file on disk.
    Bad bytes (wrong size or SHA-256, a Git LFS pointer, an HTML page) discard the partial and
    move on to the next URL, as does an HTTP 4xx other than 408/429, a redirect to a scheme
    other than http or https, and a source slower than ``min_rate`` bytes a second over
    ``rate_window`` seconds. An existing ``dest`` is used only once verified (see
    :func:`_cached_problem`).

    Raises :class:`Cancelled` (the partial is kept for resuming), :class:`OfflineError` when
    offline mode is on or no source's host name resolves, :class:`ChecksumError` when every
    source served bad bytes, and :class:`DownloadError` otherwise, with every URL and its
    failure in the message.
    """
    dest = Path(dest)
    sha256 = sha256.lower()
    cancel = cancel or NEVER
    dest.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(lock_path(dest))
    _acquire(lock, cancel)
    try:
        problem = _cached_problem(dest, size, sha256, cancel)
        if problem is None:
            logger.debug("%s is already present and verified", dest)
            if progress is not None:
                progress(size, size, 0.0)
            return dest
        complete = _file_size(partial_path(dest)) == size and resumable_bytes(dest, size, sha256)
        if complete and _finish(dest, size, sha256, cancel) is None:
            return dest  # an earlier run was stopped between the last byte and the move
        if offline_mode():
            if problem:
                raise OfflineError(
                    f"the cached {dest.name} cannot be used ({problem}) and offline mode is on "
                    f"({OFFLINE_ENV}={os.environ.get(OFFLINE_ENV, '')}); unset {OFFLINE_ENV} "
                    "or set it to 0 to download it again")
            raise offline_error(dest.name)
        if not urls:
            raise DownloadError(f"{dest.name} has no download sources")
        _check_free_space(dest.parent, size - resumable_bytes(dest, size, sha256))
        failures: list[_Failure] = []
        for url in urls:
            if not url.lower().startswith(_SCHEMES):
                failures.append(_Failure(url, "unsupported URL scheme"))
                continue
            job = _Job(url, dest, size, sha256, cancel, _Progress(progress, size), timeout,
                       _RateGuard(min_rate, rate_window))
            try:
                reason = _try_url(job, attempts, backoff)
            except _SourceFailure as exc:
                failures.append(_Failure(url, exc.reason, exc.bad_bytes, exc.unresolved))
                # Unresolved names are summed up once below if every source fails that way.
                log = logger.info if exc.unresolved else logger.warning
                log("download of %s from %s failed: %s", dest.name, url, exc.reason)
                continue
            if reason is None:
                logger.info("downloaded %s from %s", dest.name, url)
                return dest
            failures.append(_Failure(url, reason, bad_bytes=True))
            logger.warning("download of %s from %s failed: %s", dest.name, url, reason)
        raise _all_failed(dest.name, failures)
    finally:
        lock.release()


def _all_failed(name: str, failures: list[_Failure]) -> DownloadError:
    if all(f.unresolved for f in failures):
        return OfflineError(f"could not download {name}: you appear to be offline (no source's "
                            "host name could be resolved); connect to the internet and try again")
    sources = "; ".join(f"({i}) {f.url}: {f.reason}" for i, f in enumerate(failures, 1))
    plural = "source" if len(failures) == 1 else f"{len(failures)} sources"
    message = f"could not download {name} from any of its {plural}: {sources}"
    if all(f.bad_bytes for f in failures):
        return ChecksumError(message)
    return DownloadError(message)
