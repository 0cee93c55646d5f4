"""Run ``resnet-desktop`` in the test's own process and capture what it prints."""

from __future__ import annotations

import pytest

from resnet_desktop.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """``main(args)`` with every argument as text; returns (exit status, stdout, stderr)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err
