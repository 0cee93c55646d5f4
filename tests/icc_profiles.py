"""Colour profiles for tests, built from Pillow's own sRGB profile."""

from __future__ import annotations

import struct

from PIL import ImageCms


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def swapped_profile() -> bytes:
    """An RGB profile whose red primary is sRGB's green and green is sRGB's red.

    Built by swapping the offsets of the ``rXYZ`` and ``gXYZ`` tags of Pillow's sRGB profile,
    and renaming it so that nothing can take it for sRGB by its description.
    """
    data = bytearray(srgb_profile())
    (count,) = struct.unpack(">I", data[128:132])
    entries = {}
    for i in range(count):
        at = 132 + 12 * i
        entries[bytes(data[at:at + 4])] = at
    r, g = entries[b"rXYZ"], entries[b"gXYZ"]
    data[r + 4:r + 12], data[g + 4:g + 12] = data[g + 4:g + 12], data[r + 4:r + 12]
    named = bytes(data).replace("sRGB".encode("utf-16-be"), "Swap".encode("utf-16-be"))
    assert named != bytes(data), "the description was renamed"
    return named
