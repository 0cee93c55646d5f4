"""packaging/licences.py: the licence texts the installers carry, read from this environment."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "packaging"))

import licences  # noqa: E402


def by_name() -> dict[str, licences.Notice]:
    return {n.name.lower().replace("_", "-"): n for n in licences.notices(REPO)}


def test_every_runtime_dependency_is_found_and_test_tools_are_not():
    names = set(by_name())
    assert {"pyside6-essentials", "pyside6-addons", "shiboken6", "onnxruntime", "numpy",
            "pillow", "pi-heif", "onnx", "platformdirs", "tqdm", "filelock",
            "truststore"} <= names
    assert not names & {"pytest", "pytest-qt", "ruff", "scikit-image", "pillow-heif",
                        "pyinstaller", "setuptools", "pip"}


def test_every_bundled_distribution_carries_a_licence_text():
    for name, notice in by_name().items():
        assert notice.files, f"{name} ({notice.licence}) has no licence text to bundle"
        for source, inside in notice.files:
            assert source.is_file(), source
            assert not inside.startswith("/") and ".." not in inside
            assert source.stat().st_size > 0


def test_qt_gets_the_lgpl_and_the_heif_decoder_its_bundled_notices():
    notices = by_name()
    qt = {inside for _, inside in notices["pyside6-essentials"].files}
    assert {"LGPL-3.0.txt", "GPL-3.0.txt"} <= qt
    lgpl = (REPO / "packaging" / "licences" / "LGPL-3.0.txt").read_text(encoding="utf-8")
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in lgpl and "Version 3" in lgpl
    heif = {inside for _, inside in notices["pi-heif"].files}
    assert any("bundled" in name.lower() for name in heif), heif
    ort = {inside for _, inside in notices["onnxruntime"].files}
    assert "onnxruntime/ThirdPartyNotices.txt" in ort


def test_datas_place_every_text_in_its_own_folder_with_an_index(tmp_path):
    entries = licences.datas(REPO, tmp_path / "build", "resnet-desktop", "9.9")
    index = tmp_path / "build" / "THIRD-PARTY.txt"
    text = index.read_text(encoding="utf-8")
    assert text.startswith("resnet-desktop 9.9 is licensed under the Apache License 2.0")
    assert "PySide6_Essentials" in text and "LGPL-3.0" in text
    assert (str(REPO / "LICENSE"), "licences") in entries
    assert (str(index), "licences") in entries
    targets = {target for _, target in entries}
    assert all(t == "licences" or t.startswith("licences/") for t in targets)
    pairs = [(Path(source).name, target) for source, target in entries]
    assert len(pairs) == len(set(pairs)), "two texts would land on the same bundle path"
    apache = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in apache and "Version 2.0" in apache
