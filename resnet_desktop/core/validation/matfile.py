"""A small reader for MATLAB level-5 ``.mat`` files, enough for the ILSVRC2012 devkit's meta.mat.

The devkit's ``data/meta.mat`` holds the only map from its ``ILSVRC2012_ID`` class numbers
(used by ``ILSVRC2012_validation_ground_truth.txt``) to WordNet ids. Reading it with scipy
would make scipy a dependency of the app for one file; the format (MATLAB "Level 5 MAT-File
Format", compressed or not, either byte order) needs only this much: numeric arrays, char
arrays, cell arrays and struct arrays. Sparse, object and function handle arrays are refused.

Values come back as: numeric -> numpy array (shape as stored, column-major order kept);
char -> str (rows joined by newlines); cell -> list; struct -> list of dicts, one per element.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

_HEADER = 128
_MI_INT8, _MI_UINT8, _MI_INT16, _MI_UINT16, _MI_INT32, _MI_UINT32 = 1, 2, 3, 4, 5, 6
_MI_SINGLE, _MI_DOUBLE, _MI_INT64, _MI_UINT64 = 7, 9, 12, 13
_MI_MATRIX, _MI_COMPRESSED, _MI_UTF8, _MI_UTF16, _MI_UTF32 = 14, 15, 16, 17, 18
_NUMPY = {_MI_INT8: "i1", _MI_UINT8: "u1", _MI_INT16: "i2", _MI_UINT16: "u2", _MI_INT32: "i4",
          _MI_UINT32: "u4", _MI_SINGLE: "f4", _MI_DOUBLE: "f8", _MI_INT64: "i8", _MI_UINT64: "u8"}
_CELL, _STRUCT, _OBJECT, _CHAR, _SPARSE = 1, 2, 3, 4, 5
_NUMERIC_CLASSES = range(6, 16)
_MAX_DEPTH = 32


class MatFileError(ValueError):
    """The file is not a level-5 MAT file this reader understands."""


def read_mat(path: Path) -> dict[str, Any]:
    """Every named variable of a MAT file."""
    data = Path(path).read_bytes()
    endian = {b"IM": "<", b"MI": ">"}.get(data[126:128]) if len(data) >= _HEADER else None
    if endian is None:
        raise MatFileError("not a MATLAB MAT file")
    if struct.unpack_from(endian + "H", data, 124)[0] != 0x0100:
        raise MatFileError("a MATLAB 7.3 (HDF5) MAT file; save it with -v7 or older")
    variables: dict[str, Any] = {}
    offset = _HEADER
    while offset + 8 <= len(data):
        kind, _, body, offset = _element(data, offset, endian)
        if kind == _MI_COMPRESSED:
            try:
                inner = zlib.decompress(body)
            except zlib.error as exc:
                raise MatFileError(f"damaged compressed variable ({exc})") from None
            kind, _, body, _ = _element(inner, 0, endian)
        if kind == _MI_MATRIX:
            name, value = _matrix(body, endian, 0)
            variables[name] = value
    return variables


def _element(data: bytes, offset: int, endian: str) -> tuple[int, int, bytes, int]:
    """(type, size, body, next offset) of the data element at ``offset``."""
    if offset + 8 > len(data):
        raise MatFileError("truncated data element")
    first, second = struct.unpack_from(endian + "II", data, offset)
    if first >> 16:  # small data element: type and size share the first word
        kind, size = first & 0xFFFF, first >> 16
        if size > 4:
            raise MatFileError("bad small data element")
        return kind, size, data[offset + 4:offset + 4 + size], offset + 8
    kind, size = first, second
    start = offset + 8
    if start + size > len(data):
        raise MatFileError("truncated data element")
    body = data[start:start + size]
    end = start + size
    if kind != _MI_COMPRESSED:
        end += -size % 8
    return kind, size, body, end


def _numbers(kind: int, body: bytes, endian: str) -> np.ndarray:
    code = _NUMPY.get(kind)
    if code is None:
        raise MatFileError(f"unsupported numeric element type {kind}")
    return np.frombuffer(body, dtype=endian + code)


def _matrix(body: bytes, endian: str, depth: int) -> tuple[str, Any]:
    if depth > _MAX_DEPTH:
        raise MatFileError("variables nested too deeply")
    if not body:  # an empty matrix is written as a bare tag
        return "", np.zeros((0, 0))
    _, _, flags, offset = _element(body, 0, endian)
    mclass = _numbers(_MI_UINT32, flags[:8], endian)[0] & 0xFF
    kind, _, dims_body, offset = _element(body, offset, endian)
    dims = tuple(int(d) for d in _numbers(kind, dims_body, endian))
    _, _, name_body, offset = _element(body, offset, endian)
    name = name_body.decode("ascii", "replace")
    count = int(np.prod(dims)) if dims else 0
    if mclass == _CHAR:
        if count == 0:
            return name, ""
        kind, _, text, _ = _element(body, offset, endian)
        chars = _chars(kind, text, endian)
        rows = dims[0] if dims else 1
        grid = [chars[r::rows] for r in range(rows)]  # column-major storage
        return name, "\n".join(grid)
    if mclass in _NUMERIC_CLASSES:
        if count == 0:
            return name, np.zeros(dims)
        kind, _, real, _ = _element(body, offset, endian)
        values = _numbers(kind, real, endian)
        return name, values.reshape(dims, order="F")
    if mclass == _CELL:
        cells = []
        for _ in range(count):
            _, _, inner, offset = _element(body, offset, endian)
            cells.append(_matrix(inner, endian, depth + 1)[1])
        return name, cells
    if mclass == _STRUCT:
        kind, _, length_body, offset = _element(body, offset, endian)
        length = int(_numbers(kind, length_body, endian)[0])
        _, _, names_body, offset = _element(body, offset, endian)
        fields = [names_body[i:i + length].split(b"\0", 1)[0].decode("ascii", "replace")
                  for i in range(0, len(names_body), length)] if length else []
        records = []
        for _ in range(count):
            record = {}
            for field in fields:
                _, _, inner, offset = _element(body, offset, endian)
                record[field] = _matrix(inner, endian, depth + 1)[1]
            records.append(record)
        return name, records
    raise MatFileError(f"variable {name!r}: MATLAB class {mclass} is not supported")


def _chars(kind: int, body: bytes, endian: str) -> str:
    if kind in (_MI_UTF8, _MI_INT8, _MI_UINT8):
        return body.decode("utf-8", "replace")
    if kind in (_MI_UTF16, _MI_UINT16, _MI_INT16):
        return body.decode("utf-16-le" if endian == "<" else "utf-16-be", "replace")
    if kind == _MI_UTF32:
        return body.decode("utf-32-le" if endian == "<" else "utf-32-be", "replace")
    raise MatFileError(f"unsupported character element type {kind}")
