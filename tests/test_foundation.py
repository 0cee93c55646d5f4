"""The small helpers the whole core shares: hashing, size texts, error texts."""

from __future__ import annotations

import errno
import hashlib
import os

import pytest

from resnet_desktop.core.foundation.cancel import NEVER, CancelToken
from resnet_desktop.core.foundation.errors import Cancelled, first_line, write_error_reason
from resnet_desktop.core.foundation.formatting import format_bytes
from resnet_desktop.core.foundation.hashing import sha256_file, sha256_file_remembered


def test_sha256_of_a_file_larger_than_one_chunk(tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_hashing_stops_when_cancelled(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"x" * 10)
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        sha256_file(path, cancel)


def test_a_remembered_hash_follows_the_file_when_it_changes(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"first")
    assert sha256_file_remembered(path) == hashlib.sha256(b"first").hexdigest()
    path.write_bytes(b"second, longer")
    assert sha256_file_remembered(path) == hashlib.sha256(b"second, longer").hexdigest()


@pytest.mark.parametrize("count, text", [
    (None, "unknown"), (0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (46_820_737, "46.8 MB"),
    (3_200_000_000, "3.2 GB"), (4_500_000_000_000, "4500.0 GB"),
])
def test_format_bytes(count, text):
    assert format_bytes(count) == text


@pytest.mark.parametrize("code, reason", [
    (errno.ENOSPC, "the disk is full"), (errno.EACCES, "permission denied"),
    (errno.EROFS, "the disk is read-only"), (errno.EISDIR, "it is a folder"),
])
def test_write_errors_in_plain_words(code, reason):
    assert write_error_reason(OSError(code, os.strerror(code))) == reason


def test_an_unknown_write_error_keeps_the_system_text():
    assert write_error_reason(OSError(errno.EIO, "Input/output error")) == "Input/output error"


def test_first_line_of_a_long_library_error():
    assert first_line(RuntimeError("bad graph\n  at node 12\n  ...")) == "bad graph"
    assert first_line(ValueError("")) == "ValueError"


def test_the_shared_never_token_cannot_be_cancelled():
    with pytest.raises(TypeError, match="cannot be cancelled"):
        NEVER.cancel()
    assert not NEVER.cancelled
    NEVER.raise_if_cancelled()
    fresh = CancelToken()
    fresh.cancel()
    assert fresh.cancelled
