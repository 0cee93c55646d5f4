"""The user's vocabulary: which words the app writes for which classes.

A JSON object, every key optional::

    {"rename": {"tiger cat": "cat", "Egyptian cat": "cat"},
     "block": ["window screen", "maillot"],
     "min_probability": {"espresso": 0.5},
     "levels": ["category", "label"]}

* ``rename``: a class label (or a category name) -> the keyword written; several may map to one;
* ``block``: class labels (or category names) never written;
* ``min_probability``: a class label (or category) -> the probability it needs, 0..1, instead of
  the threshold in force;
* ``levels``: what is written: ``"category"`` (the curated category of the image),
  ``"label"`` (the classes at or above the threshold), or both (the default).

The same vocabulary is applied by the window, ``classify``, ``tag``, the exports and the
sidecars; its SHA-256 goes into the JSON export's provenance. The window's editor saves it as
``vocabulary.json`` in the user's config folder (:func:`user_vocabulary_path`), which every
front end uses unless told otherwise. A file that breaks any rule is refused with one line that
names the file and the problem.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from resnet_desktop.core.foundation.atomic import atomic_write_bytes
from resnet_desktop.core.foundation.errors import ResNetDesktopError, write_error_reason
from resnet_desktop.core.foundation.paths import config_dir
from resnet_desktop.core.foundation.regular_file import (
    FileTooLargeError,
    NotRegularFileError,
    read_regular_bytes,
)

LEVELS = ("category", "label")
USER_VOCABULARY = "vocabulary.json"
_KEYS = ("rename", "block", "min_probability", "levels")
MAX_BYTES = 4 * 1024 * 1024
"""A vocabulary is a few kilobytes; anything this large is the wrong file."""


class VocabularyError(ResNetDesktopError):
    """A vocabulary file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Vocabulary:
    """A parsed vocabulary. The default one renames and blocks nothing and writes both levels."""

    rename: Mapping[str, str] = field(default_factory=dict)
    block: frozenset[str] = frozenset()
    min_probability: Mapping[str, float] = field(default_factory=dict)
    levels: tuple[str, ...] = LEVELS
    sha256: str | None = None
    """Of the file's bytes; None for the default vocabulary."""
    source: str | None = None

    def keyword(self, name: str) -> str:
        """The word written for a class or category."""
        return self.rename.get(name, name)

    def is_blocked(self, name: str) -> bool:
        return name in self.block

    def threshold(self, name: str, default: float) -> float:
        return self.min_probability.get(name, default)

    def check_names(self, known: Iterable[str]) -> None:
        """Refuse names that are neither a class of the model nor a category (typos would
        otherwise do nothing, silently)."""
        known = set(known)
        for key, names in (("rename", self.rename), ("block", self.block),
                           ("min_probability", self.min_probability)):
            for name in sorted(names):
                if name not in known:
                    close = difflib.get_close_matches(name, known, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise VocabularyError(f"{self.source or 'vocabulary'}: {key}: {name!r} is "
                                          f"not a class of this model or a category{hint}")


    def to_json(self) -> str:
        """The vocabulary as a file: only the keys that differ from the default, sorted."""
        document: dict[str, object] = {}
        if self.rename:
            document["rename"] = dict(sorted(self.rename.items()))
        if self.block:
            document["block"] = sorted(self.block)
        if self.min_probability:
            document["min_probability"] = dict(sorted(self.min_probability.items()))
        document["levels"] = list(self.levels)
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


DEFAULT_VOCABULARY = Vocabulary()


def _fail(name: str, message: str) -> VocabularyError:
    return VocabularyError(f"{name}: {message}")


def _names(value: object, name: str, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(name, f'"{key}" must be a list of class names')
    return value


def parse_vocabulary(data: bytes, name: str = "vocabulary") -> Vocabulary:
    """A :class:`Vocabulary` from a file's bytes; :class:`VocabularyError` says what is wrong."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise _fail(name, "is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _fail(name, f"is not valid JSON ({exc.msg} at line {exc.lineno} column "
                          f"{exc.colno})") from None
    if not isinstance(document, dict):
        raise _fail(name, 'must be a JSON object such as {"block": ["window screen"]}')
    unknown = sorted(set(document) - set(_KEYS))
    if unknown:
        raise _fail(name, f"unknown key {unknown[0]!r} (the keys are {', '.join(_KEYS)})")
    rename = document.get("rename", {})
    if not isinstance(rename, dict) or not all(
            isinstance(v, str) and v.strip() for v in rename.values()):
        raise _fail(name, '"rename" must map class names to non-empty keywords')
    block = _names(document.get("block", []), name, "block")
    thresholds = document.get("min_probability", {})
    if not isinstance(thresholds, dict):
        raise _fail(name, '"min_probability" must map class names to numbers from 0 to 1')
    for label, value in thresholds.items():
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or not 0 <= value <= 1:
            raise _fail(name, f'"min_probability": {label!r} is {value!r}; use a number from '
                              "0 to 1")
    levels = document.get("levels", list(LEVELS))
    if not isinstance(levels, list) or not levels or any(v not in LEVELS for v in levels):
        raise _fail(name, '"levels" must be a non-empty list of "category" and "label"')
    return Vocabulary(
        rename={k: v.strip() for k, v in rename.items()}, block=frozenset(block),
        min_probability={k: float(v) for k, v in thresholds.items()},
        levels=tuple(dict.fromkeys(levels)), sha256=hashlib.sha256(data).hexdigest(),
        source=name)


def load_vocabulary(path: Path) -> Vocabulary:
    """Read and parse a vocabulary file."""
    path = Path(path).expanduser()
    try:
        data = read_regular_bytes(path, max_bytes=MAX_BYTES)
    except FileNotFoundError:
        raise _fail(str(path), "no such file") from None
    except NotRegularFileError as exc:
        raise _fail(str(path), f"is {exc.kind}, not a vocabulary file") from None
    except FileTooLargeError:
        raise _fail(str(path), "is too large to be a vocabulary (over 4 MB)") from None
    except OSError as exc:
        raise _fail(str(path), f"cannot be read ({exc.strerror or exc})") from None
    return parse_vocabulary(data, path.name)


def user_vocabulary_path() -> Path:
    """Where the window's vocabulary editor saves (``vocabulary.json`` in the config folder)."""
    return config_dir() / USER_VOCABULARY


def load_user_vocabulary() -> Vocabulary:
    """The vocabulary saved by the editor, or the default one when none was saved."""
    path = user_vocabulary_path()
    if not path.exists():
        return DEFAULT_VOCABULARY
    return load_vocabulary(path)


def save_vocabulary(vocabulary: Vocabulary, path: Path | None = None) -> Vocabulary:
    """Write ``vocabulary`` atomically (to the user's file by default) and return it as read
    back, with its SHA-256. Raises :class:`VocabularyError` when the file cannot be written."""
    path = Path(path) if path is not None else user_vocabulary_path()
    data = vocabulary.to_json().encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise _fail(str(path), f"cannot be written ({write_error_reason(exc)})") from None
    return parse_vocabulary(data, path.name)
