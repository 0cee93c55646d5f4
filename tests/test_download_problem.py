"""A failed download becomes one short headline with advice; the full error stays as detail."""

from __future__ import annotations

import pytest

from resnet_desktop.core.engine import ProblemKind, download_problem
from resnet_desktop.core.foundation.errors import ChecksumError, DownloadError, OfflineError
from resnet_desktop.core.models.cache import ModelCache

URLS = ("could not download resnet50-v2-7.onnx from any of its 3 sources: (1) https://a/x.onnx: "
        "HTTP 503; (2) https://b/x.onnx: HTTP 503; (3) https://c/x.onnx: timed out")


def test_offline_mode_names_being_offline_and_keeps_the_technical_text(monkeypatch):
    monkeypatch.setenv("RESNET_DESKTOP_OFFLINE", "1")
    with pytest.raises(OfflineError) as raised:
        ModelCache().ensure("resnet50-v2-7")
    problem = download_problem(raised.value, "resnet50-v2-7", "ResNet-50 v2")
    assert problem.kind is ProblemKind.OFFLINE
    assert problem.headline == "Can't download ResNet-50 v2: you appear to be offline"
    assert problem.status == "ResNet-50 v2 was not downloaded: you appear to be offline."
    assert "Retry" in problem.advice
    assert "RESNET_DESKTOP_OFFLINE" in problem.detail


@pytest.mark.parametrize(("error", "kind", "reason"), [
    (ChecksumError(URLS), ProblemKind.DAMAGED, "the files received were damaged"),
    (DownloadError(URLS), ProblemKind.UNREACHABLE, "its download sources are not working"),
    (DownloadError("not enough disk space in /cache: need 98 MB, 3 MB free"), ProblemKind.OTHER,
     "not enough disk space in /cache: need 98 MB, 3 MB free"),
])
def test_each_kind_of_failure_has_its_own_short_reason(error, kind, reason):
    problem = download_problem(error, "resnet50-v2-7", "ResNet-50 v2")
    assert problem.kind is kind
    assert problem.headline == f"Can't download ResNet-50 v2: {reason}"
    assert "https://" not in problem.headline + problem.status
    assert problem.detail == str(error)
