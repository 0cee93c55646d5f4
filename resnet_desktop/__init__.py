"""ResNet Desktop: classify images with the ONNX Model Zoo ResNets."""

from resnet_desktop.core.foundation.telemetry import opt_out_by_default

__version__ = "0.1.0"

# Before anything imports onnxruntime: every entry point (the commands, the window, the frozen
# app, ``python -m``) imports this package first.
opt_out_by_default()
