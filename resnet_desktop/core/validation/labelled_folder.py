"""Labelled image folders for validation: which image is which class, in the model's order.

Accepted forms (checked in this order):

1. A ground-truth file given explicitly (``ground_truth=``), or found in the folder or its
   parent under one of the names below; its format is recognised by name and content:

   - ``LOC_val_solution.csv`` (the Kaggle ImageNet localisation challenge): header
     ``ImageId,PredictionString``; each row's PredictionString starts with the WordNet id,
     e.g. ``ILSVRC2012_val_00008726,n02119789 255 142 454 329 ...``. Images match by file
     name without extension. Needs labels with WordNet ids.
   - ``ILSVRC2012_validation_ground_truth.txt`` (the ILSVRC2012 devkit): line *i* is the class
     of ``ILSVRC2012_val_<i, 8 digits>.JPEG`` as a 1-based ``ILSVRC2012_ID``. Those ids are
     the devkit's order, not the model's: the devkit's ``meta.mat`` (``data/meta.mat``,
     found beside the ground-truth file or in the folder, or given as ``meta=``) maps them to
     WordNet ids. Needs labels with WordNet ids.
   - ``val.txt`` or ``ground_truth.txt`` (Caffe style): one ``<file> <label>`` per line
     (whitespace, a tab or a comma between them; ``#`` comments and blank lines ignored).
     ``<file>`` is a path relative to the folder, or a bare file name; ``<label>`` is a
     0-based class index in the model's output order, or a WordNet id, or a label name.

   Images in the folder that the ground truth does not mention are skipped (and counted);
   ground-truth entries with no image are ignored, so a subset of ImageNet val works.

2. ImageFolder (torchvision's layout): one subfolder per class, named by the class's WordNet
   id (``n01440764``) or by its label (``tench``; case, ``_`` and ``-`` versus spaces do not
   matter); images anywhere below it. A folder that matches no class, or a label shared by
   two classes (ImageNet has two "crane"s), is refused with a message naming it.

Only files with the extensions the app decodes (``core.imaging.EXTENSIONS``) are images;
hidden files and folders are ignored.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from resnet_desktop.core.foundation.errors import ResNetDesktopError
from resnet_desktop.core.imaging.decode import EXTENSIONS
from resnet_desktop.core.models.labels import Label
from resnet_desktop.core.validation.matfile import MatFileError, read_mat

log = logging.getLogger(__name__)

LOC_SOLUTION = "LOC_val_solution.csv"
DEVKIT_GROUND_TRUTH = "ILSVRC2012_validation_ground_truth.txt"
DEVKIT_META = "meta.mat"
INDEX_LISTS = ("val.txt", "ground_truth.txt")
GROUND_TRUTH_NAMES = (LOC_SOLUTION, DEVKIT_GROUND_TRUTH, *INDEX_LISTS)

IMAGEFOLDER = "imagefolder"
LOC_CSV = "loc-val-solution"
DEVKIT = "ilsvrc2012-devkit"
INDEX_LIST = "file-list"

_WNID = re.compile(r"^n\d{8}$")
_VAL_NUMBER = re.compile(r"ILSVRC2012_val_(\d{8})", re.IGNORECASE)
_EXTENSIONS = frozenset(EXTENSIONS)


class DatasetError(ResNetDesktopError):
    """A labelled folder or its ground truth cannot be used; the message says why."""


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    target: int
    """The true class as an index into the model's outputs."""


@dataclass(frozen=True)
class LabelledSet:
    """The images of a labelled folder with their true classes, in a stable order."""

    root: Path
    form: str
    images: tuple[LabelledImage, ...]
    ground_truth: Path | None = None
    skipped: int = 0
    """Images in the folder that the ground truth does not mention."""

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, limit: int | None) -> LabelledSet:
        """``limit`` images spread evenly over the set (every k-th), or the whole set."""
        if limit is None or limit >= len(self.images):
            return self
        if limit < 1:
            raise ValueError("limit must be at least 1")
        picks = np.linspace(0, len(self.images), limit, endpoint=False).astype(int)
        return replace(self, images=tuple(self.images[i] for i in picks))


def find_labelled_set(root: Path, labels: Sequence[Label], ground_truth: Path | None = None,
                      meta: Path | None = None) -> LabelledSet:
    """Read a labelled folder in any accepted form (see the module docstring)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    if ground_truth is None:
        ground_truth = _find_ground_truth(root)
    if ground_truth is not None:
        ground_truth = Path(ground_truth).expanduser()
        if not ground_truth.is_file():
            raise DatasetError(f"ground truth file not found: {ground_truth}")
        return _from_ground_truth(root, labels, ground_truth, meta)
    return _image_folder(root, labels)


def _find_ground_truth(root: Path) -> Path | None:
    """A ground-truth file in ``root``, else in its parent unless ``root`` is an ImageFolder:
    class subfolders win over a stray ``val.txt`` one level up."""
    folders = [root]
    if not any(p.is_dir() and _visible(p.name) for p in root.iterdir()):
        folders.append(root.parent)
    for folder in folders:
        for name in GROUND_TRUTH_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def _visible(name: str) -> bool:
    return not name.startswith(".")


def _images_below(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if _visible(d))
        found += [Path(dirpath) / f for f in sorted(filenames)
                  if _visible(f) and Path(f).suffix.lower() in _EXTENSIONS]
    return found


def _normalise(name: str) -> str:
    return " ".join(re.sub(r"[_\-]+", " ", name).casefold().split())


class _ClassNames:
    """Look up a class index by WordNet id or by label name."""

    def __init__(self, labels: Sequence[Label]) -> None:
        self.count = len(labels)
        self.wnids = {label.wnid.lower(): i for i, label in enumerate(labels) if label.wnid}
        self.names: dict[str, list[int]] = {}
        for i, label in enumerate(labels):
            self.names.setdefault(_normalise(label.name), []).append(i)

    def lookup(self, name: str, what: str) -> int:
        """Index of ``name`` (a WordNet id or a label); DatasetError naming ``what`` if none."""
        if name.lower() in self.wnids:
            return self.wnids[name.lower()]
        matches = self.names.get(_normalise(name), [])
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise DatasetError(f"{what}: the label {name!r} belongs to {len(matches)} classes "
                               f"(indices {', '.join(map(str, matches))}); name it by its "
                               "WordNet id instead")
        if _WNID.match(name) and not self.wnids:
            raise DatasetError(f"{what}: {name!r} is a WordNet id but the model's labels have "
                               "none; name the class by its label")
        raise DatasetError(f"{what}: {name!r} is not one of the model's {self.count} classes")

    def require_wnids(self, source: str) -> None:
        if not self.wnids:
            raise DatasetError(f"{source} names classes by WordNet id, but the model's labels "
                               "have no WordNet ids (use an ImageNet model or labels written "
                               "as \"n01440764<TAB>tench\")")


def _image_folder(root: Path, labels: Sequence[Label]) -> LabelledSet:
    names = _ClassNames(labels)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and _visible(p.name))
    if not folders:
        raise DatasetError(
            f"{root}: no class subfolders and no ground-truth file; expected one subfolder per "
            f"class (named by label or WordNet id) or one of {', '.join(GROUND_TRUTH_NAMES)}")
    unmatched = []
    images: list[LabelledImage] = []
    for folder in folders:
        try:
            target = names.lookup(folder.name, f"folder {folder.name!r}")
        except DatasetError as exc:
            unmatched.append(str(exc))
            continue
        images += [LabelledImage(path, target) for path in _images_below(folder)]
    if unmatched:
        more = f" (and {len(unmatched) - 1} more)" if len(unmatched) > 1 else ""
        raise DatasetError(f"{root}: {unmatched[0]}{more}")
    if not images:
        raise DatasetError(f"{root}: the class folders hold no images")
    loose = sum(1 for p in root.iterdir() if p.is_file() and p.suffix.lower() in _EXTENSIONS)
    if loose:
        log.info("%s: %d images outside the class folders ignored", root, loose)
    return LabelledSet(root, IMAGEFOLDER, tuple(images), skipped=loose)


def _from_ground_truth(root: Path, labels: Sequence[Label], ground_truth: Path,
                       meta: Path | None) -> LabelledSet:
    names = _ClassNames(labels)
    files = _images_below(root)
    if not files:
        raise DatasetError(f"{root}: no images found")
    name = ground_truth.name.lower()
    text = _read_text(ground_truth)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if name.endswith(".csv") or first.replace(" ", "").lower().startswith("imageid,"):
        form, targets = LOC_CSV, _loc_solution(text, names, ground_truth)
        key = _stem_key
    elif name == DEVKIT_GROUND_TRUTH.lower() or _all_integers(text):
        form, targets = DEVKIT, _devkit(text, names, ground_truth, root, meta)
        key = _val_number_key
    else:
        return _match_file_list(root, files, _file_list(text, names, ground_truth), ground_truth)
    images = []
    skipped = 0
    for path in files:
        target = targets.get(key(path))
        if target is None:
            skipped += 1
        else:
            images.append(LabelledImage(path, target))
    if not images:
        raise DatasetError(f"{ground_truth.name}: none of the {len(files)} images in {root} "
                           "is in it")
    return LabelledSet(root, form, tuple(images), ground_truth, skipped)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError(f"{path.name}: not UTF-8 text") from None
    except OSError as exc:
        raise DatasetError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None


def _all_integers(text: str) -> bool:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return bool(lines) and all(line.isdigit() for line in lines)


def _stem_key(path: Path) -> str:
    return path.stem.lower()


def _val_number_key(path: Path) -> int | None:
    match = _VAL_NUMBER.search(path.name)
    return int(match.group(1)) if match else None


def _loc_solution(text: str, names: _ClassNames, source: Path) -> dict[str, int]:
    names.require_wnids(source.name)
    rows = csv.reader(text.splitlines())
    header = [h.strip().lower() for h in next(rows, [])]
    if header[:2] != ["imageid", "predictionstring"]:
        raise DatasetError(f"{source.name}: expected the header ImageId,PredictionString")
    targets = {}
    for number, row in enumerate(rows, 2):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2 or not row[1].split():
            raise DatasetError(f"{source.name} line {number}: expected ImageId,PredictionString")
        wnid = row[1].split()[0]
        targets[row[0].strip().lower()] = names.lookup(wnid, f"{source.name} line {number}")
    return targets


def _devkit(text: str, names: _ClassNames, source: Path, root: Path,
            meta: Path | None) -> dict[int, int]:
    names.require_wnids(source.name)
    meta = meta or next((p for p in (source.parent / DEVKIT_META, root / DEVKIT_META)
                         if p.is_file()), None)
    if meta is None:
        raise DatasetError(
            f"{source.name} numbers classes in the ILSVRC2012 devkit's order, not the model's; "
            f"put the devkit's data/{DEVKIT_META} beside it (or pass it as the meta file), or "
            f"use {LOC_SOLUTION} or a val.txt in the model's order instead")
    devkit_to_model = _devkit_classes(Path(meta), names)
    targets = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if not line.isdigit() or int(line) not in devkit_to_model:
            raise DatasetError(f"{source.name} line {number}: {line!r} is not an ILSVRC2012 "
                               "class id (1-1000)")
        targets[number] = devkit_to_model[int(line)]
    return targets


def _devkit_classes(meta: Path, names: _ClassNames) -> dict[int, int]:
    """ILSVRC2012_ID -> model class index, from the devkit's meta.mat ``synsets``."""
    try:
        synsets = read_mat(meta).get("synsets")
    except (MatFileError, OSError) as exc:
        raise DatasetError(f"{meta.name}: cannot be read ({exc})") from None
    if not isinstance(synsets, list) or not synsets or not isinstance(synsets[0], dict) or \
            not {"ILSVRC2012_ID", "WNID"} <= set(synsets[0]):
        raise DatasetError(f"{meta.name}: no 'synsets' with ILSVRC2012_ID and WNID; is it the "
                           "ILSVRC2012 devkit's data/meta.mat?")
    mapping = {}
    for synset in synsets:
        ident = np.asarray(synset["ILSVRC2012_ID"]).ravel()
        wnid = synset["WNID"]
        if ident.size != 1 or not isinstance(wnid, str) or not 1 <= int(ident[0]) <= 1000:
            continue  # the devkit also lists the non-leaf synsets, with ids above 1000
        mapping[int(ident[0])] = names.lookup(wnid.strip(), f"{meta.name} class {int(ident[0])}")
    if not mapping:
        raise DatasetError(f"{meta.name}: lists no classes with ILSVRC2012_ID 1-1000")
    return mapping


def _file_list(text: str, names: _ClassNames, source: Path) -> dict[str, int]:
    targets = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        separator = "\t" if "\t" in line else "," if "," in line else None
        parts = line.rsplit(separator, 1)
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise DatasetError(f"{source.name} line {number}: expected \"<file> <label>\"")
        file, label = parts[0].strip(), parts[1].strip()
        where = f"{source.name} line {number}"
        if label.isdigit():
            index = int(label)
            if index >= names.count:
                raise DatasetError(f"{where}: class index {index} is out of range; the model "
                                   f"has {names.count} classes (0-{names.count - 1})")
        else:
            index = names.lookup(label, where)
        targets[file.replace("\\", "/")] = index
    if not targets:
        raise DatasetError(f"{source.name}: lists no images")
    return targets


def _match_file_list(root: Path, files: list[Path], targets: dict[str, int],
                     source: Path) -> LabelledSet:
    by_relative = {p.relative_to(root).as_posix(): p for p in files}
    by_name: dict[str, Path | None] = {}
    for path in files:
        by_name[path.name] = None if path.name in by_name else path  # None: ambiguous
    images = []
    seen = set()
    for file, target in targets.items():
        path = by_relative.get(file) or by_name.get(Path(file).name)
        if path is not None and path not in seen:
            seen.add(path)
            images.append(LabelledImage(path, target))
    if not images:
        raise DatasetError(f"{source.name}: none of the {len(files)} images in {root} is "
                           "in it")
    images.sort(key=lambda item: item.path)
    return LabelledSet(root, INDEX_LIST, tuple(images), source, len(files) - len(images))
