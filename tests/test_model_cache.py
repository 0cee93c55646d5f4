"""ModelCache: a temporary catalog whose URLs point at a real local HTTP server."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from http_server import LocalHTTPServer

from resnet_desktop.core.foundation.cancel import CancelToken
from resnet_desktop.core.foundation.errors import (
    Cancelled,
    ChecksumError,
    OfflineError,
    ResNetDesktopError,
)
from resnet_desktop.core.models.cache import (
    BuiltinModelError,
    CachedModel,
    ModelBusyError,
    ModelCache,
)
from resnet_desktop.core.models.catalog import Catalog, load_catalog
from resnet_desktop.core.models.download import partial_path
from resnet_desktop.core.models.verified_stamp import stamp_matches, stamp_path, write_stamp

pytest_plugins = ["http_server"]

REPO = Path(__file__).resolve().parents[1]
DATA = {"tiny-a": os.urandom(200_000), "tiny-b": os.urandom(120_000)}


def write_catalog(path: Path, urls: dict[str, list[str]]) -> Path:
    models = [
        {"id": model_id, "name": model_id.title(), "family": "test", "bytes": len(data),
         "sha256": hashlib.sha256(data).hexdigest(), "urls": urls.get(model_id, []),
         "labels": "imagenet", "input_size": 224, "resize": 256, "layout": "NCHW",
         "color": "RGB", "output": "logits"}
        for model_id, data in DATA.items()
    ]
    path.write_text(json.dumps({"schema": 1, "default": "tiny-a", "models": models}),
                    encoding="utf-8")
    return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache folder through RESNET_DESKTOP_CACHE; no mirror, not offline."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("RESNET_DESKTOP_CACHE", str(cache))
    monkeypatch.delenv("RESNET_DESKTOP_MIRROR", raising=False)
    monkeypatch.delenv("RESNET_DESKTOP_OFFLINE", raising=False)
    return cache


@pytest.fixture
def catalog(http_server: LocalHTTPServer, tmp_path: Path, env: Path) -> Catalog:
    for model_id, data in DATA.items():
        http_server.add(f"/zoo/{model_id}.onnx", data)
    urls = {m: [http_server.url(f"/zoo/{m}.onnx")] for m in DATA}
    return load_catalog(write_catalog(tmp_path / "models.json", urls))


def make_cache(catalog: Catalog, **kwargs) -> ModelCache:
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("timeout", 5)
    return ModelCache(catalog=catalog, **kwargs)


def test_ensure_downloads_into_the_cache_dir(catalog: Catalog, env: Path) -> None:
    cache = make_cache(catalog)
    assert cache.root == env / "models"
    assert cache.path_for("tiny-a") == env / "models" / "tiny-a.onnx"
    assert not cache.is_cached("tiny-a")
    path = cache.ensure("tiny-a")
    assert path == env / "models" / "tiny-a.onnx"
    assert path.read_bytes() == DATA["tiny-a"]
    assert cache.is_cached("tiny-a") and not cache.is_cached("tiny-b")
    assert cache.ensure("tiny-a") == path


def test_ensure_a_cached_model_makes_no_request(catalog: Catalog,
                                                http_server: LocalHTTPServer) -> None:
    cache = make_cache(catalog)
    cache.ensure("tiny-b")
    make_cache(catalog).ensure("tiny-b")
    assert http_server.hits("/zoo/tiny-b.onnx") == 1


def test_catalog_from_environment(http_server: LocalHTTPServer, tmp_path: Path, env: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    http_server.add("/tiny-a.onnx", DATA["tiny-a"])
    path = write_catalog(tmp_path / "env-models.json",
                         {"tiny-a": [http_server.url("/tiny-a.onnx")]})
    monkeypatch.setenv("RESNET_DESKTOP_CATALOG", str(path))
    cache = ModelCache(backoff=0.01)
    assert cache.ensure("tiny-a").read_bytes() == DATA["tiny-a"]


def test_progress_reaches_the_total(catalog: Catalog) -> None:
    calls: list[tuple[int, int]] = []
    make_cache(catalog).ensure("tiny-a", progress=lambda d, t, r: calls.append((d, t)))
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert calls[-1] == (len(DATA["tiny-a"]), len(DATA["tiny-a"]))


def test_resume_across_a_process_restart(catalog: Catalog, http_server: LocalHTTPServer) -> None:
    route = http_server.route("/zoo/tiny-a.onnx")
    route.chunk_size, route.delay = 10_000, 0.02
    cancel = CancelToken()

    def progress(done: int, total: int, rate: float) -> None:
        if done >= 50_000:
            cancel.cancel()

    first = make_cache(catalog)
    with pytest.raises(Cancelled):
        first.ensure("tiny-a", progress=progress, cancel=cancel)
    kept = first.partial_bytes("tiny-a")
    assert 50_000 <= kept < len(DATA["tiny-a"])
    assert not first.is_cached("tiny-a") and first.list() == []

    route.delay = 0
    second = make_cache(catalog)  # a new instance, as after restarting the app
    assert second.partial_bytes("tiny-a") == kept
    assert second.ensure("tiny-a").read_bytes() == DATA["tiny-a"]
    last = http_server.requests_for("/zoo/tiny-a.onnx")[-1]
    assert last.headers["range"] == f"bytes={kept}-"
    assert "if-range" in last.headers
    assert second.partial_bytes("tiny-a") == 0


def test_mirror_is_tried_first(catalog: Catalog, http_server: LocalHTTPServer,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    http_server.add("/mirror/tiny-a.onnx", DATA["tiny-a"])
    monkeypatch.setenv("RESNET_DESKTOP_MIRROR", http_server.url("/mirror/"))
    cache = make_cache(catalog)
    assert cache.urls_for("tiny-a") == [http_server.url("/mirror/tiny-a.onnx"),
                                        http_server.url("/zoo/tiny-a.onnx")]
    cache.ensure("tiny-a")
    assert http_server.hits("/mirror/tiny-a.onnx") == 1
    assert http_server.hits("/zoo/tiny-a.onnx") == 0


def test_bad_mirror_falls_back_to_the_catalog(catalog: Catalog, http_server: LocalHTTPServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    http_server.add("/mirror/tiny-a.onnx", DATA["tiny-a"], serve="wrong")
    monkeypatch.setenv("RESNET_DESKTOP_MIRROR", http_server.url("/mirror"))
    cache = make_cache(catalog)
    assert cache.ensure("tiny-a").read_bytes() == DATA["tiny-a"]
    assert http_server.hits("/mirror/tiny-a.onnx") == 1
    assert not partial_path(cache.path_for("tiny-a")).exists()


def test_every_source_bad(catalog: Catalog, http_server: LocalHTTPServer,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    http_server.add("/mirror/tiny-a.onnx", DATA["tiny-a"], serve="lfs")
    http_server.route("/zoo/tiny-a.onnx").serve = "wrong"
    monkeypatch.setenv("RESNET_DESKTOP_MIRROR", http_server.url("/mirror"))
    cache = make_cache(catalog)
    with pytest.raises(ChecksumError) as info:
        cache.ensure("tiny-a")
    message = str(info.value)
    assert "tiny-a.onnx" in message
    assert http_server.url("/mirror/tiny-a.onnx") + ": served a Git LFS pointer" in message
    assert http_server.url("/zoo/tiny-a.onnx") + ": served bytes with SHA-256" in message
    assert cache.partial_bytes("tiny-a") == 0 and not cache.is_cached("tiny-a")


def test_offline_mode(catalog: Catalog, http_server: LocalHTTPServer,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    cache = make_cache(catalog)
    cache.ensure("tiny-b")
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", "1")
    before = len(http_server.requests)
    with pytest.raises(OfflineError) as info:
        cache.ensure("tiny-a")
    assert "model tiny-a is not cached and offline mode is on" in str(info.value)
    assert "unset RESNET_DESKTOP_OFFLINE" in str(info.value)
    assert cache.ensure("tiny-b") == cache.path_for("tiny-b")  # cached models still work
    assert len(http_server.requests) == before


def test_unknown_model(catalog: Catalog) -> None:
    cache = make_cache(catalog)
    with pytest.raises(ResNetDesktopError, match=r"unknown model 'nope'; known models: "
                                                 r"tiny-a, tiny-b"):
        cache.ensure("nope")
    for call in (cache.path_for, cache.is_cached, cache.remove, cache.verify,
                 cache.partial_bytes):
        with pytest.raises(ResNetDesktopError, match="nope"):
            call("nope")


def test_list_remove_and_verify(catalog: Catalog) -> None:
    cache = make_cache(catalog)
    assert cache.list() == []
    a, b = cache.ensure("tiny-a"), cache.ensure("tiny-b")
    (cache.root / "stranger.onnx").write_bytes(b"?")
    (cache.root / "tiny-c.onnx.partial").write_bytes(b"?")
    assert cache.list() == [CachedModel("tiny-a", a, len(DATA["tiny-a"])),
                            CachedModel("tiny-b", b, len(DATA["tiny-b"]))]
    assert cache.verify("tiny-a") is True

    with open(b, "r+b") as handle:  # same size, different bytes: only hashing can tell
        handle.write(b"\0" * 1000)
    assert cache.is_cached("tiny-b")
    assert cache.verify("tiny-b") is False
    assert not b.exists() and not cache.is_cached("tiny-b")
    assert cache.verify("tiny-b") is False

    assert cache.remove("tiny-a") is True
    assert not a.exists()
    assert cache.remove("tiny-a") is False
    assert cache.list() == []


def test_remove_deletes_a_partial(catalog: Catalog, http_server: LocalHTTPServer) -> None:
    route = http_server.route("/zoo/tiny-a.onnx")
    route.drop_after, route.drop_times, route.honor_range = 30_000, None, False
    cache = make_cache(catalog, attempts=1)
    with pytest.raises(ResNetDesktopError):
        cache.ensure("tiny-a")
    assert cache.partial_bytes("tiny-a") == 30_000
    assert cache.remove("tiny-a") is True
    assert cache.partial_bytes("tiny-a") == 0
    assert not partial_path(cache.path_for("tiny-a")).exists()


def test_remove_refuses_during_a_download(catalog: Catalog,
                                          http_server: LocalHTTPServer) -> None:
    route = http_server.route("/zoo/tiny-a.onnx")
    route.chunk_size, route.delay = 10_000, 0.1
    cache = make_cache(catalog)
    cancel = CancelToken()
    started = threading.Event()
    worker = threading.Thread(target=lambda: _ensure_quietly(cache, cancel, started))
    worker.start()
    try:
        assert started.wait(5)
        with pytest.raises(ModelBusyError, match="being downloaded"):
            cache.remove("tiny-a")
    finally:
        cancel.cancel()
        worker.join(5)


def _ensure_quietly(cache: ModelCache, cancel: CancelToken, started: threading.Event) -> None:
    with contextlib.suppress(Cancelled):
        cache.ensure("tiny-a", progress=lambda *_: started.set(), cancel=cancel)


def test_two_processes_and_a_thread_download_once(catalog: Catalog, env: Path,
                                                  http_server: LocalHTTPServer) -> None:
    route = http_server.route("/zoo/tiny-a.onnx")
    route.chunk_size, route.delay = 20_000, 0.06  # ~0.6 s: the downloads overlap
    script = ("import sys\nfrom resnet_desktop.core.models.cache import ModelCache\n"
              "print(ModelCache(backoff=0.01).ensure('tiny-a'))\n")
    child_env = {**os.environ, "RESNET_DESKTOP_CATALOG": str(catalog.path),
                 "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                             os.environ.get("PYTHONPATH")]))}
    children = [subprocess.Popen([sys.executable, "-c", script], env=child_env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
    path = make_cache(catalog).ensure("tiny-a")
    outputs = [child.communicate(timeout=20) for child in children]
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert out.strip() == str(path)
    assert path.read_bytes() == DATA["tiny-a"]
    assert http_server.hits("/zoo/tiny-a.onnx") == 1
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "tiny-a.onnx", "tiny-a.onnx.lock", "tiny-a.onnx.verified.json"]


def _zero_4000_bytes(path: Path) -> None:
    """Same size, different bytes: what a stray write or a damaged copy leaves."""
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(50_000)
        handle.write(b"\0" * 4000)
    assert path.stat().st_size == size


def test_a_cached_model_changed_in_place_is_downloaded_again(catalog: Catalog,
                                                             http_server: LocalHTTPServer) -> None:
    cache = make_cache(catalog)
    path = cache.ensure("tiny-a")
    _zero_4000_bytes(path)
    assert make_cache(catalog).ensure("tiny-a").read_bytes() == DATA["tiny-a"]
    assert http_server.hits("/zoo/tiny-a.onnx") == 2


def test_a_damaged_cached_model_is_refused_offline(catalog: Catalog,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cache = make_cache(catalog)
    path = cache.ensure("tiny-a")
    _zero_4000_bytes(path)
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", "1")
    with pytest.raises(OfflineError, match=r"cached tiny-a\.onnx cannot be used \(its SHA-256 "
                                           r"no longer matches.*offline mode is on"):
        cache.ensure("tiny-a")
    assert not path.exists()


def test_a_touched_model_is_hashed_again_not_downloaded(catalog: Catalog,
                                                        http_server: LocalHTTPServer) -> None:
    cache = make_cache(catalog)
    path = cache.ensure("tiny-a")
    sha = catalog.get("tiny-a").sha256
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns - 10**9))
    assert not stamp_matches(path, sha)
    assert cache.ensure("tiny-a") == path
    assert http_server.hits("/zoo/tiny-a.onnx") == 1
    assert stamp_matches(path, sha)


def test_a_model_cached_before_stamps_is_hashed_once(catalog: Catalog,
                                                     http_server: LocalHTTPServer) -> None:
    cache = make_cache(catalog)
    path = cache.ensure("tiny-b")
    stamp_path(path).unlink()
    assert cache.ensure("tiny-b") == path
    assert stamp_path(path).is_file() and http_server.hits("/zoo/tiny-b.onnx") == 1


def test_a_stamp_as_new_as_its_file_is_not_trusted(tmp_path: Path) -> None:
    """A write in the same clock tick as the stamp would keep the mtime: re-hash (as git does)."""
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model")
    sha = hashlib.sha256(b"model").hexdigest()
    write_stamp(model, sha)
    mtime = model.stat().st_mtime_ns
    os.utime(stamp_path(model), ns=(mtime + 10**9, mtime + 10**9))
    assert stamp_matches(model, sha)
    os.utime(stamp_path(model), ns=(mtime, mtime))
    assert not stamp_matches(model, sha)


def test_verify_stamps_a_good_file_and_remove_deletes_the_stamp(catalog: Catalog) -> None:
    cache = make_cache(catalog)
    path = cache.ensure("tiny-a")
    stamp_path(path).unlink()
    assert cache.verify("tiny-a") is True
    assert stamp_path(path).is_file()
    assert cache.remove("tiny-a") is True
    assert not stamp_path(path).exists()


def test_a_damaged_builtin_model_is_refused(tmp_path: Path) -> None:
    bundled = tmp_path / "bundle" / "builtin.onnx"
    bundled.parent.mkdir()
    bundled.write_bytes(DATA["tiny-a"])
    path = write_catalog(tmp_path / "models.json", {})
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["models"][0]["file"] = "bundle/builtin.onnx"
    path.write_text(json.dumps(raw), encoding="utf-8")
    cache = make_cache(load_catalog(path))
    assert cache.ensure("tiny-a") == bundled
    _zero_4000_bytes(bundled)
    with pytest.raises(BuiltinModelError, match="missing or damaged"):
        cache.ensure("tiny-a")
