"""Results of earlier batches, so a re-run skips unchanged images and a cancelled batch resumes.

One SQLite file in :func:`~resnet_desktop.core.foundation.paths.data_dir`. A row is keyed by the
image's absolute path and the model's fingerprint (weights SHA-256 plus preprocessing, see
:func:`~resnet_desktop.core.batch.run.model_fingerprint`); it is valid only while the file's
size and modification time (nanoseconds) are unchanged and it holds at least as many classes as
asked. Only successes are stored: a file that failed is tried again next time.

Each row also keeps the image's category masses
(:func:`~resnet_desktop.core.keywords.rollup.category_masses`), which need the whole probability
vector and so cannot be recomputed from the stored top-k. They are the ``categories`` column,
added to a store written before it existed; its old rows hold NULL there, and their categories
are summed over the top-k instead (a lower bound) until the image is classified again.

WAL mode with ``synchronous=NORMAL``: a commit costs no fsync, and a crash loses at most the
last few results, never the database. The store is a cache: if it is damaged or unwritable
the batch runs without it (see :func:`open_results_store`).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from resnet_desktop.core.foundation.paths import data_dir
from resnet_desktop.core.inference.classifier import Prediction
from resnet_desktop.core.inference.results import CategoryMasses

log = logging.getLogger(__name__)

STORE_NAME = "results.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    path TEXT NOT NULL,
    model TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    k INTEGER NOT NULL,
    top TEXT NOT NULL,
    updated REAL NOT NULL,
    categories TEXT,
    PRIMARY KEY (path, model)
)
"""

Row = tuple[Path, int, int, tuple[Prediction, ...], CategoryMasses]
"""(image file, size, mtime_ns, top-k, category masses)"""


class Stored(NamedTuple):
    """One image's stored result."""

    top: tuple[Prediction, ...]
    categories: CategoryMasses | None
    """None for a row written before the store kept them (see the module doc)."""


def default_store_path() -> Path:
    return data_dir() / STORE_NAME


def _key(path: Path) -> str | bytes:
    """The absolute path as text, or as its bytes (a BLOB) when it is not valid UTF-8.

    Linux file names may hold any bytes; Python gives those as lone surrogates, which SQLite
    cannot store as text. A BLOB never equals a TEXT key, so the two kinds cannot collide,
    and stores written before keep their rows.
    """
    text = str(Path(path).absolute())
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text)
    return text


def _encode(top: Iterable[Prediction]) -> str:
    return json.dumps([[p.index, p.label, p.probability, p.wnid] for p in top],
                      ensure_ascii=False)


def _decode(text: str, k: int) -> tuple[Prediction, ...]:
    return tuple(Prediction(int(i), str(label), float(prob), wnid)
                 for i, label, prob, wnid in json.loads(text)[:k])


def _encode_categories(categories: CategoryMasses) -> str:
    return json.dumps([[name, probability] for name, probability in categories],
                      ensure_ascii=False)


def _decode_categories(text: str | None) -> CategoryMasses | None:
    if text is None:
        return None
    return tuple((str(name), float(probability)) for name, probability in json.loads(text))


def _add_categories_column(db: sqlite3.Connection) -> None:
    """Give a store from before the ``categories`` column one (another process opening the
    same store may add it first)."""
    def has_it() -> bool:
        return any(row[1] == "categories" for row in db.execute("PRAGMA table_info(results)"))

    if has_it():
        return
    try:
        with db:
            db.execute("ALTER TABLE results ADD COLUMN categories TEXT")
    except sqlite3.OperationalError:
        if not has_it():
            raise


class ResultsStore:
    """A thread-safe handle on the results database; use as a context manager or ``close()``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._warned = False
        self._db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            _add_categories_column(self._db)
        except sqlite3.Error:
            self._db.close()
            raise

    def get(self, path: Path, size: int, mtime_ns: int, model: str, k: int) -> Stored | None:
        """The stored top-``k`` and category masses if this exact file was classified by
        ``model`` before."""
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT size, mtime_ns, k, top, categories FROM results "
                    "WHERE path = ? AND model = ?", (_key(path), model)).fetchone()
        except sqlite3.Error as exc:
            self._warn(exc)
            return None
        if row is None or row[0] != size or row[1] != mtime_ns or row[2] < k:
            return None
        try:
            return Stored(_decode(row[3], k), _decode_categories(row[4]))
        except (ValueError, TypeError):
            log.warning("results store: damaged row for %s ignored", path)
            return None

    def put_many(self, rows: Iterable[Row], model: str, k: int) -> None:
        """Store results (committed at once). A failure (disk full, locked) is logged, not
        raised: losing the cache must never stop a batch."""
        now = time.time()
        values = [(_key(path), model, size, mtime_ns, k, _encode(top), now,
                   _encode_categories(categories))
                  for path, size, mtime_ns, top, categories in rows]
        if not values:
            return
        try:
            with self._lock, self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO results (path, model, size, mtime_ns, k, top, "
                    "updated, categories) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)
        except sqlite3.Error as exc:
            self._warn(exc)

    def _warn(self, exc: sqlite3.Error) -> None:
        if not self._warned:
            self._warned = True
            log.warning("results store %s: %s (results are not being remembered)", self.path,
                        exc)

    def count(self, model: str | None = None) -> int:
        with self._lock:
            if model is None:
                return self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            return self._db.execute("SELECT COUNT(*) FROM results WHERE model = ?",
                                    (model,)).fetchone()[0]

    def forget(self, model: str | None = None) -> None:
        """Drop every stored result (of one model, or all)."""
        with self._lock, self._db:
            if model is None:
                self._db.execute("DELETE FROM results")
            else:
                self._db.execute("DELETE FROM results WHERE model = ?", (model,))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_results_store(path: Path | None = None) -> ResultsStore | None:
    """The store, or None (with a warning logged) when it cannot be opened: the batch still
    runs, it just cannot skip work done before."""
    try:
        return ResultsStore(path)
    except (sqlite3.Error, OSError) as exc:
        log.warning("results store unavailable, every image will be classified: %s", exc)
        return None
