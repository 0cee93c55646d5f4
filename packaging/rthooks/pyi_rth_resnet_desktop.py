"""PyInstaller runtime hook: runs in the frozen app before any of its code.

Windows ships old copies of ``DirectML.dll`` (and, for Windows ML, ``onnxruntime.dll``) in
System32. ONNX Runtime loads DirectML by name when the first DirectML session starts, and the
Windows loader searches the executable's folder and System32 before the bundle's
``onnxruntime/capi`` folder, so the old DLL would win and DirectML sessions fail or misbehave.
A DLL already loaded under the same name is reused by every later load by name, so loading the
bundle's copies by full path first makes them the ones used. The folder also goes on the DLL
search path for anything ONNX Runtime loads later (its provider libraries).

ONNX Runtime's telemetry is switched off here too, before anything can import it (see
``resnet_desktop.core.foundation.telemetry``); ``ORT_DISABLE_TELEMETRY=0`` set by the user opts
in.
"""

import os
import sys

if not os.environ.get("ORT_DISABLE_TELEMETRY", "").strip():
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"


def _prefer_bundled_onnxruntime_dlls() -> None:
    import ctypes

    capi = os.path.join(sys._MEIPASS, "onnxruntime", "capi")
    if not os.path.isdir(capi):
        return
    os.add_dll_directory(capi)
    os.environ["PATH"] = capi + os.pathsep + os.environ.get("PATH", "")
    for name in ("DirectML.dll", "onnxruntime.dll", "onnxruntime_providers_shared.dll"):
        path = os.path.join(capi, name)
        if os.path.isfile(path):
            try:
                ctypes.WinDLL(path)
            except OSError as exc:  # the self-test and the provider status show the effect
                if sys.stderr is not None:
                    sys.stderr.write(f"resnet-desktop: cannot preload {path}: {exc}\n")


if sys.platform == "win32" and getattr(sys, "frozen", False):
    _prefer_bundled_onnxruntime_dlls()
