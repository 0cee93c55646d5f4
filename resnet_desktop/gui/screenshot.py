"""``--screenshot OUT.png``: wait until the chart shows the image's result, then save the window.

For docs, tests and bug reports; works on the offscreen platform. What a person would see is
captured in every state: a model that cannot be downloaded or loaded, or an image that cannot be
read, is photographed as the window shows it (and named on stderr). ``--tab`` picks the tab
(``compare`` photographs the Compare dialog with the images). The PNG is written atomically, so
a failed run never leaves a half-written file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from resnet_desktop.core.foundation.atomic import atomic_write_bytes
from resnet_desktop.gui.classify.image_pane import ImageSource
from resnet_desktop.gui.main_window import MainWindow
from resnet_desktop.gui.workers.inference import LoadedModel

if TYPE_CHECKING:  # its module imports numpy: the window paints before that loads
    from resnet_desktop.core.engine import Classification

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 120.0
SETTLE_MS = 100
"""After the bars stop, one more paint before the grab."""


def window_png(window: QWidget) -> bytes:
    """The whole window (or dialog) rendered to PNG bytes."""
    pixmap = window.grab()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not pixmap.save(buffer, "PNG"):
        raise OSError("the window could not be encoded as PNG")
    buffer.close()
    return bytes(data.data())


def _usual_permissions(path: Path) -> None:
    """Give the PNG the permissions of a normally created file (the temporary file behind the
    atomic write is private to the user)."""
    if os.name != "posix":
        return
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


class ScreenshotTaker(QObject):
    """Watches ``window`` and emits :attr:`finished` (exit code, message) once done or failed."""

    finished = Signal(int, str)

    def __init__(self, window: MainWindow, output: Path, *, expect_image: bool,
                 timeout_s: float = DEFAULT_TIMEOUT_S, tab: str = "classify",
                 images: list[Path] | None = None) -> None:
        super().__init__(window)
        self._window = window
        self._output = Path(output)
        self._expect_image = expect_image
        self._tab = tab
        self._images = list(images or [])
        self._subject: QWidget = window
        self.shown_error = ""
        """The error the window shows in the picture ('' when it shows a result)."""
        self._done = False
        self._result: Classification | None = None
        self._timeout_s = timeout_s
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timeout)
        if tab == "info":
            # Built on first use (other pictures do without the facts it reads), and before
            # model_changed is connected below, so that the panel is busy reading the new
            # model's facts by the time _ready asks.
            window.info_panel.facts_ready.connect(lambda _info: self._on_info_settled())
            window.info_panel.failed.connect(lambda _message: self._on_info_settled())
        window.result_shown.connect(self._on_result)
        window.chart.animation_finished.connect(self._maybe_grab)
        window.model_changed.connect(self._on_model_changed)
        window.pane.image_failed.connect(self._on_image_failed)
        window.service.load_failed.connect(lambda _id, message: self._show_error(message))
        window.service.classify_failed.connect(lambda _id, message: self._show_error(message))
        window.service.load_cancelled.connect(
            lambda _id, _ref: self._fail("the model download was cancelled"))

    def start(self) -> None:
        self._timer.start(int(self._timeout_s * 1000))

    def _on_result(self, result: Classification) -> None:
        self._result = result
        self._maybe_grab()

    def _on_model_changed(self, _model: str, _provider: str) -> None:
        if not self._expect_image:
            self._ready()

    def _on_image_failed(self, _source: ImageSource, message: str) -> None:
        self._show_error(message)

    def _show_error(self, message: str) -> None:
        """The window shows an error: photograph it as it is, and say so."""
        if not self.shown_error:
            self.shown_error = message
        self._ready()

    def _ready(self) -> None:
        """The Classify tab shows its final state: switch to the asked-for tab, then grab."""
        if self._done:
            return
        if self._tab == "compare":
            self._open_compare()
        elif self._tab != "classify":
            window = self._window
            pages = {"batch": window.batch_tab, "camera": window.camera_tab,
                     "info": window.info_tab}
            window.tabs.setCurrentIndex(pages[self._tab])
            if self._tab == "info" and window.info_panel.busy_computing:
                return  # facts_ready or failed calls back
        QTimer.singleShot(SETTLE_MS, self, self._grab)

    def _on_info_settled(self) -> None:
        if self._tab == "info" and self._window.tabs.currentIndex() == self._window.info_tab:
            QTimer.singleShot(SETTLE_MS, self, self._grab)

    def _open_compare(self) -> None:
        from resnet_desktop.gui.models.compare_dialog import CompareDialog

        if self._subject is not self._window:
            return
        dialog = CompareDialog(self._window.models, self._images,
                               chosen=[self._window.current_model()],
                               provider=self._window.current_provider(), parent=self._window)
        dialog.show()
        self._subject = dialog

    def _maybe_grab(self) -> None:
        if self._done or self._result is None or self._window.chart.is_animating():
            return
        if self._window.service.has_pending_classification():
            return  # a newer classification (e.g. after the model switched) is on its way
        loaded: LoadedModel | None = self._window.loaded_model()
        if loaded is None or self._result.model != loaded.id:
            return
        self._ready()

    def _grab(self) -> None:
        if self._done:
            return
        if self._window.chart.is_animating():
            return  # animation_finished calls back
        try:
            atomic_write_bytes(self._output, window_png(self._subject))
            _usual_permissions(self._output)
        except OSError as exc:
            self._fail(f"cannot write {self._output}: {exc.strerror or exc}")
            return
        chart = self._window.chart
        shown = ", ".join(f"{label} {p:.1%}" for label, p in
                          zip(chart.labels(), chart.probabilities(), strict=True))
        log.info("screenshot saved to %s; the chart shows %r: %s", self._output,
                 chart.headline(), shown or "no result")
        self._finish(0, str(self._output))

    def _on_timeout(self) -> None:
        what = "the classification" if self._expect_image else "the model"
        self._fail(f"timed out after {self._timeout_s:g} s waiting for {what}")

    def _fail(self, message: str) -> None:
        self._finish(1, message)

    def _finish(self, code: int, message: str) -> None:
        if self._done:
            return
        self._done = True
        self._timer.stop()
        self.finished.emit(code, message)
