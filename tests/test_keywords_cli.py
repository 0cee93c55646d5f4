"""Categories, the vocabulary and embedded keywords through ``classify`` and ``tag``."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli
from keyword_samples import ISSUE_VOCABULARY
from PIL import Image

from resnet_desktop.core.sidecars.embedded import read_embedded
from resnet_desktop.core.sidecars.xmp import read_keywords


@pytest.fixture
def vocabulary(tmp_path: Path) -> Path:
    path = tmp_path / "vocabulary.json"
    path.write_text(json.dumps(ISSUE_VOCABULARY), encoding="utf-8")
    return path


def test_classify_json_gives_chelsea_cat_and_coffee_a_drink(capsys, shared_model, photos):
    code, out, err = run_cli(capsys, "classify", "--model", shared_model, "--json",
                             photos["chelsea"], photos["coffee"])
    assert code == 0, err
    chelsea, coffee = json.loads(out)
    assert chelsea["category"]["label"] == "cat"
    assert chelsea["category"]["probability"] >= 0.85
    assert chelsea["category"]["path"] == ["animal", "mammal", "cat"]
    assert coffee["category"]["label"] == "coffee"
    assert coffee["category"]["path"] == ["food", "drink", "coffee"]


def test_classify_text_prints_the_category_line(capsys, shared_model, photos, vocabulary):
    code, out, err = run_cli(capsys, "classify", "--model", shared_model, photos["chelsea"],
                             photos["astronaut"], "--vocabulary", vocabulary)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].startswith("  category: cat 9") and "(animal > mammal > cat)" in lines[1]
    assert "  category: no confident match" in lines


def test_a_bad_vocabulary_stops_classify_and_tag_with_one_line(capsys, tmp_path, shared_model,
                                                               photos):
    bad = tmp_path / "vocabulary.json"
    bad.write_text('{"block": ["window screen"], "level": ["label"]}', encoding="utf-8")
    code, out, err = run_cli(capsys, "classify", "--model", shared_model, photos["chelsea"],
                             "--vocabulary", bad)
    assert code == 2 and not out
    assert err.strip() == ("resnet-desktop: error: vocabulary.json: unknown key 'level' (the "
                           "keys are rename, block, min_probability, levels)")
    typo = tmp_path / "typo.json"
    typo.write_text('{"block": ["windowscreen"]}', encoding="utf-8")
    code, _, err = run_cli(capsys, "tag", tmp_path, "--model", shared_model, "--vocabulary",
                           typo)
    assert code == 2
    assert "'windowscreen' is not a class of this model" in err and "'window screen'" in err
    assert len(err.strip().splitlines()) == 1


def _real_folder(tmp_path: Path, photos) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    with Image.open(photos["chelsea"]) as image:
        image.convert("RGB").save(folder / "chelsea.jpg", quality=92)
    shutil.copy(photos["coffee"], folder / "coffee.png")
    return folder


def test_tag_with_the_vocabulary_writes_cat_and_never_window_screen(capsys, tmp_path,
                                                                    shared_model, photos,
                                                                    vocabulary):
    folder = _real_folder(tmp_path, photos)
    # A threshold low enough that "window screen" (about 0.1 % on Chelsea) would be written.
    args = ("tag", folder, "--model", shared_model, "--min-confidence", "0.05%", "--xmp")
    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "window screen" in read_keywords((folder / "chelsea.jpg.xmp").read_bytes()).subject
    code, _, err = run_cli(capsys, *args, "--no-skip", "--vocabulary", vocabulary, "--json",
                           tmp_path / "out.json", "--csv", tmp_path / "out.csv")
    assert code == 0, err
    keywords = read_keywords((folder / "chelsea.jpg.xmp").read_bytes())
    assert keywords.subject[0] == "cat"
    assert "window screen" not in keywords.subject and "tiger cat" not in keywords.subject
    assert "ImageNet|animal|mammal|cat" in keywords.hierarchical
    assert "ImageNet|animal|mammal|cat|tabby" in keywords.hierarchical
    assert "ImageNet/animal/mammal/cat" in keywords.tags_list
    assert not any("window screen" in v for v in keywords.hierarchical + keywords.tags_list)
    coffee = read_keywords((folder / "coffee.png.xmp").read_bytes())
    assert "espresso" in coffee.subject  # 96 % clears its own 0.5 threshold
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert data["provenance"]["vocabulary_sha256"] == hashlib.sha256(
        vocabulary.read_bytes()).hexdigest()
    records = {r["path"]: r for r in data["records"]}
    assert records["chelsea.jpg"]["category"]["label"] == "cat"
    assert "window screen" not in records["chelsea.jpg"]["tags"]
    assert "category" in (tmp_path / "out.csv").read_text(encoding="utf-8-sig").splitlines()[0]


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def test_tag_embed_writes_into_the_jpeg_and_undo_restores_it(capsys, tmp_path, shared_model,
                                                             photos, vocabulary, exiftool):
    folder = _real_folder(tmp_path, photos)
    heif = pytest.importorskip("pillow_heif")
    with Image.open(photos["chelsea"]) as image:
        heif.from_pillow(image.convert("RGB")).save(folder / "IMG_1.heic", quality=80)
    jpeg = folder / "chelsea.jpg"
    before_sha = hashlib.sha256(jpeg.read_bytes()).hexdigest()
    before_pixels = _pixels(jpeg)
    heic_bytes = (folder / "IMG_1.heic").read_bytes()
    code, _, err = run_cli(capsys, "tag", folder, "--model", shared_model, "--embed",
                           "--vocabulary", vocabulary)
    assert code == 0, err
    assert "keywords written into 2 image file(s)" in err
    assert "1 file(s) got an XMP sidecar instead" in err
    tags = exiftool.keywords(jpeg)
    assert tags["subject"][0] == "cat" and "window screen" not in tags["subject"]
    assert "ImageNet|animal|mammal|cat" in tags["hierarchical"]
    assert "cat" in exiftool.iptc_keywords(jpeg)
    assert np.array_equal(_pixels(jpeg), before_pixels)
    assert read_embedded(folder / "coffee.png").subject[0] == "coffee"
    assert (folder / "IMG_1.heic").read_bytes() == heic_bytes
    assert "cat" in read_keywords((folder / "IMG_1.heic.xmp").read_bytes()).subject
    code, _, err = run_cli(capsys, "tag", folder, "--undo")
    assert code == 0, err
    assert hashlib.sha256(jpeg.read_bytes()).hexdigest() == before_sha
    assert not (folder / "IMG_1.heic.xmp").exists()


def test_classify_uses_the_vocabulary_saved_by_the_editor(capsys, shared_model, photos):
    from resnet_desktop.core.keywords.vocabulary import parse_vocabulary, save_vocabulary

    save_vocabulary(parse_vocabulary(b'{"rename": {"cat": "Katze", "animal": "Tier"}}'))
    code, out, err = run_cli(capsys, "classify", "--model", shared_model, "--json",
                             photos["chelsea"])
    assert code == 0, err
    category = json.loads(out)[0]["category"]
    assert category["label"] == "Katze" and category["path"] == ["Tier", "mammal", "Katze"]
