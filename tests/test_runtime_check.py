"""Several ONNX Runtime flavours in one environment are detected and explained."""

from __future__ import annotations

import sys

from resnet_desktop.core.inference.runtime_check import flavour_warning, installed_flavours


def _fake_distribution(folder, name, version):
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_one_flavour_gives_no_warning():
    assert len(installed_flavours()) == 1
    assert flavour_warning() is None


def test_a_second_flavour_is_named_with_the_fix(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, "onnxruntime-gpu", "1.99.0")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    warning = flavour_warning()
    assert warning is not None
    assert "onnxruntime-gpu 1.99.0" in warning
    assert "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu" in warning
