"""``resnet-desktop tag`` end to end: outputs, sidecars, dry run, undo, resume, bad input."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from cli_runner import run_cli
from modelgen import colour_model
from sample_images import bad_folder
from xmp_samples import DIGIKAM, foreign

from resnet_desktop.cli import main
from resnet_desktop.core.sidecars.xmp import read_keywords


@pytest.fixture
def model(tmp_path) -> Path:
    return colour_model(tmp_path / "model")


@pytest.fixture
def folder(tmp_path):
    return bad_folder(tmp_path)


def read_csv(path: Path) -> dict[str, dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return {row["path"]: row for row in csv.DictReader(handle)}


def test_tag_writes_csv_json_and_sidecars_and_goes_on_after_bad_files(capsys, tmp_path, model,
                                                                     folder):
    folder, expected = folder
    existing = folder / "red.jpg.xmp"
    existing.write_text(DIGIKAM, encoding="utf-8")
    code, out, err = run_cli(capsys, "tag", folder, "--model", model, "--recursive", "--top", "2",
                             "--min-confidence", "50%", "--csv", tmp_path / "out.csv",
                             "--json", tmp_path / "out.json", "--xmp")
    assert code == 0, err
    rows = read_csv(tmp_path / "out.csv")
    assert set(rows) == set(expected)
    for rel, label in expected.items():
        if label is None:
            assert rows[rel]["error"] and not rows[rel]["label"]
        else:
            assert rows[rel]["label"] == label and rows[rel]["error"] == ""
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert data["provenance"]["model"] == "colours"
    assert len(data["provenance"]["model_sha256"]) == 64
    assert data["provenance"]["min_confidence"] == 0.5
    assert data["summary"]["images"] == len(expected)
    assert {r["path"] for r in data["records"]} == set(expected)
    assert "truncated.jpg" in err and "4 errors" in err
    merged = existing.read_bytes()
    assert foreign(merged) == foreign(DIGIKAM)
    assert read_keywords(merged).subject == ("holiday", "tabby", "red")
    sidecar = folder / "café" / "日本 写真.jpg.xmp"
    assert read_keywords(sidecar.read_bytes()).tags_list == ("ImageNet/blue",)
    assert not (folder / "truncated.jpg.xmp").exists()
    created = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.xmp"))
    assert len(created) == len([v for v in expected.values() if v])

    code, out, err = run_cli(capsys, "tag", folder, "--undo")
    assert code == 0, err
    assert f"{len(created) - 1} created sidecar(s) removed" in out
    assert existing.read_text(encoding="utf-8") == DIGIKAM
    assert sorted(p.name for p in folder.rglob("*.xmp")) == ["red.jpg.xmp"]
    code, _, err = run_cli(capsys, "tag", folder, "--undo")
    assert code == 1 and "nothing to undo" in err


def test_dry_run_previews_and_writes_no_sidecar(capsys, model, folder):
    folder, _ = folder
    code, out, err = run_cli(capsys, "tag", folder, "--model", model, "-r", "--xmp",
                             "--dry-run", "--min-confidence", "0.5")
    assert code == 0, err
    assert "Dry run: no sidecar was written" in out
    assert "7 sidecar file(s) (IMG_1.jpg.xmp naming): 7 new, 0 existing" in out
    assert "green: 3 file(s)" in out and "red: 2 file(s)" in out and "blue: 2 file(s)" in out
    assert not list(folder.rglob("*.xmp"))


def test_replace_naming_writes_img_xmp(capsys, model, tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    shutil.copy(bad_folder(tmp_path)[0] / "red.jpg", folder / "IMG_1.jpg")
    code, _, err = run_cli(capsys, "tag", folder, "--model", model, "--xmp",
                           "--xmp-naming", "replace")
    assert code == 0, err
    assert read_keywords((folder / "IMG_1.xmp").read_bytes()).subject == ("red",)


def test_a_second_run_skips_done_images_unless_told_not_to(capsys, model, folder, tmp_path):
    folder, expected = folder
    good = len([v for v in expected.values() if v])
    assert run_cli(capsys, "tag", folder, "--model", model, "-r")[0] == 0
    code, _, err = run_cli(capsys, "tag", folder, "--model", model, "-r",
                           "--csv", tmp_path / "again.csv")
    assert code == 0
    assert "0 classified" in err and f"{good} from earlier runs" in err
    rows = read_csv(tmp_path / "again.csv")
    assert rows["red.jpg"]["label"] == "red", "skipped images still appear in the outputs"
    code, _, err = run_cli(capsys, "tag", folder, "--model", model, "-r", "--no-skip")
    assert f"{good} classified" in err and "0 from earlier runs" in err


def test_extensions_and_non_recursive(capsys, model, folder, tmp_path):
    folder, _ = folder
    code, _, err = run_cli(capsys, "tag", folder, "--model", model, "--extensions", "png,JPEG",
                           "--csv", tmp_path / "png.csv")
    assert code == 0, err
    assert sorted(read_csv(tmp_path / "png.csv")) == ["alpha.png", "bomb.png", "Ünïcödé ✓.png"]


@pytest.mark.parametrize("args, message", [
    (["tag", "{tmp}/missing"], "no such folder"),
    (["tag", "{folder}", "--csv", "{folder}/red.jpg/out.csv"], "cannot write"),
    (["tag", "{folder}", "--top", "0"], "--top must be at least 1"),
])
def test_a_batch_that_cannot_run_exits_non_zero_with_a_message(capsys, model, folder, tmp_path,
                                                               args, message):
    folder, _ = folder
    args = [a.format(tmp=tmp_path, folder=folder) for a in args] + ["--model", str(model)]
    code, _, err = run_cli(capsys, *args)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not list(tmp_path.rglob("*.tmp"))


def test_min_confidence_must_be_a_probability(capsys, model, folder):
    with pytest.raises(SystemExit):
        main(["tag", str(folder[0]), "--min-confidence", "150%"])
    assert "between 0 and 1" in capsys.readouterr().err


def test_the_real_model_tags_real_photos(capsys, tmp_path, shared_model, photos):
    folder = tmp_path / "real"
    folder.mkdir()
    for name in ("coffee", "chelsea"):
        shutil.copy(photos[name], folder / f"{name}.png")
    code, _, err = run_cli(capsys, "tag", folder, "--model", shared_model, "--csv",
                           tmp_path / "real.csv", "--xmp", "--min-confidence", "0.5")
    assert code == 0, err
    rows = read_csv(tmp_path / "real.csv")
    assert rows["coffee.png"]["label"] == "espresso"
    assert float(rows["coffee.png"]["probability"]) > 0.8
    assert rows["coffee.png"]["model"] == "efficientnet-lite0"
    keywords = read_keywords((folder / "coffee.png.xmp").read_bytes())
    assert keywords.subject == ("coffee", "espresso")
    assert keywords.hierarchical == ("ImageNet|food|drink|coffee",
                                     "ImageNet|food|drink|coffee|espresso")
