"""Detect an environment with more than one ONNX Runtime flavour installed.

onnxruntime, onnxruntime-gpu and onnxruntime-directml all install the same ``onnxruntime``
module; with two installed, whichever was installed last wins file by file and the result can
crash or silently lose the GPU.
"""

from __future__ import annotations

from importlib import metadata

FLAVOURS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino",
            "onnxruntime-qnn", "ort-nightly", "ort-nightly-gpu")


def installed_flavours() -> list[str]:
    found = []
    for name in FLAVOURS:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return found


def flavour_warning() -> str | None:
    """A warning to show at start-up when several flavours are installed, else None."""
    found = installed_flavours()
    if len(found) <= 1:
        return None
    names = [f.split()[0] for f in found]
    keep = next((n for n in names if n != "onnxruntime"), names[0])
    return (
        f"Several ONNX Runtime packages are installed ({', '.join(found)}); they overwrite each "
        f"other. Keep one: pip uninstall -y {' '.join(names)} && pip install {keep}"
    )
