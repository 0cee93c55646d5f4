"""``classify --cam``: a PNG of where the model looked and the peak in the photo's pixels."""

from __future__ import annotations

import json

import modelgen
import numpy as np
from cli_runner import run_cli
from composites import fill, save_rotated, side_by_side
from PIL import Image, ImageOps


def test_cam_png_and_json_peak_on_a_rotated_composite(capsys, tmp_path, shared_model, photos):
    """Cat on the left, coffee on the right, stored on its side with an EXIF orientation: the
    espresso map peaks on the right of the upright photo, the top-1 (a cat) on the left."""
    photo = save_rotated(side_by_side(fill(photos["chelsea"], 300, 400),
                                      fill(photos["coffee"], 300, 400)), tmp_path / "pair.jpg")
    out_dir = tmp_path / "cams"
    code, out, err = run_cli(capsys, "classify", "-m", shared_model, "--json", "--cam", out_dir,
                             photo)
    assert code == 0, err
    record = json.loads(out)[0]
    assert record["cam"]["label"] == record["top"][0]["label"]
    assert "cat" in record["cam"]["label"]
    x, y = record["cam"]["peak"]
    assert 0 <= x < 300 and 0 <= y < 400
    with Image.open(out_dir / "pair.cam.png") as png:
        assert png.size == (600, 400)  # upright, full size
        pixels = np.asarray(png.convert("RGB")).astype(int)
    with Image.open(photo) as stored:
        upright = np.asarray(ImageOps.exif_transpose(stored).convert("RGB")).astype(int)
    # The map covers the centre crop only (x 125..475 of 600: 224 of the 384-wide resize);
    # outside it the photo is only dimmed, inside it is coloured.
    assert np.abs(pixels[:, :120] - upright[:, :120] // 2).max() <= 1
    assert np.abs(pixels[:, 480:] - upright[:, 480:] // 2).max() <= 1
    assert np.abs(pixels[20:380, 130:470] - upright[20:380, 130:470] // 2).mean() > 20
    code, out, err = run_cli(capsys, "classify", "-m", shared_model, "--json", "--cam", out_dir,
                             "--cam-label", "espresso", photo)
    assert code == 0, err
    cam = json.loads(out)[0]["cam"]
    assert cam["label"] == "espresso" and 300 <= cam["peak"][0] < 600


def test_cam_text_output_and_unknown_label(capsys, tmp_path, shared_model, photos):
    code, out, err = run_cli(capsys, "classify", "-m", shared_model, "--cam", tmp_path / "c",
                             photos["coffee"])
    assert code == 0, err
    assert "where it looked for espresso: peak at (" in out
    assert (tmp_path / "c" / "coffee.cam.png").is_file()
    code, _, err = run_cli(capsys, "classify", "-m", shared_model, "--cam", tmp_path / "c",
                           "--cam-label", "no such thing", photos["coffee"])
    assert code == 2 and "no class named 'no such thing'" in err
    code, _, err = run_cli(capsys, "classify", "-m", shared_model, "--cam-label", "espresso",
                           photos["coffee"])
    assert code == 2 and "--cam-label needs --cam" in err


def test_generated_resnet_gets_a_cam(capsys, tmp_path):
    model = tmp_path / "tiny.onnx"
    modelgen.resnet(model, blocks=(1, 1, 1, 1), num_classes=3, head="avgpool-matmul")
    modelgen.write_labels(tmp_path / "tiny.txt", ["a", "b", "c"])
    (tmp_path / "tiny.json").write_text(json.dumps({"labels": "tiny.txt"}))
    image = tmp_path / "grey.png"
    Image.new("RGB", (300, 200), (120, 130, 140)).save(image)
    code, out, err = run_cli(capsys, "classify", "-m", model, "--json", "--cam", tmp_path / "o",
                             "--cam-label", "b", image)
    assert code == 0, err
    assert json.loads(out)[0]["cam"]["label"] == "b"
    with Image.open(tmp_path / "o" / "grey.cam.png") as png:
        assert png.size == (300, 200)


def test_model_without_maps_says_so_once_and_still_classifies(capsys, tmp_path):
    model = tmp_path / "colours.onnx"
    modelgen.colour_classifier(model)
    modelgen.write_labels(tmp_path / "colours.txt", ["red", "green", "blue"])
    (tmp_path / "colours.json").write_text(json.dumps({"labels": "colours.txt",
                                                       "input_size": 32, "resize": 32}))
    images = []
    for name, colour in (("r.png", (230, 5, 5)), ("g.png", (5, 230, 5))):
        Image.new("RGB", (40, 30), colour).save(tmp_path / name)
        images.append(tmp_path / name)
    code, out, err = run_cli(capsys, "classify", "-m", model, "--json", "--cam", tmp_path / "o",
                             *images)
    assert code == 0
    assert err.count("not available for this model") == 1
    records = json.loads(out)
    assert [r["top"][0]["label"] for r in records] == ["red", "green"]
    assert all("cam" not in r for r in records)
    assert not (tmp_path / "o").exists()


def test_big_photo_png_is_capped_and_a_bad_file_does_not_stop_the_others(capsys, tmp_path):
    model = tmp_path / "tiny.onnx"
    modelgen.resnet(model, blocks=(1, 1, 1, 1), num_classes=3)
    modelgen.write_labels(tmp_path / "tiny.txt", ["a", "b", "c"])
    (tmp_path / "tiny.json").write_text(json.dumps({"labels": "tiny.txt"}))
    big = tmp_path / "big.png"
    Image.new("RGB", (3000, 1500), (90, 140, 200)).save(big)
    broken = tmp_path / "broken.jpg"
    broken.write_text("not a photo")
    code, out, err = run_cli(capsys, "classify", "-m", model, "--json", "--cam", tmp_path / "o",
                             broken, big)
    assert code == 1 and "broken.jpg" in err
    records = json.loads(out)
    assert "cam" not in records[0] and "error" in records[0]
    x, y = records[1]["cam"]["peak"]
    assert 0 <= x < 3000 and 0 <= y < 1500  # the original photo's pixels
    with Image.open(tmp_path / "o" / "big.cam.png") as png:
        assert png.size == (2048, 1024)
    assert not (tmp_path / "o" / "broken.cam.png").exists()
