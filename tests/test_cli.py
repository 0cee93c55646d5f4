"""The command line end to end: the real trained model on real photos, and every bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import modelgen
import pytest
from cli_runner import run_cli

CAT_CLASSES = {"tiger cat", "Egyptian cat", "tabby", "Persian cat", "Siamese cat", "lynx"}


@pytest.fixture
def colour_model(tmp_path) -> Path:
    return modelgen.colour_model(tmp_path)


@pytest.fixture
def red_png(tmp_path) -> Path:
    from PIL import Image

    path = tmp_path / "red.png"
    Image.new("RGB", (40, 30), (220, 10, 10)).save(path)
    return path


def test_real_model_recognises_real_photos(capsys, shared_model, photos):
    code, out, err = run_cli(capsys, "classify", "--model", shared_model, "--json", "--top", "3",
                             photos["coffee"], photos["chelsea"])
    assert code == 0, err
    results = json.loads(out)
    assert [Path(r["path"]).name for r in results] == ["coffee.png", "chelsea.png"]
    coffee, chelsea = results
    assert coffee["top"][0]["label"] == "espresso"
    assert coffee["top"][0]["probability"] > 0.8
    assert coffee["model"] == "efficientnet-lite0"
    assert coffee["provider"] == "cpu"
    assert coffee["ms"] > 0
    assert len(coffee["top"]) == 3
    assert chelsea["top"][0]["label"] in CAT_CLASSES
    assert {"index", "label", "probability"} <= set(chelsea["top"][0])


def test_text_output(capsys, colour_model, red_png):
    code, out, _ = run_cli(capsys, "classify", "-m", colour_model, red_png)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(str(red_png)) and "colours" in lines[0]
    assert lines[1].strip().endswith("red")
    assert len(lines) == 4


def test_one_bad_file_does_not_stop_the_others(capsys, tmp_path, colour_model, red_png):
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(red_png.read_bytes()[:60])
    missing = tmp_path / "missing.png"
    code, out, err = run_cli(capsys, "classify", "-m", colour_model, "--json", text, red_png,
                             truncated, missing)
    assert code == 1
    results = json.loads(out)
    assert [("error" in r) for r in results] == [True, False, True, True]
    assert results[1]["top"][0]["label"] == "red"
    assert "notes.jpg" in results[0]["error"]
    assert "missing.png" in results[3]["error"]
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 3


def test_unknown_model_is_one_clear_line(capsys, red_png):
    code, _, err = run_cli(capsys, "classify", "-m", "resnet9000", red_png)
    assert code == 2
    assert err.strip().startswith("resnet-desktop: error: unknown model 'resnet9000'")
    assert len(err.strip().splitlines()) == 1


def test_not_a_classifier_is_refused(capsys, tmp_path, red_png):
    from onnx import TensorProto, helper, save

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    save(model, str(tmp_path / "relu.onnx"))
    code, _, err = run_cli(capsys, "classify", "-m", tmp_path / "relu.onnx", red_png)
    assert code == 2
    assert "relu.onnx" in err and "4-D" in err


def test_offline_and_not_cached(capsys, monkeypatch, red_png):
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", "1")
    code, _, err = run_cli(capsys, "classify", "--model", "resnet50-v2-7", red_png)
    assert code == 2
    assert "resnet50-v2-7" in err and "offline" in err.lower()


def test_bad_top_k(capsys, colour_model, red_png):
    code, _, err = run_cli(capsys, "classify", "-m", colour_model, "--top", "0", red_png)
    assert code == 2 and "--top" in err


def test_models_list_and_path(capsys):
    code, out, _ = run_cli(capsys, "models", "list")
    assert code == 0
    assert "resnet152-v2-7" in out and "78.20" in out
    code, out, _ = run_cli(capsys, "models", "path", "resnet18-v1-7")
    assert code == 0
    assert out.strip().endswith("resnet18-v1-7.onnx")
    assert out.strip().startswith(os.environ["RESNET_DESKTOP_CACHE"])


def test_models_actions_on_unknown_and_missing(capsys):
    code, _, err = run_cli(capsys, "models", "verify", "nope")
    assert code == 2 and "unknown model 'nope'" in err
    code, _, err = run_cli(capsys, "models", "remove", "resnet18-v1-7")
    assert code == 1 and "not downloaded" in err


def test_python_dash_m_entry_point(tmp_path, colour_model, red_png):
    result = subprocess.run(
        [sys.executable, "-m", "resnet_desktop", "classify", "-m", str(colour_model), "--json",
         str(red_png)], capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["top"][0]["label"] == "red"


@pytest.fixture
def served_catalog(tmp_path, monkeypatch, http_server):
    """A catalog whose one model is a generated classifier served from the loopback server."""
    import hashlib

    model_bytes = modelgen.colour_classifier(classes=("red", "green", "blue")).SerializeToString()
    modelgen.write_labels(tmp_path / "colours.txt", ["red", "green", "blue"])
    http_server.add("/models/colours-1.onnx", model_bytes, drop_after=len(model_bytes) // 2,
                    drop_times=1)
    http_server.add("/bad/colours-1.onnx", model_bytes, serve="wrong")
    catalog = {"default": "colours-1", "models": [{
        "id": "colours-1", "name": "Colours", "bytes": len(model_bytes),
        "sha256": hashlib.sha256(model_bytes).hexdigest(), "license": "MIT",
        "urls": [http_server.url("/bad/colours-1.onnx"), http_server.url("/models/colours-1.onnx")],
        "labels": "colours.txt", "input_size": 32, "resize": 32,
    }]}
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    monkeypatch.setenv("RESNET_DESKTOP_CATALOG", str(path))
    return model_bytes


def test_classify_downloads_the_model_then_works_offline(capsys, monkeypatch, served_catalog,
                                                         http_server, red_png):
    code, out, err = run_cli(capsys, "classify", "--json", red_png)
    assert code == 0, err
    assert json.loads(out)[0]["top"][0]["label"] == "red"
    assert http_server.hits("/bad/colours-1.onnx") >= 1
    assert len(http_server.requests_for("/models/colours-1.onnx")) == 2
    code, out, _ = run_cli(capsys, "models", "list")
    assert "downloaded" in out
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", "1")
    code, out, _ = run_cli(capsys, "classify", "--json", red_png)
    assert code == 0


def test_models_download_verify_remove(capsys, served_catalog):
    code, out, err = run_cli(capsys, "models", "download", "colours-1")
    assert code == 0, err
    path = Path(out.strip())
    assert path.read_bytes() == served_catalog
    code, out, _ = run_cli(capsys, "models", "verify", "colours-1")
    assert code == 0 and "OK" in out
    path.write_bytes(b"\0" * len(served_catalog))
    code, _, err = run_cli(capsys, "models", "verify", "colours-1")
    assert code == 1 and "checksum mismatch" in err
    assert not path.exists()
    run_cli(capsys, "models", "download", "colours-1")
    code, out, _ = run_cli(capsys, "models", "remove", "colours-1")
    assert code == 0 and not path.exists()


def test_every_source_serving_wrong_bytes_is_a_clear_error(capsys, served_catalog, http_server,
                                                           red_png):
    http_server.route("/models/colours-1.onnx").serve = "wrong"
    code, _, err = run_cli(capsys, "classify", red_png)
    assert code == 2
    assert "/bad/colours-1.onnx" in err and "/models/colours-1.onnx" in err
    assert len(err.strip().splitlines()) == 1
    assert not list(Path(os.environ["RESNET_DESKTOP_CACHE"]).rglob("colours-1.onnx"))


@pytest.mark.parametrize("version", [1, 2])
def test_generated_zoo_shaped_resnet_downloads_and_classifies(capsys, tmp_path, monkeypatch,
                                                              http_server, red_png, version):
    """A ResNet v1/v2 graph with a 1000-class head, the zoo's manifest, served over HTTP."""
    import hashlib

    from resnet_desktop.resources import resource_path

    model = modelgen.resnet(depth=18, version=version, width=4, num_classes=1000,
                            blocks=(1, 1, 1, 1)).SerializeToString()
    zoo = json.loads(resource_path("models.json").read_text())["models"][0]
    entry = dict(zoo, id=f"tiny-v{version}", bytes=len(model),
                 sha256=hashlib.sha256(model).hexdigest(), urls=[http_server.url("/unused.onnx")])
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"models": [entry]}))
    http_server.add(f"/mirror/tiny-v{version}.onnx", model)
    monkeypatch.setenv("RESNET_DESKTOP_CATALOG", str(catalog))
    monkeypatch.setenv("RESNET_DESKTOP_MIRROR", http_server.url("/mirror"))
    code, out, err = run_cli(capsys, "classify", "--model", f"tiny-v{version}", "--json", red_png)
    assert code == 0, err
    top = json.loads(out)[0]["top"]
    assert len(top) == 5 and all(p["wnid"].startswith("n") for p in top)
    assert http_server.hits("/unused.onnx") == 0
