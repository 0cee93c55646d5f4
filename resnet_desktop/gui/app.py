"""Start the desktop app: ``resnet-desktop [--model ID|PATH] [--image FILE] [--screenshot PNG
[--size WxH] [--tab TAB]] [IMAGE ...]``.

``cli.main`` sends every invocation without a subcommand here. Options Qt understands (such as
``-platform offscreen``) are passed on to QApplication. Image paths open in the Classify tab:
that is how a file manager's "Open With" (the ``.desktop`` file's ``%F``, Windows' ``"%1"``)
hands files over; on macOS they arrive as ``QFileOpenEvent`` instead.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from resnet_desktop import __version__
from resnet_desktop.core.engine import POLICIES
from resnet_desktop.core.foundation.errors import ResNetDesktopError
from resnet_desktop.core.foundation.paths import data_dir
from resnet_desktop.gui import error_hook
from resnet_desktop.gui.display_check import missing_display
from resnet_desktop.gui.settings import APPLICATION, ORGANIZATION
from resnet_desktop.gui.widgets.icon import app_icon

if TYPE_CHECKING:
    from resnet_desktop.gui.main_window import MainWindow

log = logging.getLogger(__name__)

LOG_NAME = "resnet-desktop.log"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resnet-desktop",
        description="Open the ResNet Desktop window.",
    )
    parser.add_argument("--model", metavar="ID|PATH",
                        help="catalog id or path to an .onnx file to start with")
    parser.add_argument("--image", metavar="FILE", type=Path, help="image to show and classify")
    parser.add_argument("--provider", choices=POLICIES,
                        help="execution provider (default: the last one used, else auto)")
    parser.add_argument("--screenshot", metavar="OUT.png", type=Path,
                        help="save a PNG of the window once the image is classified (or the "
                             "window shows why it cannot be), then exit (0 once the PNG is "
                             "written, 1 with a message on stderr otherwise)")
    parser.add_argument("--size", type=window_size, default=DEFAULT_SCREENSHOT_SIZE,
                        metavar="WxH", help="window size for --screenshot (default 1100x700)")
    parser.add_argument("--tab", choices=SCREENSHOT_TABS, default="classify",
                        help="what --screenshot shows (default classify; compare: the Compare "
                             "dialog with the images)")
    parser.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                        help="how long --screenshot waits for the result (default 120)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    parser.add_argument("images", nargs="*", type=Path, metavar="IMAGE",
                        help="images to open in the Classify tab (the first is shown)")
    return parser


DEFAULT_SCREENSHOT_SIZE = (1100, 700)
SCREENSHOT_TABS = ("classify", "batch", "camera", "info", "compare")


def window_size(text: str) -> tuple[int, int]:
    """``800x600`` → (800, 600); anything else is a usage error."""
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or not (
            100 <= int(width) <= 10000 and 100 <= int(height) <= 10000):
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 800x600")
    return int(width), int(height)


# Qt's command-line options that take a value: kept apart so that the value ("offscreen" in
# "-platform offscreen") is not taken for an image path.
QT_OPTIONS_WITH_VALUE = frozenset({
    "-platform", "-platformpluginpath", "-platformtheme", "-plugin", "-qmljsdebugger", "-style",
    "-stylesheet", "-session", "-display", "-geometry", "-qwindowgeometry", "-title",
    "-qwindowtitle", "-qwindowicon", "-name", "-dialogs", "-fontengine",
})


def split_qt_options(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the app's arguments, Qt's options that take a value, with their values)."""
    ours: list[str] = []
    qt: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token in QT_OPTIONS_WITH_VALUE:
            qt += [token, next(tokens, "")]
        else:
            ours.append(token)
    return ours, qt


class FileOpenForwarder(QObject):
    """macOS: Finder's "Open With" and a drop on the Dock icon send the app a QFileOpenEvent
    (argv emulation is off in the bundle, so no file arrives in argv); each event opens its
    file in the Classify tab, whether the app was just started by it or already running."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen and event.file():
            self._window.open_images([Path(event.file())])
            return True
        return super().eventFilter(watched, event)


def _configure_logging(verbose: bool) -> list[logging.Handler]:
    """Log to stderr (unless the host already set logging up) and to a file for bug reports."""
    added: list[logging.Handler] = []
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.INFO if verbose else logging.WARNING)
        root.addHandler(handler)
        root.setLevel(logging.INFO if verbose else logging.WARNING)
        added.append(handler)
    try:
        folder = data_dir()
        folder.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            folder / LOG_NAME, maxBytes=1_000_000, backupCount=2, encoding="utf-8")
    except OSError as exc:
        log.warning("cannot write the log file: %s", exc)
    else:
        file_handler.setLevel(logging.INFO)
        file_handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("resnet_desktop").addHandler(file_handler)
        if logging.getLogger("resnet_desktop").getEffectiveLevel() > logging.INFO:
            logging.getLogger("resnet_desktop").setLevel(logging.INFO)
        added.append(file_handler)
    return added


def _remove_logging(handlers: list[logging.Handler]) -> None:
    for handler in handlers:
        logging.getLogger().removeHandler(handler)
        logging.getLogger("resnet_desktop").removeHandler(handler)
        handler.close()


def _application(qt_args: list[str]) -> QApplication:
    app = QApplication.instance()
    if app is None:
        QGuiApplication.setDesktopFileName("resnet-desktop")
        app = QApplication([sys.argv[0] if sys.argv else "resnet-desktop", *qt_args])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationVersion(__version__)
    app.setWindowIcon(app_icon())
    return app


def run(argv: Sequence[str] | None = None) -> int:
    """Open the window (or take a screenshot); returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    ours, qt_args = split_qt_options(argv)
    try:
        args, other_args = parser.parse_known_intermixed_args(ours)
    except SystemExit as exc:
        return int(exc.code or 0)
    qt_args += other_args
    unknown = [a for a in qt_args if a.startswith("--")]
    if unknown:
        parser.print_usage(sys.stderr)
        print(f"resnet-desktop: error: unrecognized arguments: {' '.join(unknown)}",
              file=sys.stderr)
        return 2
    if args.screenshot is not None and args.image is not None and not args.image.exists():
        print(f"resnet-desktop: error: {args.image}: file not found", file=sys.stderr)
        return 2
    problem = None if QApplication.instance() else missing_display(qt_args)
    if problem:  # Qt would abort with several lines about platform plugins
        print(f"resnet-desktop: error: {problem}", file=sys.stderr)
        return 2
    handlers = _configure_logging(args.verbose)
    app = _application(qt_args)

    from resnet_desktop.gui.main_window import MainWindow

    try:
        window = MainWindow(remember=args.screenshot is None)
    except ResNetDesktopError as exc:  # e.g. a broken catalog named by RESNET_DESKTOP_CATALOG
        print(f"resnet-desktop: error: {exc}", file=sys.stderr)
        if args.screenshot is None:
            QMessageBox.critical(None, "ResNet Desktop cannot start", str(exc))
        _remove_logging(handlers)
        return 2
    uninstall_hook = error_hook.install(window.errors)
    file_opener = FileOpenForwarder(window)
    app.installEventFilter(file_opener)
    try:
        if args.provider:
            window.picker.select_provider(args.provider)
        if args.screenshot is not None:
            if args.model and not window.select_model(args.model, args.provider):
                message = (window.statusBar().currentMessage()
                           or f"cannot use model {args.model!r}")
                print(f"resnet-desktop: error: {message}", file=sys.stderr)
                return 2
            return _screenshot(window, args)
        window.show()
        first_paint = FirstPaint(window, partial(_open_requested, window, args))
        code = app.exec()
        first_paint.deleteLater()
        return code
    except ResNetDesktopError as exc:
        print(f"resnet-desktop: error: {exc}", file=sys.stderr)
        return 2
    finally:
        app.removeEventFilter(file_opener)
        window.shutdown()
        if not window.service.shutdown(10_000):
            log.error("the inference thread did not stop")
        window.deleteLater()
        uninstall_hook()
        _remove_logging(handlers)


class FirstPaint(QObject):
    """Calls ``then`` once ``window`` has painted for the first time, so that loading the model
    and the images (superqt's workers, ONNX Runtime, decoding) never delays the first paint.

    A window that is never painted (started minimised, on another desktop) still gets its model
    and images after ``FALLBACK_MS``."""

    FALLBACK_MS = 1500

    def __init__(self, window: QWidget, then: Callable[[], None]) -> None:
        super().__init__()
        self._window = window
        self._then: Callable[[], None] | None = then
        window.installEventFilter(self)
        QTimer.singleShot(self.FALLBACK_MS, self, self._run)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() == QEvent.Type.Paint:
            self._window.removeEventFilter(self)
            QTimer.singleShot(0, self, self._run)  # after this paint has reached the screen
        return False

    def _run(self) -> None:
        then, self._then = self._then, None
        if then is not None:
            then()


def _open_requested(window: MainWindow, args: argparse.Namespace) -> None:
    """What the command line asked for: its model (else the last or default one) and images."""
    window.warn_about_runtime()
    if not (args.model and window.select_model(args.model, args.provider)):
        window.start()
    if args.image is not None:
        window.show_image_path(args.image)
    if args.images:
        window.open_images(args.images)


def _screenshot(window, args: argparse.Namespace) -> int:
    from resnet_desktop.gui.screenshot import ScreenshotTaker

    images = ([args.image] if args.image is not None else []) + list(args.images)
    taker = ScreenshotTaker(window, args.screenshot, expect_image=bool(images),
                            timeout_s=args.timeout, tab=args.tab, images=images)
    outcome: list[tuple[int, str]] = []
    loop = QEventLoop()

    def done(code: int, message: str) -> None:
        outcome.append((code, message))
        loop.quit()

    taker.finished.connect(done)
    window.resize(*args.size)
    window.show()
    window.warn_about_runtime()
    taker.start()
    if not args.model:
        window.start(download=not images)
    if images:
        window.open_images(images)
    if not outcome:
        loop.exec()
    window.close()
    code, message = outcome[0]
    if code != 0:
        print(f"resnet-desktop: screenshot failed: {message}", file=sys.stderr)
    elif taker.shown_error:
        print(f"resnet-desktop: the screenshot shows an error: {taker.shown_error}",
              file=sys.stderr)
    return code
