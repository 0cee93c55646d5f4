"""Opening only regular files: FIFOs, devices, sockets and folders are refused without blocking."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from resnet_desktop.core.foundation.regular_file import (
    FileTooLargeError,
    NotRegularFileError,
    is_regular_file,
    open_regular,
    read_regular_bytes,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and sockets are POSIX")


def test_a_regular_file_opens_and_reads(tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(b"abc")
    with open_regular(path) as handle:
        assert handle.read() == b"abc"
    assert read_regular_bytes(path) == b"abc"
    assert is_regular_file(path)


@posix_only
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "x.jpg"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFileError, match=r"x\.jpg: is a named pipe \(FIFO\)"):
        open_regular(fifo)
    assert not is_regular_file(fifo)


@posix_only
def test_a_device_is_refused():
    with pytest.raises(NotRegularFileError, match="is a device"):
        open_regular("/dev/zero")


@posix_only
def test_a_socket_is_refused(tmp_path):
    path = tmp_path / "s.jpg"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(os.fspath(path))
        with pytest.raises(NotRegularFileError, match="is a socket"):
            open_regular(path)


def test_a_folder_is_refused(tmp_path):
    with pytest.raises((NotRegularFileError, IsADirectoryError, PermissionError)):
        open_regular(tmp_path)


@posix_only
def test_a_symlink_is_followed_unless_told_not_to(tmp_path):
    target = tmp_path / "target.xmp"
    target.write_bytes(b"<x/>")
    link = tmp_path / "link.xmp"
    link.symlink_to(target)
    assert read_regular_bytes(link) == b"<x/>"
    with pytest.raises(NotRegularFileError, match="symbolic link"):
        open_regular(link, follow_symlinks=False)


def test_a_missing_file_is_the_usual_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_regular(tmp_path / "missing.jpg")


def test_a_file_over_the_limit_is_refused(tmp_path):
    path = tmp_path / "big.xmp"
    path.write_bytes(b"x" * 101)
    assert read_regular_bytes(path, max_bytes=101) == b"x" * 101
    with pytest.raises(FileTooLargeError, match="101 bytes is more than the 100-byte limit"):
        read_regular_bytes(path, max_bytes=100)
