"""The Qt-free engine: catalog, manifests, downloads, images, inference, batch and export.

Nothing under ``resnet_desktop.core`` may import Qt; ``tests/test_core_without_qt.py`` proves it.
"""
