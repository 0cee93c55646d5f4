"""The manifest schema and the shipped catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resnet_desktop.core.foundation.errors import ManifestError
from resnet_desktop.core.models.catalog import load_catalog
from resnet_desktop.core.models.labels import (
    Label,
    imagenet_labels,
    parse_label_line,
    read_labels_file,
)
from resnet_desktop.core.models.manifest import (
    IMAGENET_MEAN,
    ModelManifest,
    load_manifest_for,
    parse_manifest,
    write_manifest,
)
from resnet_desktop.resources import resource_path

ZOO_TSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "onnx_model_zoo_resnet.tsv"
SYNSET = ZOO_TSV.parent / "imagenet_synset.txt"


def test_shipped_catalog_has_the_twelve_zoo_resnets():
    catalog = load_catalog()
    expected = {f"resnet{d}-{v}-7" for v in ("v1", "v2") for d in (18, 34, 50, 101, 152)}
    expected |= {"resnet50-v1-12", "resnet50-v1-12-int8"}
    assert {e.id for e in catalog if not e.builtin} == expected
    assert catalog.builtin_id == "efficientnet-lite0"
    assert catalog.default_id == "resnet50-v2-7"
    for entry in (e for e in catalog if not e.builtin):
        assert entry.urls and all(u.startswith("https://") for u in entry.urls)
        assert "huggingface.co/onnxmodelzoo/legacy_models" in entry.urls[0]
        assert entry.manifest.preprocessing.mean == IMAGENET_MEAN
        assert entry.manifest.preprocessing.resize == 256
        assert entry.license


def test_catalog_sizes_and_hashes_match_the_zoo_table():
    if not ZOO_TSV.is_file():
        pytest.skip(f"{ZOO_TSV} not found (the shared/ folder beside the repository)")
    rows = [line.split("\t") for line in ZOO_TSV.read_text(encoding="utf-8").splitlines()]
    table = {r[0][:-5]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    for entry in (e for e in load_catalog() if not e.builtin):
        row = table[entry.id]
        assert entry.bytes == int(row["bytes"])
        assert entry.sha256 == row["sha256"]
        assert entry.top1 == float(row["top1"])


def test_imagenet_labels_keep_wordnet_ids_and_readable_names():
    labels = imagenet_labels()
    assert len(labels) == 1000
    assert labels[0] == Label("tench", "n01440764")
    assert labels[504].name == "coffee mug"
    if SYNSET.is_file():
        wnids = [line.split()[0] for line in SYNSET.read_text(encoding="utf-8").splitlines()]
        assert [label.wnid for label in labels] == wnids


@pytest.mark.parametrize(("line", "label"), [
    ("cat", Label("cat")),
    ("n01440764\ttench", Label("tench", "n01440764")),
    ("n01443537 goldfish, Carassius auratus", Label("goldfish", "n01443537")),
    ("big cat", Label("big cat")),
])
def test_label_line_forms(line, label):
    assert parse_label_line(line) == label


def test_labels_file_errors(tmp_path):
    (tmp_path / "blank.txt").write_text("a\n\nb\n")
    with pytest.raises(ManifestError, match="line 2 is blank"):
        read_labels_file(tmp_path / "blank.txt")
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(ManifestError, match="empty"):
        read_labels_file(tmp_path / "empty.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ManifestError, match="not UTF-8"):
        read_labels_file(tmp_path / "bin.txt")


def test_manifest_defaults_are_the_zoo_resnet_values(tmp_path):
    manifest = load_manifest_for(tmp_path / "model.onnx")
    assert manifest.name == "model"
    assert manifest.labels == "imagenet"
    pre = manifest.preprocessing
    assert (pre.input_size, pre.resize, pre.layout, pre.color) == (224, 256, "NCHW", "RGB")
    assert pre.std == (58.395, 57.12, 57.375)
    assert manifest.output == "logits"


def test_shared_example_manifest_parses():
    example = ZOO_TSV.parents[1] / "models" / "efficientnet-lite0.json"
    if not example.is_file():
        pytest.skip(f"{example} not found")
    manifest = load_manifest_for(example.with_suffix(".onnx"))
    assert manifest.preprocessing.mean == (127.0, 127.0, 127.0)
    assert manifest.preprocessing.std == (128.0, 128.0, 128.0)


@pytest.mark.parametrize(("data", "field"), [
    ({"input_size": 0}, "input_size"),
    ({"input_size": "224"}, "input_size"),
    ({"resize": 100}, "resize"),
    ({"mean": [1, 2]}, "mean"),
    ({"std": [1, 0, 1]}, "std"),
    ({"std": [1, float("nan"), 1]}, "std"),
    ({"layout": "CHW"}, "layout"),
    ({"color": "YUV"}, "color"),
    ({"output": "scores"}, "output"),
    ({"labels": "missing.txt"}, "labels"),
    ({"name": ""}, "name"),
    ({"colour": "RGB"}, "colour"),
])
def test_bad_manifest_values_name_the_field(tmp_path, data, field):
    with pytest.raises(ManifestError) as info:
        parse_manifest(data, tmp_path, "m")
    assert info.value.field == field
    assert field in str(info.value)


def test_sidecar_round_trip_with_relative_labels(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    model = tmp_path / "m.onnx"
    manifest = parse_manifest({"name": "Mine", "labels": "labels.txt", "input_size": 160,
                               "layout": "nhwc", "color": "BGR", "output": "probabilities"},
                              tmp_path, "m")
    assert manifest.preprocessing.resize == round(160 * 256 / 224)
    sidecar = write_manifest(model, manifest)
    assert json.loads(sidecar.read_text())["labels"] == "labels.txt"
    assert load_manifest_for(model) == manifest


def test_broken_sidecar_json_is_a_clear_error(tmp_path):
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(ManifestError, match=r"m\.json: not valid JSON"):
        load_manifest_for(tmp_path / "m.onnx")


def test_bad_catalog_is_refused(tmp_path):
    good = json.loads(resource_path("models.json").read_text())
    entry = dict(good["models"][0], sha256="xyz")
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"models": [entry]}))
    with pytest.raises(ManifestError, match="sha256"):
        load_catalog(path)
    path.write_text(json.dumps({"models": [good["models"][0]] * 2}))
    with pytest.raises(ManifestError, match="appears twice"):
        load_catalog(path)


def test_catalog_override_by_environment(tmp_path, monkeypatch):
    good = json.loads(resource_path("models.json").read_text())
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"default": "resnet18-v1-7",
                                "models": [m for m in good["models"] if "18" in m["id"]]}))
    monkeypatch.setenv("RESNET_DESKTOP_CATALOG", str(path))
    catalog = load_catalog()
    assert [e.id for e in catalog] == ["resnet18-v1-7", "resnet18-v2-7"]
    assert isinstance(catalog.get("resnet18-v1-7").manifest, ModelManifest)
