"""``resnet-desktop``: the command line over the same engine as the GUI.

``resnet-desktop`` with no subcommand (or only GUI options such as ``--screenshot``) starts
the window; ``classify``, ``tag``, ``models``, ``info`` and ``validate`` run headless.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from resnet_desktop import __version__
from resnet_desktop.core.engine import Cancelled, ResNetDesktopError


def build_parser() -> argparse.ArgumentParser:
    # The subcommands are imported only here, for a command: the window (this module is its
    # entry point too) starts without their imports (numpy, tqdm, onnx, exiv2, lxml, …).
    from resnet_desktop.cli import classify, compare, import_model, info, models, tag, validate

    parser = argparse.ArgumentParser(
        prog="resnet-desktop",
        description="Classify images with the ONNX Model Zoo ResNets. Without a subcommand the "
                    "desktop window opens.",
        epilog="window options (no subcommand): --model ID|PATH, --provider "
               "auto|cpu|cuda|directml, --image FILE, --screenshot OUT.png [--size WxH] [--tab "
               "classify|batch|camera|info|compare] (open, classify, save "
               "a PNG of the window, exit), --self-test (check the installation and exit)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (classify, models, tag, info, validate, import_model, compare):
        module.register(sub)
    return parser


COMMANDS = frozenset({"classify", "models", "tag", "info", "validate", "import", "compare"})
# The window's options that take a value: "--tab info" is not the info command.
GUI_VALUE_OPTIONS = frozenset({"--model", "--image", "--provider", "--screenshot", "--timeout",
                               "--size", "--tab", "--self-test-report"})


def _is_gui_invocation(argv: Sequence[str]) -> bool:
    """No subcommand among the positional arguments (the images "Open with" hands over)."""
    if any(arg in ("-h", "--help", "--version") for arg in argv):
        return False
    tokens = iter(argv)
    for token in tokens:
        if token in GUI_VALUE_OPTIONS:
            next(tokens, None)
        elif not token.startswith("-"):
            return token not in COMMANDS
    return True


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--self-test" in argv:
        from resnet_desktop.self_test import run_self_test

        return run_self_test()
    if _is_gui_invocation(argv):
        from resnet_desktop.gui.app import run

        return run(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if os.name == "posix" and hasattr(sys.stdout, "reconfigure"):
        # A file name that is not UTF-8 prints as its own bytes, as `ls` prints it, instead of
        # a UnicodeEncodeError under a strict UTF-8 locale.
        sys.stdout.reconfigure(errors="surrogateescape")
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except Cancelled:
        print("resnet-desktop: cancelled", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`resnet-desktop models list | head`): quietly stop writing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("\nresnet-desktop: interrupted", file=sys.stderr)
        return 130
    except ResNetDesktopError as exc:
        print(f"resnet-desktop: error: {exc}", file=sys.stderr)
        return 2
