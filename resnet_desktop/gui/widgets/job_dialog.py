"""A dialog whose work runs in the background on a task runner of its own.

The validate and compare dialogs share this life cycle: Cancel stops the running job (and
closes the dialog when nothing runs), and closing the dialog in any way cancels the job and
waits for it, so no worker outlives the widgets its answers would reach.
"""

from __future__ import annotations

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDialog, QLabel, QWidget

from resnet_desktop.gui.workers.task_runner import TaskRunner


class JobDialog(QDialog):
    """A QDialog with ``runner`` (one job at a time) and the Cancel/close behaviour above."""

    def __init__(self, what: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = TaskRunner(self, what)

    @property
    def running(self) -> bool:
        return self.runner.busy

    def status_line(self) -> QLabel:
        """The label that says "Cancelling…" while a cancelled job winds down."""
        raise NotImplementedError

    def cancel(self) -> None:
        if self.runner.busy:
            self.status_line().setText("Cancelling…")
            self.runner.cancel()
        else:
            self.reject()

    def shutdown(self) -> None:
        self.runner.shutdown()

    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
