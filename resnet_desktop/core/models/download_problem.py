"""What a failed model download means to the person who asked for it.

The download errors name every source and its failure (three URLs and ``[Errno -2] Name or
service not known``): right for a log or a bug report, not for the one line a window or a
status bar has room for. :func:`download_problem` turns one into a short headline that says
what happened and what to do, keeping the full text as the detail behind a toggle.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from resnet_desktop.core.foundation.errors import ChecksumError, DownloadError, OfflineError


class ProblemKind(Enum):
    OFFLINE = "offline"
    DAMAGED = "damaged"
    UNREACHABLE = "unreachable"
    OTHER = "other"


@dataclass(frozen=True)
class DownloadProblem:
    """``headline`` for the card, ``status`` for the status bar, ``detail`` for Details."""

    model_id: str
    model_name: str
    kind: ProblemKind
    headline: str
    advice: str
    status: str
    detail: str


_REASONS = {
    ProblemKind.OFFLINE: ("you appear to be offline",
                          "Connect to the internet and press Retry, or use a model already on "
                          "this machine."),
    ProblemKind.DAMAGED: ("the files received were damaged",
                          "Press Retry to download it again; if it keeps failing, a proxy or "
                          "mirror may be altering the file."),
    ProblemKind.UNREACHABLE: ("its download sources are not working",
                              "Press Retry later, or use a model already on this machine."),
}


def download_problem(error: DownloadError, model_id: str, model_name: str) -> DownloadProblem:
    """The short form of ``error``, raised while downloading ``model_id``."""
    detail = str(error)
    if isinstance(error, OfflineError):
        kind = ProblemKind.OFFLINE
    elif isinstance(error, ChecksumError):
        kind = ProblemKind.DAMAGED
    elif detail.startswith("could not download"):
        kind = ProblemKind.UNREACHABLE
    else:  # disk space, a cache folder that cannot be written: already one plain sentence
        kind = ProblemKind.OTHER
    if kind is ProblemKind.OTHER:
        reason = detail.split("; ")[0]
        advice = "Free some space or fix the cache folder, then press Retry."
    else:
        reason, advice = _REASONS[kind]
    return DownloadProblem(
        model_id=model_id, model_name=model_name, kind=kind,
        headline=f"Can't download {model_name}: {reason}",
        advice=advice,
        status=f"{model_name} was not downloaded: {reason}.",
        detail=detail,
    )
