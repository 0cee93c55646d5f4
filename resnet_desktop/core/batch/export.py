"""CSV and JSON exports of a batch, written atomically and streamed record by record.

Both writers hold a temporary file beside the target and rename it over the target only when
the ``with`` block ends without an exception, so a crash, a full disk or a cancelled batch
never leaves a half-written export (and never destroys an older complete one).

CSV columns: ``path,label,probability,top_k,model,error,tags,category``; ``top_k`` is the top-k
as ``label:probability`` pairs joined by ``;``, ``category`` the image's curated category (see
:mod:`~resnet_desktop.core.keywords.rollup`) and ``tags`` the keywords the vocabulary chooses
(:class:`~resnet_desktop.core.keywords.policy.KeywordPolicy`): the category and the labels at or
above the minimum
confidence joined by ``;``.

JSON: ``{"provenance": {...}, "records": [...], "summary": {...}}`` (see :class:`Provenance`).

File names are kept exactly, even those that are not valid UTF-8 (Linux allows any bytes; Python
reads them with ``surrogateescape``, see :func:`os.fsdecode`): the CSV cell holds the name's own
bytes, as ``ls`` prints them, and the JSON holds a ``\\udcXX`` escape per such byte, so
``os.fsencode(value)`` gives the name back in both.

Spreadsheet formulas: a CSV text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading ``'`` (OWASP's advice against CSV injection), so a photo named
``=HYPERLINK(...).jpg`` is shown as text, never evaluated, by LibreOffice, Excel or Google
Sheets. The JSON export keeps such names unchanged.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from resnet_desktop import __version__
from resnet_desktop.core.batch.run import BatchProgress, BatchRecord
from resnet_desktop.core.foundation.atomic import atomic_open
from resnet_desktop.core.foundation.errors import ResNetDesktopError, write_error_reason
from resnet_desktop.core.keywords.policy import KeywordPolicy

CSV_COLUMNS = ("path", "label", "probability", "top_k", "model", "error", "tags", "category")

# UTF-8 *with* a byte-order mark: Excel on Windows and macOS decodes a double-clicked .csv as the
# ANSI code page unless it starts with a BOM (non-ASCII file names turn into mojibake), while
# LibreOffice Calc, Numbers, Google Sheets, pandas (encoding="utf-8-sig") and Python's csv module
# all read the BOM correctly. Rows end in CRLF as RFC 4180 says; both programs accept it.
CSV_ENCODING = "utf-8-sig"

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_SURROGATE = re.compile("[\ud800-\udfff]")


class ExportError(ResNetDesktopError):
    """An export could not be written; nothing was left behind."""


def _describe_os_error(path: Path, exc: OSError) -> ExportError:
    why = write_error_reason(exc)
    if exc.errno in (errno.EACCES, errno.EPERM):
        why += " (choose another folder)"
    return ExportError(f"cannot write {path}: {why}; nothing was written")


def format_probability(probability: float) -> str:
    return f"{probability:.4f}"


def top_k_text(record: BatchRecord) -> str:
    return ";".join(f"{p.label}:{format_probability(p.probability)}" for p in record.top)


def csv_text(text: str) -> str:
    """``text`` safe for a spreadsheet cell: a leading ``'`` when it would start a formula."""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def _policy(min_confidence: float, keywords: KeywordPolicy | None) -> KeywordPolicy:
    return keywords if keywords is not None else KeywordPolicy(min_confidence)


def csv_row(record: BatchRecord, min_confidence: float = 0.0,
            keywords: KeywordPolicy | None = None) -> list[str]:
    """One CSV row; text cells pass through :func:`csv_text` (see the module doc)."""
    policy = _policy(min_confidence, keywords)
    chosen = policy.keywords(record.top, record.categories) if record.ok else None
    probability = record.probability
    return [
        csv_text(record.path),
        csv_text(record.label),
        format_probability(probability) if probability is not None else "",
        csv_text(top_k_text(record)),
        csv_text(record.model),
        csv_text(record.error or ""),
        csv_text(";".join(chosen.flat) if chosen else ""),
        csv_text(chosen.category.label if chosen and chosen.category else ""),
    ]


def json_text(data: Any, indent: int | None = None) -> str:
    """``json.dumps`` with non-ASCII text left readable and lone surrogates escaped.

    A lone surrogate is a file name byte that is not UTF-8 (see the module doc); written raw it
    could not be encoded, and as its ``\\uXXXX`` escape ``json.loads`` gives back the very same
    character.
    """
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def json_record(record: BatchRecord, min_confidence: float = 0.0,
                keywords: KeywordPolicy | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"path": record.path, "model": record.model}
    if record.ok:
        chosen = _policy(min_confidence, keywords).keywords(record.top, record.categories)
        data["label"] = record.label
        data["probability"] = round(record.probability or 0.0, 6)
        data["top_k"] = [p.to_json() for p in record.top]
        data["tags"] = list(chosen.flat)
        data["category"] = chosen.category.to_json() if chosen.category else None
    data["error"] = record.error
    return data


@dataclass(frozen=True)
class Provenance:
    """Where a run's results come from, for the JSON export."""

    model: str
    model_sha256: str
    provider: str
    folder: str
    top_k: int
    min_confidence: float
    vocabulary_sha256: str | None = None
    """The SHA-256 of the vocabulary file the keywords went through; None: no vocabulary."""
    cluster: str | None = None
    """The Ray cluster that classified (``tag --ray``); ``provider`` is then the provider the
    workers were asked for, since each worker opens its own session. None: this machine."""
    app: str = "resnet-desktop"
    app_version: str = __version__
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


class _AtomicExport:
    """Shared plumbing: an atomic temporary file, OSErrors turned into :class:`ExportError`."""

    encoding = "utf-8"
    errors = "strict"
    newline: str | None = None

    def __init__(self, path: Path, min_confidence: float = 0.0,
                 keywords: KeywordPolicy | None = None) -> None:
        self.path = Path(path)
        self.min_confidence = min_confidence
        self.keywords = _policy(min_confidence, keywords)
        self.count = 0
        self._stack = contextlib.ExitStack()
        self._handle: IO | None = None

    def __enter__(self):
        if self.path.is_dir():
            raise ExportError(f"cannot write {self.path}: it is a folder; nothing was written")
        try:
            raw = self._stack.enter_context(atomic_open(self.path, "wb"))
            self._handle = io.TextIOWrapper(raw, encoding=self.encoding, errors=self.errors,
                                            newline=self.newline)
            # Runs before atomic_open syncs and renames: the text reaches the file first, and
            # the binary file stays open for atomic_open to close.
            self._stack.callback(self._handle.detach)
            self._start()
        except OSError as exc:
            self._abort(exc)
            raise _describe_os_error(self.path, exc) from None
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is not None:
            self._abort(exc)
            return  # the original exception propagates
        try:
            self._finish()
        except BaseException as error:
            self._abort(error)
            if isinstance(error, OSError):
                raise _describe_os_error(self.path, error) from None
            raise
        try:
            self._stack.__exit__(None, None, None)
        except OSError as error:
            raise _describe_os_error(self.path, error) from None

    def _abort(self, error: BaseException) -> None:
        """Drop the temporary file; the target is left as it was."""
        # Closing the doomed file can fail again (its buffer hits the same full disk);
        # atomic_open removes the temporary file either way.
        with contextlib.suppress(OSError):
            self._stack.__exit__(type(error), error, error.__traceback__)

    def write(self, record: BatchRecord) -> None:
        try:
            self._write(record)
        except OSError as exc:
            raise _describe_os_error(self.path, exc) from None
        self.count += 1

    def write_all(self, records: Iterable[BatchRecord]) -> None:
        for record in records:
            self.write(record)

    def _start(self) -> None:
        pass

    def _write(self, record: BatchRecord) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        pass


class CsvExport(_AtomicExport):
    """``with CsvExport(path) as out: out.write(record)``: the file appears only on success."""

    encoding = CSV_ENCODING
    errors = sys.getfilesystemencodeerrors()
    """A name that is not UTF-8 is written as its own bytes (``surrogateescape`` on POSIX)."""
    newline = ""

    def _start(self) -> None:
        assert self._handle is not None
        self._writer = csv.writer(self._handle)
        self._writer.writerow(CSV_COLUMNS)

    def _write(self, record: BatchRecord) -> None:
        self._writer.writerow(csv_row(record, self.min_confidence, self.keywords))


class JsonExport(_AtomicExport):
    """Streams ``records`` into one JSON document; ``summary`` is added when it is known."""

    def __init__(self, path: Path, provenance: Provenance, min_confidence: float = 0.0,
                 keywords: KeywordPolicy | None = None) -> None:
        super().__init__(path, min_confidence, keywords)
        self.provenance = provenance
        self.summary: dict[str, Any] | None = None

    def _start(self) -> None:
        assert self._handle is not None
        self._handle.write('{\n  "provenance": ')
        self._handle.write(_indent(json_text(asdict(self.provenance), indent=2)))
        self._handle.write(',\n  "records": [')

    def _write(self, record: BatchRecord) -> None:
        assert self._handle is not None
        self._handle.write("," if self.count else "")
        self._handle.write("\n    " + json_text(json_record(record, self.min_confidence,
                                                            self.keywords)))

    def set_summary(self, progress: BatchProgress) -> None:
        self.summary = {
            "images": progress.done, "classified": progress.classified,
            "from_earlier_runs": progress.cached, "errors": progress.failed,
            "seconds": round(progress.seconds, 3),
            "classify_seconds": round(progress.classify_seconds, 3),
            "images_per_second": round(progress.rate, 3),
        }

    def _finish(self) -> None:
        assert self._handle is not None
        self._handle.write("\n  ]" if self.count else "]")
        if self.summary is not None:
            self._handle.write(',\n  "summary": ' + _indent(json_text(self.summary, indent=2)))
        self._handle.write("\n}\n")


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")


def write_csv(path: Path, records: Iterable[BatchRecord], min_confidence: float = 0.0,
              keywords: KeywordPolicy | None = None) -> int:
    """Write every record as CSV; returns how many. Raises :class:`ExportError`."""
    with CsvExport(path, min_confidence, keywords) as out:
        out.write_all(records)
    return out.count


def write_json(path: Path, records: Iterable[BatchRecord], provenance: Provenance,
               min_confidence: float = 0.0, keywords: KeywordPolicy | None = None) -> int:
    """Write provenance and every record as JSON; returns how many. Raises ExportError."""
    with JsonExport(path, provenance, min_confidence, keywords) as out:
        out.write_all(records)
    return out.count
