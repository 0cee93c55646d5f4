"""The main window: composes the panels, wires their signals to the inference service.

The "Classify" tab holds the image pane, the model picker and the top-5 chart; colleagues'
panels (batch, camera, …) arrive through :meth:`MainWindow.add_tab`. The window holds no model
logic: it forwards what the user does to :class:`InferenceService` and shows what comes back.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import PySide6
from PySide6.QtCore import QByteArray, QKeyCombination, Qt, Signal, qVersion
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeySequence,
    QPalette,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QTabWidget,
    QWidget,
)

from resnet_desktop import __version__
from resnet_desktop.core.engine import DISPLAY_NAMES
from resnet_desktop.gui.camera.availability import CameraUnavailable, qt_multimedia_problem
from resnet_desktop.gui.classify.controller import LAST_MODEL_KEY, PROVIDER_KEY, ClassifyController
from resnet_desktop.gui.classify.image_pane import ImagePane
from resnet_desktop.gui.classify.top5_chart import Top5Chart
from resnet_desktop.gui.classify.view import ClassifyView
from resnet_desktop.gui.classify.where_it_looked import WhereItLooked, WhereItLookedBar
from resnet_desktop.gui.error_hook import ErrorReporter
from resnet_desktop.gui.keywords.vocabulary_store import VocabularyStore
from resnet_desktop.gui.models.picker import ModelPicker
from resnet_desktop.gui.settings import app_settings, read_str_list
from resnet_desktop.gui.widgets import palette as colours
from resnet_desktop.gui.widgets.download_bar import DownloadBar
from resnet_desktop.gui.widgets.formatting import format_bytes
from resnet_desktop.gui.workers.inference import InferenceService, LoadedModel

if TYPE_CHECKING:  # the other tabs' panels and the dialogs are imported when first opened
    from resnet_desktop.gui.batch.panel import BatchPanel
    from resnet_desktop.gui.camera.panel import CameraPanel
    from resnet_desktop.gui.keywords.vocabulary_editor import VocabularyEditor
    from resnet_desktop.gui.models.compare_dialog import CompareDialog
    from resnet_desktop.gui.models.import_dialog import ModelImportDialog
    from resnet_desktop.gui.models.info_panel import ModelInfoPanel
    from resnet_desktop.gui.models.validate_dialog import ValidateDialog

log = logging.getLogger(__name__)

RECENT_KEY = "recent/images"
MAX_RECENT = 10
DEFAULT_SIZE = (1100, 700)


def _scrollable(panel: QWidget) -> QScrollArea:
    """A tab whose panel scrolls rather than forcing the whole window to its minimum size."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setWidget(panel)
    return area


class MainWindow(QMainWindow):
    """The application window. ``remember=False`` neither reads nor writes the settings."""

    model_changed = Signal(str, str)
    """(model, provider policy) once a model has loaded: a catalog id or an ``.onnx`` path."""
    result_shown = Signal(object)
    """The :class:`Classification` now on the chart."""

    def __init__(self, service: InferenceService | None = None, *, remember: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("ResNet Desktop")
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self._remember = remember
        self._closed = False
        self.service = service if service is not None else InferenceService(parent=self)
        self.models = self.service.models
        self.errors = ErrorReporter(self)
        self.errors.reported.connect(lambda text: self.notify(text, error=True))

        self.pane = ImagePane(self)
        self.picker = ModelPicker(self.service.engine, self, remember=remember)
        self.chart = Top5Chart(self)
        self.controller = ClassifyController(self.service, self.pane, self.picker, self.chart,
                                             self, remember=remember)
        self.cam_bar = WhereItLookedBar(self)
        self.where_it_looked = WhereItLooked(self.cam_bar, self.pane, self.chart, self.service,
                                             self)
        self.classify_view = ClassifyView(self.pane, self.picker, self.chart, self,
                                          over_image=self.cam_bar)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.classify_view, "Classify")
        self.setCentralWidget(self.tabs)
        self._add_panels()
        self.vocabulary = VocabularyStore(self)
        self.vocabulary.changed.connect(self.chart.set_vocabulary)
        self._vocabulary_editor: VocabularyEditor | None = None

        self.download_bar = DownloadBar(self)
        self.provider_label = QLabel(self)
        self.provider_label.setTextFormat(Qt.TextFormat.PlainText)
        self.timing_label = QLabel(self)
        self.timing_label.setTextFormat(Qt.TextFormat.PlainText)
        status = self.statusBar()
        status.addPermanentWidget(self.download_bar, 1)
        status.addPermanentWidget(self.provider_label)
        status.addPermanentWidget(self.timing_label)

        self._build_menus()
        self._connect()
        self._restore()
        self.models.select(self.picker.current_model(), self.picker.current_provider())
        self.vocabulary.load()
        if self.vocabulary.error:
            self.notify(f"Keyword vocabulary not used: {self.vocabulary.error}", error=True)

    # -- the API other panels use ----------------------------------------------------------------

    def add_tab(self, widget: QWidget, title: str) -> int:
        """Add a panel as a tab after "Classify"; returns its index."""
        return self.tabs.addTab(widget, title)

    def _add_panels(self) -> None:
        """The other tabs, each an empty page until it is first shown or its panel first asked
        for: none is needed for the first paint, and their imports are heavy (Batch: the
        sidecar stack with exiv2, lxml and sqlite3; Camera: Qt Multimedia; Model Info: onnx
        for the facts it reads whenever a model loads)."""
        self._batch_panel: BatchPanel | None = None
        self._camera_panel: CameraPanel | None = None
        self._info_panel: ModelInfoPanel | None = None
        self._camera_built = False
        self._batch_area, self._camera_area, self._info_area = (
            _scrollable(QWidget()) for _ in range(3))
        self.batch_tab = self.add_tab(self._batch_area, "Batch")
        self.camera_tab = self.add_tab(self._camera_area, "Camera")
        self.info_tab = self.add_tab(self._info_area, "Model Info")
        self.tabs.currentChanged.connect(self._build_page)

    def _build_page(self, index: int) -> None:
        """Build the panel of the tab now shown, if it is not built yet."""
        if index == self.batch_tab:
            _ = self.batch_panel
        elif index == self.camera_tab:
            self._build_camera_page()
        elif index == self.info_tab:
            _ = self.info_panel

    @property
    def batch_panel(self) -> BatchPanel:
        """The Batch tab's panel, built when first needed; it observes the model service's
        selection and the vocabulary store."""
        if self._batch_panel is None:
            from resnet_desktop.gui.batch.panel import BatchPanel

            panel = BatchPanel(self.models, self)
            panel.set_vocabulary(self.vocabulary.vocabulary)
            self.vocabulary.changed.connect(panel.set_vocabulary)
            panel.image_activated.connect(lambda path: self.show_image_path(Path(path)))
            self._batch_area.setWidget(panel)
            self._batch_panel = panel
        return self._batch_panel

    @property
    def info_panel(self) -> ModelInfoPanel:
        """The Model Info tab's panel, built when first needed: it shows the loaded model, then
        each model that loads."""
        if self._info_panel is None:
            from resnet_desktop.gui.models.info_panel import ModelInfoPanel

            panel = ModelInfoPanel(self.models.engine, self)
            self.model_changed.connect(lambda model, _provider: panel.show_model(model))
            self._info_area.setWidget(panel)
            self._info_panel = panel
            loaded = self.loaded_model()
            if loaded is not None:
                panel.show_model(loaded.model)
        return self._info_panel

    @property
    def camera_panel(self) -> CameraPanel | None:
        """The Camera tab's panel (None without Qt Multimedia), built when first needed."""
        self._build_camera_page()
        return self._camera_panel

    def _build_camera_page(self) -> None:
        """Qt Multimedia and the camera panel load when the Camera tab is first shown, not
        before the window's first paint (they take a tenth of a second or more)."""
        if self._camera_built:
            return
        self._camera_built = True
        camera_problem = qt_multimedia_problem()
        if camera_problem is None:
            from resnet_desktop.gui.camera.panel import CameraPanel  # imports Qt Multimedia

            self._camera_panel = CameraPanel(self.models, self)
            self._camera_panel.snapshot_sent.connect(
                lambda path: self.show_image_path(Path(path)))
            self._camera_area.setWidget(self._camera_panel)
        else:
            self._camera_area.setWidget(CameraUnavailable(camera_problem))

    def current_model(self) -> str:
        """The selected model: a catalog id or an ``.onnx`` path."""
        return self.picker.current_model()

    def current_provider(self) -> str:
        """The selected provider policy: auto, cpu, cuda or directml."""
        return self.picker.current_provider()

    def loaded_model(self) -> LoadedModel | None:
        """The model that answers now, with the provider that actually runs it."""
        return self.controller.loaded_model()

    def show_image_path(self, path: Path) -> None:
        """Show one file in the Classify tab and classify it."""
        self.tabs.setCurrentWidget(self.classify_view)
        self.pane.open_paths([Path(path)])

    def open_images(self, paths: list[Path]) -> None:
        """Show several files as a strip in the Classify tab."""
        self.tabs.setCurrentWidget(self.classify_view)
        self.pane.open_paths([Path(p) for p in paths])

    def select_model(self, model: str, provider: str | None = None) -> bool:
        """Select ``model`` (catalog id or ``.onnx`` path) and load it, as if the user chose it."""
        return self.controller.select_model(model, provider)

    def edit_vocabulary(self) -> VocabularyEditor:
        """Open the keyword vocabulary editor (window-modal); Save puts it in force everywhere."""
        if self._vocabulary_editor is None:
            from resnet_desktop.gui.keywords.vocabulary_editor import VocabularyEditor

            editor = VocabularyEditor(self.vocabulary, self)
            editor.finished.connect(self._forget_vocabulary_editor)
            self._vocabulary_editor = editor
            editor.open()
        return self._vocabulary_editor

    def _forget_vocabulary_editor(self) -> None:
        if self._vocabulary_editor is not None:
            self._vocabulary_editor.deleteLater()
            self._vocabulary_editor = None

    def notify(self, text: str, *, error: bool = False, timeout_ms: int = 0) -> None:
        """A one-line message in the status bar (errors stay until the next message)."""
        if error:
            log.info("shown to the user: %s", text)
        self.statusBar().showMessage(text, timeout_ms)
        self.statusBar().setToolTip(text)

    # -- building ------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open Images…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.choose_images)
        self.paste_action = QAction("&Paste Image", self)
        self.paste_action.setShortcut(QKeySequence.StandardKey.Paste)
        self.paste_action.triggered.connect(self.paste)
        self.add_model_action = QAction("&Add Model…", self)
        self.add_model_action.triggered.connect(self.import_model)
        self.validate_action = QAction("&Validate on a Labelled Folder…", self)
        self.validate_action.triggered.connect(self.validate_model)
        self.compare_action = QAction("&Compare Models…", self)
        self.compare_action.triggered.connect(self.compare_models)
        self.remove_model_action = QAction("&Remove From My Models", self)
        self.remove_model_action.setToolTip("Take the selected custom model off the list; its "
                                            "file stays where it is")
        self.remove_model_action.triggered.connect(
            lambda: self.picker.remove_custom_model(self.picker.current_model()))
        self.info_action = QAction("Model &Info", self)
        self.info_action.triggered.connect(lambda: self.tabs.setCurrentIndex(self.info_tab))
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence(QKeyCombination(
            Qt.KeyboardModifier.ControlModifier, Qt.Key.Key_Q)))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        file_menu.insertAction(self.recent_menu.menuAction(), self.open_action)
        file_menu.addAction(self.paste_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        models_menu = self.menuBar().addMenu("&Models")
        models_menu.addAction(self.add_model_action)
        models_menu.addAction(self.remove_model_action)
        models_menu.addAction(self.info_action)
        models_menu.addAction(self.validate_action)
        models_menu.addAction(self.compare_action)

        keywords_menu = self.menuBar().addMenu("&Keywords")
        self.vocabulary_action = QAction("Edit &Vocabulary…", self)
        self.vocabulary_action.triggered.connect(self.edit_vocabulary)
        keywords_menu.addAction(self.vocabulary_action)

        view_menu = self.menuBar().addMenu("&View")
        self.fullscreen_action = QAction("&Full Screen", self)
        self.fullscreen_action.setCheckable(True)
        self.fullscreen_action.setShortcut(QKeySequence(Qt.Key.Key_F11))
        self.fullscreen_action.triggered.connect(self.toggle_full_screen)
        view_menu.addAction(self.fullscreen_action)

        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = QAction("&About ResNet Desktop", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        help_menu.addAction(self.about_action)
        for action in (self.open_action, self.paste_action, self.quit_action,
                       self.fullscreen_action):
            self.addAction(action)  # shortcuts work in full screen, where menus are hidden

    def _connect(self) -> None:
        controller = self.controller
        controller.message.connect(
            lambda text, error, timeout: self.notify(text, error=error, timeout_ms=timeout))
        controller.timing_changed.connect(self._show_timing)
        controller.model_loaded.connect(self._show_provider)
        self.service.provider_changed.connect(self._on_provider_changed)
        controller.image_shown.connect(self._remember_image)
        controller.model_changed.connect(self.model_changed)
        controller.result_shown.connect(self.result_shown)
        self.picker.selection_changed.connect(self.models.select)
        self.picker.selection_changed.connect(
            lambda model, _provider: self.remove_model_action.setEnabled(
                self.picker.is_custom(model)))
        self.remove_model_action.setEnabled(self.picker.is_custom(self.picker.current_model()))
        self.picker.add_model_requested.connect(self.import_model)
        self.picker.message.connect(lambda text, error: self.notify(text, error=error))
        self.download_bar.cancel_requested.connect(self.cancel_download)
        # The last inference time is the Classify tab's; other tabs show their own rates.
        self.tabs.currentChanged.connect(
            lambda index: self.timing_label.setVisible(
                self.tabs.widget(index) is self.classify_view))
        self.models.download_started.connect(self.download_bar.start)
        self.models.download_progressed.connect(self.download_bar.update_progress)
        self.models.download_ended.connect(self._on_download_ended)

    def _restore(self) -> None:
        self.resize(*DEFAULT_SIZE)
        if not self._remember:
            return
        settings = app_settings()
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        splitter = settings.value("window/splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.classify_view.splitter.restoreState(splitter)
        provider = settings.value(PROVIDER_KEY)
        if isinstance(provider, str) and provider:
            self.picker.select_provider(provider)
        last = settings.value(LAST_MODEL_KEY)
        if isinstance(last, str) and last and not self.picker.select_model(last):
            log.info("last model %s is no longer available", last)

    def _save(self) -> None:
        if not self._remember:
            return
        settings = app_settings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        settings.setValue("window/splitter", self.classify_view.splitter.saveState())
        settings.sync()

    def warn_about_runtime(self) -> None:
        """Say in the status bar when several ONNX Runtime flavours are installed. The app
        calls it once the window has painted: the check reads the installed packages'
        metadata (importlib.metadata), which the first paint does without."""
        from resnet_desktop.core.engine import flavour_warning

        warning = flavour_warning()
        if warning:
            log.warning("%s", warning)
            self.notify(warning, error=True)

    def start(self, download: bool = False) -> None:
        """Load the selected model now if that needs no download (or ``download`` is true);
        otherwise it downloads when the first image arrives."""
        self.controller.start(download)

    # -- actions ---------------------------------------------------------------------------------

    def choose_images(self) -> None:
        from resnet_desktop.core.imaging.decode import EXTENSIONS  # numpy, Pillow: not at start

        patterns = " ".join(f"*{ext}" for ext in EXTENSIONS)
        paths, _ = QFileDialog.getOpenFileNames(self, "Open images", self._last_folder(),
                                                f"Images ({patterns});;All files (*)")
        if paths:
            self.open_images([Path(p) for p in paths])

    def paste(self) -> None:
        self.tabs.setCurrentWidget(self.classify_view)
        self.pane.paste()

    def import_model(self) -> ModelImportDialog:
        """The form that writes a custom model's manifest; the model joins "My models"."""
        from resnet_desktop.gui.models.import_dialog import ModelImportDialog

        dialog = ModelImportDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.model_imported.connect(lambda path: self.picker.add_custom_model(Path(path)))
        dialog.open()
        return dialog

    def validate_model(self) -> ValidateDialog:
        """Top-1/top-5 of the current model on a labelled folder."""
        from resnet_desktop.gui.models.validate_dialog import ValidateDialog

        dialog = ValidateDialog(self.models, self.current_model(),
                                self.current_provider(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def compare_models(self) -> CompareDialog:
        """Several models side by side on the Classify tab's images (the current model first
        ticked)."""
        from resnet_desktop.gui.models.compare_dialog import CompareDialog

        images = [s.path for s in self.pane.sources() if s.path is not None]
        dialog = CompareDialog(self.models, images, [self.current_model()],
                               self.current_provider(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def cancel_download(self) -> None:
        """The status bar's Cancel: stops every tab's download (partial files stay)."""
        self.download_bar.cancel_button.setEnabled(False)
        self.models.cancel_downloads()

    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()
        self.fullscreen_action.setChecked(self.isFullScreen())

    def show_about(self) -> None:
        QMessageBox.about(self, "About ResNet Desktop", self.about_text())

    def about_text(self) -> str:
        import onnxruntime  # loaded by the first model anyway; not needed for the first paint

        loaded = self.loaded_model()
        if loaded is not None:
            model = (f"<p>Model: {loaded.name} ({loaded.id})<br>Licence: "
                     f"{loaded.license or 'not stated'}<br>Running on: "
                     f"{loaded.provider.display}</p>")
        else:
            model = "<p>No model loaded yet.</p>"
        return (f"<h3>ResNet Desktop {__version__}</h3>"
                "<p>Classifies images with the ONNX Model Zoo ResNets.</p>"
                f"{model}"
                f"<p>Qt {qVersion()} · PySide6 {PySide6.__version__} · "
                f"ONNX Runtime {onnxruntime.__version__} "
                f"({', '.join(onnxruntime.get_available_providers())})</p>")

    # -- recent images ---------------------------------------------------------------------------

    def recent_images(self) -> list[str]:
        return read_str_list(app_settings(), RECENT_KEY) if self._remember else []

    def _remember_image(self, path: Path) -> None:
        if not self._remember:
            return
        text = str(Path(path).resolve())
        recent = [p for p in self.recent_images() if p != text]
        app_settings().setValue(RECENT_KEY, [text, *recent][:MAX_RECENT])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_images()
        for path in recent:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self.show_image_path(Path(p)))
        if not recent:
            self.recent_menu.addAction("No recent images").setEnabled(False)
            return
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear Recent", self._clear_recent)

    def _clear_recent(self) -> None:
        if self._remember:
            app_settings().remove(RECENT_KEY)

    def _last_folder(self) -> str:
        recent = self.recent_images()
        return str(Path(recent[0]).parent) if recent else ""

    # -- flows -----------------------------------------------------------------------------------

    def _on_download_ended(self, name: str, outcome: str, kept: int) -> None:
        if not self.models.is_downloading():
            self.download_bar.finish()
        if outcome == "cancelled":
            kept_text = f"; {format_bytes(kept)} kept, it resumes next time" if kept else ""
            self.notify(f"Download of {name} cancelled{kept_text}.")

    def _show_timing(self, text: str) -> None:
        self.timing_label.setText(text)
        self.timing_label.setToolTip("Inference time of the last image (preprocessed tensor "
                                     "to probabilities)" if text else "")

    def _on_provider_changed(self, loaded: LoadedModel) -> None:
        self._show_provider(loaded)
        self.notify(f"{loaded.name} now runs on the CPU: {loaded.provider.fallback_reason}",
                    error=True)

    def _show_provider(self, loaded: LoadedModel) -> None:
        status = loaded.provider
        text = DISPLAY_NAMES.get(status.active, status.active)
        if status.fallback_reason:
            text += " (GPU unavailable)"
            self.provider_label.setToolTip(status.fallback_reason)
            palette = self.provider_label.palette()
            palette.setColor(self.provider_label.foregroundRole(), colours.warning(palette))
            self.provider_label.setPalette(palette)
        else:
            self.provider_label.setToolTip(f"{loaded.name} runs on {status.display}")
            self.provider_label.setPalette(QPalette())
        self.provider_label.setText(text)

    # -- drops anywhere on the Classify tab go to the image pane ------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.tabs.currentWidget() is self.classify_view:
            self.pane.dragEnterEvent(event)
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self.pane.dragMoveEvent(event)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.pane.dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self.pane.dropEvent(event)

    # -- closing ---------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Cancel downloads and inference, stop the threads (about a second at most)."""
        if self._closed:
            return
        self._closed = True
        if self._batch_panel is not None:
            self._batch_panel.shutdown()
        if self._camera_panel is not None:
            self._camera_panel.shutdown(500)
        if self._info_panel is not None:
            self._info_panel.shutdown()
        self.models.cancel_downloads()
        self.service.shutdown(1000)
        self.pane.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        self._save()
        super().closeEvent(event)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.WindowStateChange:
            self.fullscreen_action.setChecked(self.isFullScreen())
        elif event.type() == event.Type.PaletteChange and self.loaded_model() is not None:
            self._show_provider(self.loaded_model())  # its warning colour follows light/dark
