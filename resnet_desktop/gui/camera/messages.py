"""What the Camera tab says in each state: plain text, no Qt, one place to review the wording."""

from __future__ import annotations

import sys

NO_CAMERA = ("No camera found.\n\nPlug in a webcam: this tab notices it by itself. A camera "
             "that is built in may be switched off by a key or a privacy shutter.")
WAITING_FOR_PERMISSION = "Waiting for permission to use the camera…"
PICK_CAMERA = "Pick a camera above."
NO_FRAMES_YET = "No picture from the camera yet."
SNAPSHOT_WAITING = "Waiting for the camera to warm up…"
SNAPSHOT_DARK = ("The camera still sends only dark pictures (lens covered, or a dark room?); "
                 "classified the newest one anyway.")
NO_SOURCE = "No camera is running: pick one above."


def permission_denied(platform: str = sys.platform) -> str:
    """How to let the app use the camera, for this operating system."""
    if platform == "darwin":
        how = ("Open System Settings > Privacy & Security > Camera, switch on ResNet Desktop, "
               "then quit and reopen the app.")
    elif platform.startswith("win"):
        how = ("Open Settings > Privacy & security > Camera and switch on both \"Camera "
               "access\" and \"Let desktop apps access your camera\", then click Try again.")
    else:
        how = ("Check that your user may open the camera device (on most Linux systems: be in "
               "the \"video\" group), then click Try again.")
    return f"ResNet Desktop is not allowed to use the camera.\n\n{how}"


def _the_camera(name: str) -> str:
    return f"The camera \u201c{name}\u201d" if name else "The camera"


def camera_error(name: str, detail: str) -> str:
    detail = detail.strip().rstrip(".") or "it stopped working"
    return (f"{_the_camera(name)} cannot be used: {detail}.\n\nIt may be in use by "
            "another app (close that app), or unplugged. Then click Try again or pick another "
            "camera.")


def disconnected(name: str, others: bool) -> str:
    then = "Pick another camera above, or plug it back in." if others else \
        "Plug it back in: this tab notices it by itself."
    return f"{_the_camera(name)} was disconnected.\n\n{then}"


def stalled(seconds: float) -> str:
    return (f"No picture from the camera for {seconds:.0f} s.\n\nIt may be in use by another "
            "app, or unplugged. The preview comes back by itself when pictures arrive again.")


def starting(name: str) -> str:
    return f"Starting \u201c{name}\u201d…" if name else "Starting the camera…"
