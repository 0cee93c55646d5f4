"""ResNet Desktop: classify images with the ONNX Model Zoo ResNets."""

__version__ = "0.1.0"
