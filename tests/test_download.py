"""download_verified against a real local HTTP server (tests/http_server.py), no HTTP mocks."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import ssl
import threading
import time
from collections import namedtuple
from pathlib import Path

import filelock
import pytest
from http_server import LocalHTTPServer, corrupt

from resnet_desktop.core.foundation.cancel import CancelToken
from resnet_desktop.core.foundation.errors import (
    Cancelled,
    ChecksumError,
    DownloadError,
    OfflineError,
)
from resnet_desktop.core.models import download
from resnet_desktop.core.models.download import (
    discard_partial,
    download_verified,
    lock_path,
    partial_meta_path,
    partial_path,
    read_partial_meta,
    resumable_bytes,
)
from resnet_desktop.core.models.verified_stamp import stamp_path

pytest_plugins = ["http_server"]

SIZE = 300_000
Blob = namedtuple("Blob", "data sha")


def blob(seed: int = 0, size: int = SIZE) -> Blob:
    data = os.urandom(size) if seed < 0 else bytes(
        (i * 31 + seed * 7 + (i >> 8)) % 251 for i in range(size))
    return Blob(data, hashlib.sha256(data).hexdigest())


@pytest.fixture
def model() -> Blob:
    return blob(1)


@pytest.fixture
def dest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("RESNET_DESKTOP_OFFLINE", raising=False)
    return tmp_path / "models" / "m.onnx"


def fetch(urls: list[str], dest: Path, b: Blob, **kwargs) -> Path:
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("timeout", 5)
    return download_verified(urls, dest, size=len(b.data), sha256=b.sha, **kwargs)


def leftovers(dest: Path) -> list[str]:
    """Files beside ``dest`` other than its lock and its verified stamp."""
    kept = {lock_path(dest).name, stamp_path(dest).name}
    return sorted(p.name for p in dest.parent.iterdir() if p.name not in kept)


def test_plain_download_verifies_and_reports_progress(http_server: LocalHTTPServer, dest: Path,
                                                       model: Blob) -> None:
    http_server.add("/m.onnx", model.data)
    calls: list[tuple[int, int, float]] = []
    path = fetch([http_server.url("/m.onnx")], dest, model,
                 progress=lambda d, t, r: calls.append((d, t, r)))
    assert path == dest
    assert dest.read_bytes() == model.data
    assert leftovers(dest) == ["m.onnx"]
    done = [c[0] for c in calls]
    assert done == sorted(done) and done[-1] == SIZE
    assert all(t == SIZE and r >= 0 for _, t, r in calls)
    [request] = http_server.requests_for("/m.onnx")
    assert request.headers["user-agent"].startswith("ResNetDesktop/")
    assert "range" not in request.headers


def test_progress_is_throttled(http_server: LocalHTTPServer, dest: Path) -> None:
    b = blob(2, 2_000_000)
    http_server.add("/m.onnx", b.data, chunk_size=8192, delay=0.001)
    calls: list[int] = []
    started = time.monotonic()
    fetch([http_server.url("/m.onnx")], dest, b, progress=lambda d, t, r: calls.append(d))
    elapsed = time.monotonic() - started
    assert calls[-1] == len(b.data)
    assert len(calls) <= elapsed * 10 + 4  # ~10 a second plus the first and final ones


def test_resume_after_dropped_connection(http_server: LocalHTTPServer, dest: Path,
                                         model: Blob) -> None:
    route = http_server.add("/m.onnx", model.data, drop_after=100_000)
    fetch([http_server.url("/m.onnx")], dest, model)
    assert dest.read_bytes() == model.data
    first, second = http_server.requests_for("/m.onnx")
    etag = route.version(0)[1]
    assert "range" not in first.headers
    assert second.headers["range"] == "bytes=100000-"
    assert second.headers["if-range"] == etag
    assert second.status == 206
    assert leftovers(dest) == ["m.onnx"]


def test_resume_uses_last_modified_without_etag(http_server: LocalHTTPServer, dest: Path,
                                                model: Blob) -> None:
    route = http_server.add("/m.onnx", model.data, drop_after=50_000, send_etag=False)
    fetch([http_server.url("/m.onnx")], dest, model)
    second = http_server.requests_for("/m.onnx")[1]
    assert second.headers["if-range"] == route.version(0)[2]
    assert second.status == 206
    assert dest.read_bytes() == model.data


def test_no_validator_means_no_blind_resume(http_server: LocalHTTPServer, dest: Path,
                                            model: Blob) -> None:
    http_server.add("/m.onnx", model.data, drop_after=50_000, send_etag=False,
                    send_last_modified=False)
    fetch([http_server.url("/m.onnx")], dest, model)
    assert "range" not in http_server.requests_for("/m.onnx")[1].headers
    assert dest.read_bytes() == model.data


def test_server_ignoring_range_restarts_from_zero(http_server: LocalHTTPServer, dest: Path,
                                                  model: Blob) -> None:
    http_server.add("/m.onnx", model.data, drop_after=100_000, honor_range=False)
    fetch([http_server.url("/m.onnx")], dest, model)
    second = http_server.requests_for("/m.onnx")[1]
    assert second.headers["range"] == "bytes=100000-"
    assert second.status == 200
    assert dest.read_bytes() == model.data


def test_changed_file_restarts_instead_of_splicing(http_server: LocalHTTPServer,
                                                   dest: Path) -> None:
    old, new = blob(3), blob(4)
    route = http_server.add("/m.onnx", old.data, later_bodies=(new.data,), drop_after=100_000)
    fetch([http_server.url("/m.onnx")], dest, new)
    second = http_server.requests_for("/m.onnx")[1]
    assert second.headers["if-range"] == route.version(0)[1]
    assert second.status == 200  # If-Range named the old version
    assert dest.read_bytes() == new.data


def test_resumed_206_of_another_version_is_not_spliced(http_server: LocalHTTPServer,
                                                       dest: Path) -> None:
    """A server that ignores If-Range answers 206 with a new ETag: the client starts over."""
    old, new = blob(3), blob(4)
    http_server.add("/m.onnx", old.data, later_bodies=(new.data,), drop_after=100_000,
                    honor_if_range=False)
    fetch([http_server.url("/m.onnx")], dest, new)
    requests = http_server.requests_for("/m.onnx")
    assert [r.status for r in requests] == [200, 206, 200]
    assert "range" not in requests[2].headers
    assert dest.read_bytes() == new.data


def test_drops_every_time_still_finish_by_resuming(http_server: LocalHTTPServer, dest: Path,
                                                   model: Blob) -> None:
    http_server.add("/m.onnx", model.data, drop_after=40_000, drop_times=None)
    fetch([http_server.url("/m.onnx")], dest, model, attempts=2)
    assert dest.read_bytes() == model.data
    assert http_server.hits("/m.onnx") == 8  # ceil(300000 / 40000): each try adds bytes


def test_wrong_bytes_fall_back_to_next_url(http_server: LocalHTTPServer, dest: Path,
                                           model: Blob, caplog: pytest.LogCaptureFixture) -> None:
    http_server.add("/bad.onnx", model.data, serve="wrong")
    http_server.add("/good.onnx", model.data)
    bad, good = http_server.url("/bad.onnx"), http_server.url("/good.onnx")
    with caplog.at_level(logging.WARNING, logger="resnet_desktop.core.models.download"):
        fetch([bad, good], dest, model)
    assert dest.read_bytes() == model.data
    assert http_server.hits("/bad.onnx") == 1
    assert any(bad in r.getMessage() and "SHA-256" in r.getMessage() for r in caplog.records)


def test_wrong_bytes_delete_the_partial(http_server: LocalHTTPServer, dest: Path,
                                        model: Blob) -> None:
    http_server.add("/bad.onnx", model.data, serve="wrong")
    url = http_server.url("/bad.onnx")
    with pytest.raises(ChecksumError) as info:
        fetch([url], dest, model)
    assert url in str(info.value) and "SHA-256" in str(info.value)
    assert leftovers(dest) == []


def test_wrong_size_is_rejected(http_server: LocalHTTPServer, dest: Path, model: Blob) -> None:
    http_server.add("/short.onnx", model.data[:-10])
    url = http_server.url("/short.onnx")
    expected = re.escape(f"{url}: served {SIZE - 10} bytes, expected {SIZE}")
    with pytest.raises(ChecksumError, match=expected):
        fetch([url], dest, model)
    assert http_server.hits("/short.onnx") == 1
    assert leftovers(dest) == []


def test_short_body_without_length_runs_out_of_attempts(http_server: LocalHTTPServer,
                                                         dest: Path, model: Blob) -> None:
    """Each try restarts at the same byte (resume gets 416), so tries are used up, not looped."""
    http_server.add("/short.onnx", model.data[:-10], send_length=False)
    with pytest.raises(DownloadError, match="gave up after 3 attempts"):
        fetch([http_server.url("/short.onnx")], dest, model, attempts=3)
    assert http_server.hits("/short.onnx") <= 6


def test_too_long_body_without_length_is_rejected(http_server: LocalHTTPServer, dest: Path,
                                                  model: Blob) -> None:
    http_server.add("/long.onnx", model.data + b"extra", send_length=False)
    with pytest.raises(ChecksumError, match="more than the expected"):
        fetch([http_server.url("/long.onnx")], dest, model)
    assert leftovers(dest) == []


def test_lfs_pointer_rejected_at_once(http_server: LocalHTTPServer, dest: Path,
                                      model: Blob) -> None:
    http_server.add("/lfs.onnx", model.data, serve="lfs")
    url = http_server.url("/lfs.onnx")
    with pytest.raises(ChecksumError, match="Git LFS pointer") as info:
        fetch([url], dest, model)
    assert url in str(info.value)
    assert http_server.hits("/lfs.onnx") == 1
    assert leftovers(dest) == []


@pytest.mark.parametrize(("content_type", "chunk_size"),
                         [(None, 16384), ("application/octet-stream", 16384),
                          ("application/octet-stream", 3)])
def test_html_rejected_at_once(http_server: LocalHTTPServer, dest: Path, model: Blob,
                               content_type: str | None, chunk_size: int) -> None:
    """By Content-Type, and by sniffing ``<!DOCTYPE html`` when the type claims binary, even
    when the first bytes arrive in tiny pieces."""
    http_server.add("/page.onnx", model.data, serve="html", content_type=content_type,
                    chunk_size=chunk_size)
    url = http_server.url("/page.onnx")
    with pytest.raises(ChecksumError, match="HTML page") as info:
        fetch([url], dest, model)
    assert url in str(info.value)
    assert http_server.hits("/page.onnx") == 1
    assert leftovers(dest) == []


def test_every_source_failing_lists_each_url(http_server: LocalHTTPServer, dest: Path,
                                             model: Blob) -> None:
    http_server.add("/missing.onnx", model.data, status=404)
    http_server.add("/broken.onnx", model.data, status=500)
    http_server.add("/lfs.onnx", model.data, serve="lfs")
    urls = [http_server.url(p) for p in ("/missing.onnx", "/broken.onnx", "/lfs.onnx")]
    with pytest.raises(DownloadError) as info:
        fetch(urls, dest, model, attempts=3)
    message = str(info.value)
    assert not isinstance(info.value, ChecksumError)  # not every source served bad bytes
    assert "\n" not in message
    assert f"(1) {urls[0]}: HTTP 404" in message
    assert f"(2) {urls[1]}: HTTP 500" in message and "after 3 attempts" in message
    assert f"(3) {urls[2]}: served a Git LFS pointer" in message
    assert http_server.hits("/missing.onnx") == 1  # 4xx is not retried
    assert http_server.hits("/broken.onnx") == 3  # 5xx is
    assert leftovers(dest) == []


def test_every_source_serving_bad_bytes_is_a_checksum_error(http_server: LocalHTTPServer,
                                                            dest: Path, model: Blob) -> None:
    http_server.add("/a.onnx", model.data, serve="wrong")
    http_server.add("/b.onnx", model.data, serve="html")
    urls = [http_server.url("/a.onnx"), http_server.url("/b.onnx")]
    with pytest.raises(ChecksumError) as info:
        fetch(urls, dest, model)
    assert all(url in str(info.value) for url in urls)


@pytest.mark.parametrize("status", [500, 503, 408, 429])
def test_transient_errors_are_retried(http_server: LocalHTTPServer, dest: Path, model: Blob,
                                      status: int) -> None:
    http_server.add("/m.onnx", model.data, fail_first=[status, status])
    fetch([http_server.url("/m.onnx")], dest, model, attempts=3)
    assert dest.read_bytes() == model.data
    assert http_server.hits("/m.onnx") == 3


@pytest.mark.parametrize("status", [403, 404, 410])
def test_client_errors_are_not_retried(http_server: LocalHTTPServer, dest: Path, model: Blob,
                                       status: int) -> None:
    http_server.add("/m.onnx", model.data, status=status)
    with pytest.raises(DownloadError, match=f"HTTP {status}"):
        fetch([http_server.url("/m.onnx")], dest, model, attempts=3)
    assert http_server.hits("/m.onnx") == 1


def test_connection_refused_is_reported(dest: Path, model: Blob) -> None:
    with LocalHTTPServer() as server:
        url = server.url("/m.onnx")
    with pytest.raises(DownloadError, match="cannot connect"):
        fetch([url], dest, model, attempts=2)


def test_unsupported_scheme_is_reported(dest: Path, model: Blob) -> None:
    with pytest.raises(DownloadError, match=r"ftp://example\.invalid/m\.onnx: unsupported"):
        fetch(["ftp://example.invalid/m.onnx"], dest, model)


def test_file_url_works(tmp_path: Path, dest: Path, model: Blob) -> None:
    source = tmp_path / "share" / "m.onnx"
    source.parent.mkdir()
    source.write_bytes(model.data)
    fetch([source.as_uri()], dest, model)
    assert dest.read_bytes() == model.data


def test_missing_file_url_is_not_retried(tmp_path: Path, dest: Path, model: Blob) -> None:
    url = (tmp_path / "nowhere.onnx").as_uri()
    with pytest.raises(DownloadError, match="file not found") as info:
        fetch([url], dest, model, backoff=5)
    assert "attempts" not in str(info.value)


def test_cancel_keeps_a_resumable_partial(http_server: LocalHTTPServer, dest: Path,
                                          model: Blob) -> None:
    route = http_server.add("/m.onnx", model.data, chunk_size=10_000, delay=0.02)
    cancel = CancelToken()

    def progress(done: int, total: int, rate: float) -> None:
        if done >= 100_000:
            cancel.cancel()

    with pytest.raises(Cancelled):
        fetch([http_server.url("/m.onnx")], dest, model, progress=progress, cancel=cancel)
    assert not dest.exists()
    kept = resumable_bytes(dest, SIZE, model.sha)
    assert 100_000 <= kept < SIZE
    meta = read_partial_meta(dest)
    assert meta is not None and meta.etag == route.version(0)[1]

    route.delay = 0
    fetch([http_server.url("/m.onnx")], dest, model)
    last = http_server.requests_for("/m.onnx")[-1]
    assert last.headers["range"] == f"bytes={kept}-"
    assert dest.read_bytes() == model.data
    assert leftovers(dest) == ["m.onnx"]


def test_cancel_is_prompt_with_a_stalled_server(http_server: LocalHTTPServer, dest: Path,
                                                model: Blob) -> None:
    http_server.add("/m.onnx", model.data, chunk_size=50_000, delay=5.0)
    cancel = CancelToken()
    cancelled_at: list[float] = []

    def cancel_soon() -> None:
        cancelled_at.append(time.monotonic())
        cancel.cancel()

    timer = threading.Timer(0.3, cancel_soon)
    timer.start()
    with pytest.raises(Cancelled):
        fetch([http_server.url("/m.onnx")], dest, model, cancel=cancel, timeout=10)
    assert time.monotonic() - cancelled_at[0] < 0.5
    timer.join()


def test_cancel_interrupts_the_back_off(http_server: LocalHTTPServer, dest: Path,
                                        model: Blob) -> None:
    http_server.add("/m.onnx", model.data, status=503)
    cancel = CancelToken()
    timer = threading.Timer(0.2, cancel.cancel)
    timer.start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        fetch([http_server.url("/m.onnx")], dest, model, cancel=cancel, backoff=10)
    assert time.monotonic() - started < 1.0
    timer.join()


def test_cancel_while_waiting_for_the_lock(dest: Path, model: Blob) -> None:
    """Another downloader (a thread here) holds the lock; cancel stops the wait promptly."""
    dest.parent.mkdir(parents=True)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with filelock.FileLock(lock_path(dest)):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    cancel = CancelToken()
    timer = threading.Timer(0.2, cancel.cancel)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(Cancelled):
            fetch(["http://127.0.0.1:9/m.onnx"], dest, model, cancel=cancel)
        assert time.monotonic() - started < 1.0
    finally:
        release.set()
        holder.join()
        timer.join()


def test_model_file_never_visible_before_verification(http_server: LocalHTTPServer,
                                                      dest: Path, model: Blob) -> None:
    http_server.add("/m.onnx", model.data, chunk_size=20_000, delay=0.01)
    seen: list[tuple[bool, int]] = []

    def progress(done: int, total: int, rate: float) -> None:
        seen.append((dest.exists(), partial_path(dest).stat().st_size))

    fetch([http_server.url("/m.onnx")], dest, model, progress=progress)
    assert seen and not any(visible for visible, _ in seen)
    assert max(size for _, size in seen) == SIZE  # the last call had every byte, still partial
    assert dest.read_bytes() == model.data


def test_a_complete_partial_is_finished_without_the_network(http_server: LocalHTTPServer,
                                                             dest: Path, model: Blob) -> None:
    http_server.add("/m.onnx", model.data)
    url = http_server.url("/m.onnx")
    dest.parent.mkdir(parents=True)
    partial_path(dest).write_bytes(model.data)
    partial_meta_path(dest).write_text(
        f'{{"url": "{url}", "size": {SIZE}, "sha256": "{model.sha}", "etag": "\\"x\\""}}')
    fetch([url], dest, model)
    assert dest.read_bytes() == model.data
    assert http_server.hits("/m.onnx") == 0


def test_two_threads_download_once(http_server: LocalHTTPServer, dest: Path,
                                   model: Blob) -> None:
    http_server.add("/m.onnx", model.data, chunk_size=30_000, delay=0.02)
    results: list[Path | BaseException] = []

    def run() -> None:
        try:
            results.append(fetch([http_server.url("/m.onnx")], dest, model))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [dest, dest, dest]
    assert http_server.hits("/m.onnx") == 1
    assert dest.read_bytes() == model.data


def test_offline_touches_no_network(http_server: LocalHTTPServer, dest: Path, model: Blob,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    http_server.add("/m.onnx", model.data)
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", "1")
    with pytest.raises(OfflineError, match=r"offline mode is on.*RESNET_DESKTOP_OFFLINE"):
        fetch([http_server.url("/m.onnx")], dest, model)
    assert http_server.requests == []


@pytest.mark.parametrize(("value", "offline"), [("1", True), ("yes", True), ("0", False),
                                               ("", False), ("false", False)])
def test_offline_mode_values(monkeypatch: pytest.MonkeyPatch, value: str, offline: bool) -> None:
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", value)
    assert download.offline_mode() is offline


def test_not_enough_free_space_fails_before_downloading(http_server: LocalHTTPServer,
                                                        dest: Path, model: Blob,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    http_server.add("/m.onnx", model.data)
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(download.shutil, "disk_usage", lambda _: Usage(10**9, 10**9, 1000))
    with pytest.raises(DownloadError, match=r"not enough disk space in .*models: need 0\.3 MB"):
        fetch([http_server.url("/m.onnx")], dest, model)
    assert http_server.requests == []


def test_disk_full_while_writing(http_server: LocalHTTPServer, dest: Path, model: Blob,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC is simulated at the one write call: a real full disk needs a tiny filesystem."""
    http_server.add("/m.onnx", model.data)
    real_write = download._write_all
    written = [0]

    def write_until_full(out, data: bytes) -> None:
        if written[0] > 100_000:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written[0] += len(data)
        real_write(out, data)

    monkeypatch.setattr(download, "_write_all", write_until_full)
    with pytest.raises(DownloadError, match=r"not enough disk space in .*models: need 0\.3 MB"):
        fetch([http_server.url("/m.onnx"), http_server.url("/m.onnx")], dest, model)
    assert http_server.hits("/m.onnx") == 1  # a full disk is not a reason to try other sources
    assert leftovers(dest) == []


def test_discard_partial(dest: Path) -> None:
    dest.parent.mkdir(parents=True)
    assert discard_partial(dest) is False
    partial_path(dest).write_bytes(b"x")
    assert discard_partial(dest) is True
    assert not partial_path(dest).exists()


def test_ssl_context_verifies_certificates() -> None:
    context = download.ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_a_trickling_source_is_given_up_for_the_next(http_server: LocalHTTPServer, dest: Path,
                                                     model: Blob,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    http_server.add("/slow.onnx", model.data, chunk_size=100, delay=0.02)  # about 5 kB/s
    http_server.add("/m.onnx", model.data)
    with caplog.at_level(logging.WARNING, logger="resnet_desktop"):
        fetch([http_server.url("/slow.onnx"), http_server.url("/m.onnx")], dest, model,
              min_rate=50_000, rate_window=0.3)
    assert dest.read_bytes() == model.data
    assert http_server.hits("/slow.onnx") == 1  # given up, not retried
    assert "too slow" in caplog.text and "below the minimum of 50 kB/s" in caplog.text


def test_a_source_trickling_its_first_bytes_is_given_up(http_server: LocalHTTPServer,
                                                        dest: Path, model: Blob) -> None:
    http_server.add("/slow.onnx", model.data, chunk_size=1, delay=0.05)
    with pytest.raises(DownloadError, match=r"slow\.onnx: too slow: \d+ bytes in \d+ s"):
        fetch([http_server.url("/slow.onnx")], dest, model, min_rate=1000, rate_window=0.3)


def test_a_redirect_to_ftp_is_refused_naming_it(http_server: LocalHTTPServer, dest: Path,
                                                model: Blob) -> None:
    http_server.add("/r.onnx", b"", redirect="ftp://127.0.0.1/m.onnx")
    with pytest.raises(DownloadError, match=r"redirected to ftp://127\.0\.0\.1/m\.onnx, which is "
                                            r"not an http or https URL; refused"):
        fetch([http_server.url("/r.onnx")], dest, model)
    assert http_server.hits("/r.onnx") == 1


def test_an_http_redirect_is_followed(http_server: LocalHTTPServer, dest: Path,
                                      model: Blob) -> None:
    http_server.add("/r.onnx", b"", redirect="/m.onnx")
    http_server.add("/m.onnx", model.data)
    fetch([http_server.url("/r.onnx")], dest, model)
    assert dest.read_bytes() == model.data


def test_a_resumed_download_with_the_wrong_sha256_restarts_once_from_zero(
        http_server: LocalHTTPServer, dest: Path, model: Blob) -> None:
    route = http_server.add("/m.onnx", model.data)
    url = http_server.url("/m.onnx")
    kept = 100_000
    dest.parent.mkdir(parents=True)
    partial_path(dest).write_bytes(corrupt(model.data[:kept]))  # bad bytes from an earlier run
    partial_meta_path(dest).write_text(json.dumps(
        {"url": url, "size": len(model.data), "sha256": model.sha, "etag": route.version(0)[1],
         "last_modified": None}), encoding="utf-8")
    fetch([url], dest, model)
    assert dest.read_bytes() == model.data
    resumed, restarted = http_server.requests_for("/m.onnx")
    assert resumed.headers["range"] == f"bytes={kept}-"
    assert "range" not in restarted.headers


def test_a_fresh_download_with_the_wrong_sha256_is_not_repeated(http_server: LocalHTTPServer,
                                                                dest: Path, model: Blob) -> None:
    http_server.add("/m.onnx", model.data, serve="wrong")
    with pytest.raises(ChecksumError):
        fetch([http_server.url("/m.onnx")], dest, model)
    assert http_server.hits("/m.onnx") == 1


def test_no_resolvable_source_says_offline_once(dest: Path, model: Blob,
                                                monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    urls = ["https://zoo.invalid/m.onnx", "https://mirror.invalid/m.onnx",
            "http://backup.invalid/m.onnx"]
    with caplog.at_level(logging.WARNING, logger="resnet_desktop"), \
            pytest.raises(OfflineError) as info:
        fetch(urls, dest, model, backoff=5)
    message = str(info.value)
    assert "you appear to be offline" in message
    assert "\n" not in message and ".invalid" not in message
    assert caplog.records == []


def test_an_unresolvable_source_among_others_is_listed(http_server: LocalHTTPServer,
                                                       dest: Path, model: Blob) -> None:
    http_server.add("/m.onnx", model.data, status=404)
    with pytest.raises(DownloadError) as info:
        fetch(["https://zoo.invalid/m.onnx", http_server.url("/m.onnx")], dest, model)
    assert not isinstance(info.value, OfflineError)
    assert "zoo.invalid/m.onnx: cannot resolve the host name" in str(info.value)
    assert "HTTP 404" in str(info.value)
