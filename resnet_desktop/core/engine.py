"""The core's front door: resolve a model, make sure its file is here, load it, classify, tag.

The CLI and the GUI use the core through this module: :class:`Engine` for models,
classification and tagging, and the names in ``__all__`` for the dataclasses, tokens and
errors they pass and receive. They import a deeper module only where a facade would just
forward (validation, importing a model, the Batch tab's sidecar planning); the CLI's
import-linter contract in ``pyproject.toml`` says which.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from resnet_desktop.core.foundation.cancel import NEVER, CancelToken, PauseToken
from resnet_desktop.core.foundation.errors import (
    Cancelled,
    ModelError,
    ResNetDesktopError,
    first_line,
)
from resnet_desktop.core.foundation.formatting import format_bytes, format_count, plural
from resnet_desktop.core.foundation.regular_file import describe_mode
from resnet_desktop.core.inference.providers import DISPLAY_NAMES, POLICIES, ProviderStatus
from resnet_desktop.core.models.catalog import Catalog, CatalogEntry, load_catalog
from resnet_desktop.core.models.download_problem import (
    DownloadProblem,
    ProblemKind,
    download_problem,
)
from resnet_desktop.core.models.labels import load_labels
from resnet_desktop.core.models.manifest import (
    ModelManifest,
    load_manifest_for,
    preprocessing_text,
)

if TYPE_CHECKING:
    from PIL import Image

    from resnet_desktop.core.batch.run import (
        BatchOptions,
        BatchProgress,
        BatchRecord,
        normalise_extensions,
    )
    from resnet_desktop.core.imaging.decode import EXTENSIONS
    from resnet_desktop.core.inference.classifier import Classifier, Prediction
    from resnet_desktop.core.inference.results import Classification
    from resnet_desktop.core.inference.runtime_check import flavour_warning
    from resnet_desktop.core.keywords.policy import KeywordPolicy
    from resnet_desktop.core.keywords.rollup import CategoryMatch
    from resnet_desktop.core.keywords.vocabulary import (
        DEFAULT_VOCABULARY,
        Vocabulary,
        VocabularyError,
        load_user_vocabulary,
        load_vocabulary,
    )
    from resnet_desktop.core.models.cache import ModelCache
    from resnet_desktop.core.models.download import ProgressCallback
    from resnet_desktop.core.models.facts import ModelDescription
    from resnet_desktop.core.operations.compare import CompareModel, CompareSink
    from resnet_desktop.core.operations.tag_folder import (
        SidecarMode,
        TaggingModel,
        TagRequest,
        TagResult,
        TagSink,
    )
    from resnet_desktop.core.sidecars.undo_journal import UndoError, UndoReport, undo_last
    from resnet_desktop.core.sidecars.xmp import DEFAULT_NAMING, SidecarNaming

__all__ = [
    "DEFAULT_NAMING",
    "DEFAULT_VOCABULARY",
    "DISPLAY_NAMES",
    "EXTENSIONS",
    "POLICIES",
    "BatchOptions",
    "BatchProgress",
    "BatchRecord",
    "CancelToken",
    "Cancelled",
    "CatalogEntry",
    "CategoryMatch",
    "Classification",
    "Classifier",
    "DownloadProblem",
    "Engine",
    "KeywordPolicy",
    "ModelDescription",
    "ModelError",
    "ModelManifest",
    "ModelRef",
    "PauseToken",
    "Prediction",
    "ProblemKind",
    "ProgressCallback",
    "ProviderStatus",
    "ResNetDesktopError",
    "SidecarMode",
    "SidecarNaming",
    "TagRequest",
    "TagResult",
    "TagSink",
    "TaggingModel",
    "UndoError",
    "UndoReport",
    "Vocabulary",
    "VocabularyError",
    "download_problem",
    "flavour_warning",
    "format_bytes",
    "format_count",
    "load_user_vocabulary",
    "load_vocabulary",
    "normalise_extensions",
    "plural",
    "preprocessing_text",
    "undo_last",
]

log = logging.getLogger(__name__)

# The re-exports whose modules the window's first paint does without: numpy and Pillow, the
# batch and sidecar stack (sqlite3, exiv2, lxml), the downloader, ONNX Runtime's and onnx's
# wrappers, importlib.metadata. Each module is imported when one of its names is first asked
# for (PEP 562), so ``from resnet_desktop.core.engine import Engine`` stays cheap; the
# TYPE_CHECKING imports above keep them visible to type checkers and to import-linter.
_LAZY_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("BatchOptions", "BatchProgress", "BatchRecord", "normalise_extensions"),
                    "resnet_desktop.core.batch.run"),
    "EXTENSIONS": "resnet_desktop.core.imaging.decode",
    "Classifier": "resnet_desktop.core.inference.classifier",
    "Prediction": "resnet_desktop.core.inference.classifier",
    "Classification": "resnet_desktop.core.inference.results",
    "flavour_warning": "resnet_desktop.core.inference.runtime_check",
    "KeywordPolicy": "resnet_desktop.core.keywords.policy",
    "CategoryMatch": "resnet_desktop.core.keywords.rollup",
    **dict.fromkeys(("DEFAULT_VOCABULARY", "Vocabulary", "VocabularyError",
                     "load_user_vocabulary", "load_vocabulary"),
                    "resnet_desktop.core.keywords.vocabulary"),
    "ProgressCallback": "resnet_desktop.core.models.download",
    "ModelDescription": "resnet_desktop.core.models.facts",
    **dict.fromkeys(("SidecarMode", "TaggingModel", "TagRequest", "TagResult", "TagSink"),
                    "resnet_desktop.core.operations.tag_folder"),
    **dict.fromkeys(("UndoError", "UndoReport", "undo_last"),
                    "resnet_desktop.core.sidecars.undo_journal"),
    **dict.fromkeys(("DEFAULT_NAMING", "SidecarNaming"), "resnet_desktop.core.sidecars.xmp"),
}


def __getattr__(name: str) -> object:
    """A name of ``_LAZY_EXPORTS``, imported on first use and kept as a module global."""
    module = _LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

@dataclass(frozen=True)
class ModelRef:
    """A model the user named: a catalog entry, or a custom ``.onnx`` file on disk."""

    id: str
    name: str
    manifest: ModelManifest
    entry: CatalogEntry | None = None
    path: Path | None = None

    @property
    def is_custom(self) -> bool:
        return self.entry is None


def folder_is_not_a_model(folder: Path) -> str:
    """What to say when ``--model`` names a folder: which file in it to give instead."""
    models = sorted(p.name for p in folder.glob("*.onnx"))[:3]
    hint = (f"; give the .onnx file in it, e.g. {folder / models[0]}" if models
            else "; give the path of an .onnx file")
    return f"{folder} is a folder, not a model{hint}"


def looks_like_path(model: str) -> bool:
    return model.lower().endswith(".onnx") or "/" in model or "\\" in model


class Engine:
    """Catalog + download cache + session cache. Thread-safe for one caller at a time per task."""

    def __init__(self, catalog: Catalog | None = None, cache: ModelCache | None = None,
                 sessions: int = 2) -> None:
        # The cache imports the downloader (urllib, ssl, filelock); the session cache,
        # ONNX Runtime's wrapper and numpy: neither is needed before the window's first paint.
        from resnet_desktop.core.inference.session_cache import ClassifierCache
        from resnet_desktop.core.models.cache import ModelCache

        self.catalog = catalog if catalog is not None else load_catalog()
        self.cache = cache if cache is not None else ModelCache(catalog=self.catalog)
        self.classifiers = ClassifierCache(sessions)

    @property
    def default_model(self) -> str:
        """The catalog's default ResNet once it is downloaded; until then the built-in model
        (when the catalog has one), so that a fresh or offline machine classifies at once."""
        builtin = self.catalog.builtin_id
        if builtin is None or self.cache.is_cached(self.catalog.default_id):
            return self.catalog.default_id
        return builtin

    def default_note(self) -> str | None:
        """Why the default is the built-in model (one line for the CLI), or None when it is
        the catalog's default ResNet."""
        model = self.default_model
        if model == self.catalog.default_id:
            return None
        builtin, resnet = self.catalog.get(model), self.catalog.get(self.catalog.default_id)
        return (f"using the built-in {builtin.name} ({resnet.name} is not downloaded; "
                f"`resnet-desktop models download {resnet.id}` gets it)")

    def resolve(self, model: str | Path | None = None) -> ModelRef:
        """A catalog id or a path to an ``.onnx`` file (its sidecar manifest is read)."""
        model = str(model) if model else self.default_model
        entry = self.catalog.get(model)
        if entry is not None:
            return ModelRef(entry.id, entry.name, entry.manifest, entry=entry)
        if Path(model).expanduser().is_dir():
            raise ModelError(folder_is_not_a_model(Path(model).expanduser()))
        if looks_like_path(model) or Path(model).is_file():
            path = Path(model).expanduser()
            if not path.is_file():
                try:
                    mode = path.stat().st_mode
                except OSError:
                    raise ModelError(f"{model}: model file not found") from None
                raise ModelError(f"{path.name}: is {describe_mode(mode)}, not a model file")
            if path.suffix.lower() != ".onnx":
                raise ModelError(f"{path.name}: a model must be an .onnx file")
            manifest = load_manifest_for(path)
            return ModelRef(path.stem, manifest.name, manifest, path=path.resolve())
        known = ", ".join(e.id for e in self.catalog)
        raise ModelError(f"unknown model {model!r}: use a catalog id ({known}) or a path to an "
                         ".onnx file")

    def is_ready(self, ref: ModelRef) -> bool:
        """True when loading needs no download."""
        return ref.path is not None or self.cache.is_cached(ref.id)

    def model_file(self, ref: ModelRef, progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None) -> Path:
        if ref.path is not None:
            return ref.path
        return self.cache.ensure(ref.id, progress=progress, cancel=cancel)

    def load(self, model: str | Path | ModelRef | None = None, provider: str = "auto",
             progress: ProgressCallback | None = None,
             cancel: CancelToken | None = None, *, throughput: bool = False) -> Classifier:
        """Download if needed, then open (or reuse) the session for ``model`` on ``provider``.

        ``throughput=True`` is for folder batches: see
        :func:`~resnet_desktop.core.inference.classifier.throughput_layout`.
        """
        ref = model if isinstance(model, ModelRef) else self.resolve(model)
        path = self.model_file(ref, progress, cancel)
        return self.classifiers.get(path, ref.manifest, provider, ref.id, throughput=throughput)

    def tag_folder(self, model: str | Path | ModelRef | None, provider: str,
                   request: TagRequest, sink: TagSink | None = None, *,
                   cancel: CancelToken | None = None,
                   pause: PauseToken | None = None) -> TagResult:
        """Load ``model`` on a throughput session (downloading it if needed, with progress to
        ``sink``), then :func:`~resnet_desktop.core.operations.tag_folder.tag_folder`."""
        from resnet_desktop.core.operations.tag_folder import TagSink, tag_folder

        sink = sink if sink is not None else TagSink()
        ref = model if isinstance(model, ModelRef) else self.resolve(model)
        classifier = self.load(ref, provider, progress=sink.download_progressed, cancel=cancel,
                               throughput=True)
        return tag_folder(classifier, request, sink,
                          model_sha256=ref.entry.sha256 if ref.entry is not None else None,
                          cancel=cancel, pause=pause)

    def classify_image(self, classifier: Classifier, image: Image.Image, top_k: int = 5,
                       path: Path | None = None, *, with_cam: bool = False) -> Classification:
        """Classify an RGB image already in memory (pasted, webcam frame, decoded file).

        ``with_cam=True`` adds the class activation maps from the same run
        (``Classification.cam``) when the model has them (``classifier.cam_available()``).
        """
        import numpy as np  # numpy and the modules below wait for the first classification

        from resnet_desktop.core.batch.pipeline import INVALID_NUMBERS
        from resnet_desktop.core.imaging.crop_box import crop_box
        from resnet_desktop.core.imaging.preprocess import preprocess
        from resnet_desktop.core.inference.results import CamResult, Classification
        from resnet_desktop.core.keywords.rollup import category_masses

        tensor = preprocess(image, classifier.preprocessing)[np.newaxis]
        cam = None
        try:
            if with_cam and classifier.cam_available():
                start = time.perf_counter()
                probabilities, maps = classifier.run_with_cam(tensor)
                ms = (time.perf_counter() - start) * 1000.0
                if maps:
                    cam = CamResult(maps[0], crop_box(image.width, image.height,
                                                      classifier.preprocessing))
            else:
                probabilities, ms = classifier.timed_run(tensor)
        except Exception as exc:  # ORT raises many types at run time; the model cannot run
            raise ModelError(f"{classifier.model_id}: inference failed ({first_line(exc)})") \
                from exc
        if not np.isfinite(probabilities[0]).all():
            name = path.name if path is not None else "image"
            return Classification(path, classifier.model_id, classifier.provider.active, ms,
                                  error=f"{name}: {INVALID_NUMBERS}")
        # The categories are summed here, over the whole vector; the top-k alone undercounts.
        categories = category_masses(probabilities[0], [label.wnid for label in classifier.labels])
        return Classification(path, classifier.model_id, classifier.provider.active, ms,
                              tuple(classifier.top_k(probabilities[0], top_k)), cam=cam,
                              categories=categories)

    def classify_file(self, classifier: Classifier, path: Path, top_k: int = 5, *,
                      with_cam: bool = False) -> Classification:
        """Classify one file; a bad image becomes ``Classification.error``, never an exception.

        A model that fails at run time raises ``ModelError``: every other file would fail too.
        """
        from resnet_desktop.core.imaging.decode import draft_size_for, load_image
        from resnet_desktop.core.inference.results import Classification

        start = time.perf_counter()
        try:
            image = load_image(path, draft=draft_size_for(classifier.preprocessing))
            result = self.classify_image(classifier, image, top_k, Path(path), with_cam=with_cam)
        except ModelError:
            raise  # the model itself fails: no other file would fare better
        except ResNetDesktopError as exc:
            return Classification(Path(path), classifier.model_id, error=str(exc))
        log.debug("%s classified in %.1f ms", path, (time.perf_counter() - start) * 1000)
        return result

    def compare(self, models: Sequence[CompareModel], images: Sequence[Path], top_k: int = 5,
                sink: CompareSink | None = None,
                cancel: CancelToken = NEVER) -> list[Classification]:
        """Each model (from :meth:`compare_model`) on each image, one model in memory at a
        time: see :func:`~resnet_desktop.core.operations.compare.compare_models`."""
        from resnet_desktop.core.operations.compare import compare_models

        return compare_models(models, images, self.classify_file, top_k, sink, cancel)

    def compare_model(self, model: str | Path, provider: str = "auto") -> CompareModel:
        """``model`` for :func:`compare_models`: resolved now, downloaded and opened when its turn
        comes, on a session of its own (not the session cache, which would keep two)."""
        from resnet_desktop.core.inference.classifier import Classifier
        from resnet_desktop.core.operations.compare import CompareModel

        try:
            ref = self.resolve(model)
        except ResNetDesktopError as exc:
            error = exc

            def unresolved(progress: ProgressCallback | None, cancel: CancelToken) -> Classifier:
                raise error

            return CompareModel(str(model), unresolved)

        def load(progress: ProgressCallback | None, cancel: CancelToken) -> Classifier:
            return Classifier(self.model_file(ref, progress, cancel), ref.manifest, provider,
                              ref.id)

        if ref.entry is not None:
            return CompareModel(ref.id, load, ref.entry.top1, ref.entry.top5, ref.entry.bytes)
        return CompareModel(ref.id, load, size=ref.path.stat().st_size if ref.path else None)

    def describe(self, model: str | ModelRef, cancel: CancelToken = NEVER) -> ModelDescription:
        """Facts of a catalog id (it must be downloaded: this never downloads) or an .onnx path."""
        from resnet_desktop.core.models.facts import ModelDescription, model_facts

        ref = self.resolve(model) if isinstance(model, str) else model
        if ref.path is None and not self.cache.is_cached(ref.id):
            raise ModelError(f"{ref.id} is not downloaded; download it first "
                             f"(resnet-desktop models download {ref.id})")
        path = ref.path if ref.path is not None else self.cache.path_for(ref.id)
        pre = ref.manifest.preprocessing
        facts = model_facts(path, pre.input_size, pre.layout, cancel)
        labels_source = ref.manifest.labels
        try:
            labels: int | None = len(load_labels(labels_source))
            labels_error = None
        except ResNetDesktopError as exc:
            labels, labels_error = None, str(exc)
        outputs = facts.outputs
        classes = outputs[0].shape[1] if outputs and len(outputs[0].shape) > 1 else None
        if labels is not None and isinstance(classes, int) and classes != labels:
            labels_error = (f"labels: {labels} labels but the model outputs {classes} classes; "
                            "import the model with its own labels file")
        entry = ref.entry
        builtin = entry is not None and entry.builtin
        return ModelDescription(ref.id, ref.name, facts, labels, labels_source, labels_error,
                                entry.top1 if entry else None, entry.top5 if entry else None,
                                preprocessing=preprocessing_text(pre),
                                license=ref.manifest.license, builtin=builtin,
                                file_date=None if builtin else path.stat().st_mtime)
