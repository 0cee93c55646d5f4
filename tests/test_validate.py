"""Validation on generated labelled folders whose answer is known in advance.

The model is the colour classifier built to be right on exactly two of three classes: its
weights send blue images to "green", so top-1 is 2/3, top-5 (top-3 here) is 1, and the most
frequent wrong prediction for blue is green. Every accepted folder form must say the same.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import modelgen
import numpy as np
import pytest
from PIL import Image

from resnet_desktop.cli import main
from resnet_desktop.core.foundation.cancel import CancelToken
from resnet_desktop.core.foundation.errors import Cancelled
from resnet_desktop.core.inference.classifier import Classifier
from resnet_desktop.core.models.manifest import load_manifest_for
from resnet_desktop.core.validation.labelled_folder import (
    DEVKIT,
    IMAGEFOLDER,
    INDEX_LIST,
    LOC_CSV,
    DatasetError,
    find_labelled_set,
)
from resnet_desktop.core.validation.matfile import MatFileError, read_mat
from resnet_desktop.core.validation.validate import (
    SUMMARY_COLUMNS,
    summary_rows,
    validate,
    write_summary_csv,
)

COLOURS = {"red": (230, 20, 20), "green": (20, 230, 20), "blue": (20, 20, 230)}
WNIDS = {"red": "n00000001", "green": "n00000002", "blue": "n00000003"}
PER_CLASS = 4
# Rows: mean R, G, B of the normalised image; columns: classes red, green, blue. Blue's
# column is zero and G+B feeds green, so a blue image scores higher as green than as blue.
BLUE_AS_GREEN = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
EXPECTED_ROWS = [
    list(SUMMARY_COLUMNS),
    ["red", "4", "100.00", "100.00", "", "0", WNIDS["red"]],
    ["green", "4", "100.00", "100.00", "", "0", WNIDS["green"]],
    ["blue", "4", "0.00", "100.00", "green", "4", WNIDS["blue"]],
]


def _noisy(colour: tuple[int, int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour) + rng.integers(-12, 13, (40, 48, 3)), 0, 255)
    return Image.fromarray(pixels.astype(np.uint8))


@pytest.fixture
def two_of_three(tmp_path) -> Path:
    """A colour model right on red and green, wrong on blue (labels with WordNet ids)."""
    folder = tmp_path / "model"
    folder.mkdir()
    path = folder / "colours.onnx"
    modelgen.colour_classifier(path, weights=BLUE_AS_GREEN)
    (folder / "colours.txt").write_text(
        "".join(f"{WNIDS[c]}\t{c}\n" for c in COLOURS), encoding="utf-8")
    (folder / "colours.json").write_text(json.dumps(
        {"name": "Colours", "labels": "colours.txt", "input_size": 32, "resize": 32}))
    return path


@pytest.fixture(params=[False, True], ids=["batched", "lanes"])
def classifier(two_of_three, request) -> Classifier:
    """Both ways the pipeline runs the model: batches on the calling thread, and workers that
    classify on a CPU throughput session (two lanes even on one core)."""
    loaded = Classifier(two_of_three, load_manifest_for(two_of_three), "cpu",
                        throughput=request.param)
    if request.param:
        loaded.lanes = 2
    return loaded


def _image_folder(root: Path, name_of=lambda colour: colour) -> Path:
    for c, (colour, rgb) in enumerate(COLOURS.items()):
        (root / name_of(colour)).mkdir(parents=True)
        for i in range(PER_CLASS):
            _noisy(rgb, c * 100 + i).save(root / name_of(colour) / f"{colour}_{i}.png")
    return root


def _val_folder(root: Path) -> tuple[Path, list[str]]:
    """ILSVRC-style flat folder: ILSVRC2012_val_<n>.png, classes interleaved; the truths."""
    root.mkdir(parents=True)
    truths = []
    for n in range(1, 3 * PER_CLASS + 1):
        colour = list(COLOURS)[(n - 1) % 3]
        _noisy(COLOURS[colour], n).save(root / f"ILSVRC2012_val_{n:08d}.png")
        truths.append(colour)
    return root, truths


def _assert_known_answer(result) -> None:
    assert result.images == 3 * PER_CLASS
    assert result.top1 * 3 == result.images * 2  # exactly two thirds
    assert result.top1_accuracy == pytest.approx(2 / 3)
    assert result.top5 == result.images and result.k == 3
    assert summary_rows(result) == EXPECTED_ROWS


def test_imagefolder_gives_the_known_answer_and_csv(tmp_path, classifier):
    dataset = find_labelled_set(_image_folder(tmp_path / "val"), classifier.labels)
    assert dataset.form == IMAGEFOLDER and len(dataset) == 12
    calls = []
    result = validate(classifier, dataset, batch_size=5,
                      progress=lambda done, total, rate: calls.append((done, total)))
    _assert_known_answer(result)
    assert calls == [(5, 12), (10, 12), (12, 12)]
    assert result.failures == ()
    csv_path = write_summary_csv(result, tmp_path / "out" / "summary.csv")
    with open(csv_path, newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == EXPECTED_ROWS
    assert [p.name for p in csv_path.parent.iterdir()] == ["summary.csv"]


def test_folders_named_by_wordnet_id_or_label_in_any_case(tmp_path, classifier):
    by_wnid = find_labelled_set(_image_folder(tmp_path / "a", WNIDS.get), classifier.labels)
    by_label = find_labelled_set(_image_folder(tmp_path / "b", str.upper), classifier.labels)
    _assert_known_answer(validate(classifier, by_wnid))
    _assert_known_answer(validate(classifier, by_label))


def test_unreadable_images_are_listed_not_counted(tmp_path, classifier):
    root = _image_folder(tmp_path / "val")
    (root / "blue" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "red" / "notes.txt").write_text("not an image extension: ignored")
    result = validate(classifier, find_labelled_set(root, classifier.labels))
    _assert_known_answer(result)
    assert [(p.name, "corrupt" in e) for p, e in result.failures] == [("broken.png", True)]


def test_cancel_stops_between_batches(tmp_path, classifier):
    dataset = find_labelled_set(_image_folder(tmp_path / "val"), classifier.labels)
    token = CancelToken()
    seen = []

    def progress(done, total, rate):
        seen.append(done)
        token.cancel()

    with pytest.raises(Cancelled):
        validate(classifier, dataset, batch_size=2, progress=progress, cancel=token)
    assert seen == [2]


def test_file_list_with_indices_in_model_order(tmp_path, classifier):
    root, truths = _val_folder(tmp_path / "val")
    order = list(COLOURS)
    (root / "val.txt").write_text("# file label\n" + "".join(
        f"ILSVRC2012_val_{n:08d}.png {order.index(c)}\n" for n, c in enumerate(truths, 1)))
    dataset = find_labelled_set(root, classifier.labels)
    assert dataset.form == INDEX_LIST and dataset.ground_truth == root / "val.txt"
    _assert_known_answer(validate(classifier, dataset))


def test_loc_val_solution_csv(tmp_path, classifier):
    root, truths = _val_folder(tmp_path / "ILSVRC" / "val")
    rows = "".join(f"ILSVRC2012_val_{n:08d},{WNIDS[c]} 1 2 30 40 {WNIDS[c]} 5 6 7 8\n"
                   for n, c in enumerate(truths, 1))
    (root.parent / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n" + rows)
    dataset = find_labelled_set(root, classifier.labels)
    assert dataset.form == LOC_CSV
    _assert_known_answer(validate(classifier, dataset))


def _write_meta(path: Path, devkit_order: list[str]) -> None:
    """A meta.mat like the devkit's: leaf synsets with ILSVRC2012_ID 1..n, then a non-leaf."""
    scipy_io = pytest.importorskip("scipy.io")
    synsets = np.zeros((len(devkit_order) + 1, 1), dtype=[("ILSVRC2012_ID", "O"),
                                                          ("WNID", "O"), ("words", "O"),
                                                          ("children", "O")])
    for i, colour in enumerate(devkit_order):
        synsets[i, 0] = (float(i + 1), WNIDS[colour], colour, np.zeros((1, 0)))
    synsets[-1, 0] = (1001.0, "n09999999", "colour", np.array([[1.0, 2.0, 3.0]]))
    scipy_io.savemat(path, {"synsets": synsets}, do_compression=True)


def test_ilsvrc2012_devkit_ground_truth_is_mapped_through_meta_mat(tmp_path, classifier):
    root, truths = _val_folder(tmp_path / "val")
    devkit_order = ["blue", "red", "green"]  # not the model's order, as in the real devkit
    devkit = tmp_path / "devkit" / "data"
    devkit.mkdir(parents=True)
    ground_truth = devkit / "ILSVRC2012_validation_ground_truth.txt"
    ground_truth.write_text("".join(f"{devkit_order.index(c) + 1}\n" for c in truths))
    with pytest.raises(DatasetError, match=r"meta\.mat"):
        find_labelled_set(root, classifier.labels, ground_truth)
    _write_meta(devkit / "meta.mat", devkit_order)
    dataset = find_labelled_set(root, classifier.labels, ground_truth)
    assert dataset.form == DEVKIT
    _assert_known_answer(validate(classifier, dataset))


def test_only_images_in_the_ground_truth_are_used_and_limit_spreads(tmp_path, classifier):
    root, truths = _val_folder(tmp_path / "val")
    order = list(COLOURS)
    (root / "val.txt").write_text("".join(f"ILSVRC2012_val_{n:08d}.png {order.index(c)}\n"
                                          for n, c in enumerate(truths, 1) if n <= 9))
    dataset = find_labelled_set(root, classifier.labels)
    assert len(dataset) == 9 and dataset.skipped == 3
    sample = dataset.sample(3)
    assert [i.path.name for i in sample.images] == [f"ILSVRC2012_val_{n:08d}.png"
                                                    for n in (1, 4, 7)]


@pytest.mark.parametrize(("setup", "message"), [
    (lambda root: (root / "purple").mkdir(), "'purple' is not one of the model's 3 classes"),
    (lambda root: None, "no class subfolders and no ground-truth file"),
    (lambda root: (root / "val.txt").write_text("a.png 7\n"), "class index 7 is out of range"),
    (lambda root: (root / "val.txt").write_text("a.png violet\n"), "'violet' is not one of"),
    (lambda root: (root / "LOC_val_solution.csv").write_text("Id,Prediction\n"),
     "expected the header ImageId,PredictionString"),
])
def test_bad_folders_are_refused_with_a_reason(tmp_path, classifier, setup, message):
    root = tmp_path / "val"
    root.mkdir()
    _noisy(COLOURS["red"], 0).save(root / "a.png")
    setup(root)
    with pytest.raises(DatasetError, match=message):
        find_labelled_set(root, classifier.labels)


def test_label_shared_by_two_classes_must_be_named_by_wordnet_id(tmp_path):
    from resnet_desktop.core.models.labels import imagenet_labels

    root = tmp_path / "val"
    (root / "crane").mkdir(parents=True)
    _noisy(COLOURS["red"], 0).save(root / "crane" / "a.png")
    with pytest.raises(DatasetError, match="'crane' belongs to 2 classes"):
        find_labelled_set(root, imagenet_labels())


def test_devkit_ground_truth_needs_labels_with_wordnet_ids(tmp_path):
    from resnet_desktop.core.models.labels import Label

    root, _ = _val_folder(tmp_path / "val")
    (root / "ILSVRC2012_validation_ground_truth.txt").write_text("1\n2\n")
    with pytest.raises(DatasetError, match="no WordNet ids"):
        find_labelled_set(root, [Label("red"), Label("green"), Label("blue")])


@pytest.mark.parametrize("compressed", [False, True])
def test_mat_reader_reads_what_scipy_writes(tmp_path, compressed):
    scipy_io = pytest.importorskip("scipy.io")
    path = tmp_path / "m.mat"
    scipy_io.savemat(path, {"grid": np.arange(6).reshape(2, 3), "name": "kit fox",
                            "cells": np.array([1.5, "x"], dtype=object)},
                     do_compression=compressed)
    data = read_mat(path)
    np.testing.assert_array_equal(data["grid"], np.arange(6).reshape(2, 3))
    assert data["name"] == "kit fox"
    assert data["cells"][1] == "x" and float(data["cells"][0].ravel()[0]) == 1.5


def test_mat_reader_refuses_other_files(tmp_path):
    path = tmp_path / "meta.mat"
    path.write_bytes(b"MATLAB 7.3 MAT-file".ljust(124) + b"\x00\x02IM" + b"\x00" * 64)
    with pytest.raises(MatFileError, match=r"7\.3"):
        read_mat(path)
    path.write_bytes(b"hello")
    with pytest.raises(MatFileError, match="not a MATLAB"):
        read_mat(path)


def test_cli_validate_prints_accuracy_and_writes_the_summary(tmp_path, two_of_three, capsys):
    root = _image_folder(tmp_path / "val")
    summary = tmp_path / "per_class.csv"
    code = main(["validate", str(root), "--model", str(two_of_three), "--summary", str(summary),
                 "--provider", "cpu"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "top-1   66.67%  (8/12)" in out
    assert "top-5  100.00%  (12/12)" in out
    assert "Validating colours" in err  # the tqdm bar goes to stderr
    with open(summary, newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == EXPECTED_ROWS


def test_cli_validate_limit_and_json(tmp_path, two_of_three, capsys, monkeypatch):
    root = _image_folder(tmp_path / "val")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the summary goes beside the labelled folder, not here
    code = main(["validate", str(root), "--model", str(two_of_three), "--limit", "6", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["images"] == 6 and data["form"] == IMAGEFOLDER
    assert Path(data["summary"]) == tmp_path / "colours_val_per_class.csv"
    assert Path(data["summary"]).is_file()


def test_cli_validate_bad_folder_is_a_clear_error(tmp_path, two_of_three, capsys):
    code = main(["validate", str(tmp_path / "nowhere"), "--model", str(two_of_three)])
    _, err = capsys.readouterr()
    assert code == 2
    assert "nowhere: not a folder" in err and "Traceback" not in err


def test_class_subfolders_win_over_a_stray_val_txt_in_the_parent(tmp_path, two_of_three,
                                                                  capsys):
    root = _image_folder(tmp_path / "photos" / "val")
    (root.parent / "val.txt").write_text("unrelated.jpg 3\n")
    code = main(["validate", str(root), "--model", str(two_of_three), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["form"] == IMAGEFOLDER
