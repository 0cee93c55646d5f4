"""The GPU providers' rules that can be checked without a GPU (core.inference.gpu)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from modelgen import colour_classifier, colour_model, resnet

from resnet_desktop.core.foundation.errors import ModelError
from resnet_desktop.core.inference import classifier as classifier_module
from resnet_desktop.core.inference import gpu
from resnet_desktop.core.inference.classifier import Classifier, _session_options, create_session
from resnet_desktop.core.inference.gpu import (
    DIRECTML_BATCH,
    RECORD_ASSIGNMENT,
    batch_dimension,
    cuda_driver_hint,
    nodes_per_provider,
    partly_on,
    provider_entry,
    run_lock,
    warm_up,
)
from resnet_desktop.core.inference.providers import ProviderStatus
from resnet_desktop.core.models.manifest import load_manifest_for


def _session(tmp_path, model, *, record: bool = True) -> ort.InferenceSession:
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    options = ort.SessionOptions()
    if record:
        options.add_session_config_entry(RECORD_ASSIGNMENT, "1")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def test_cuda_picks_convolution_algorithms_by_heuristics_and_the_cpu_takes_no_options():
    assert provider_entry("CUDAExecutionProvider", "cuda") == \
        ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"})
    assert provider_entry("CoreMLExecutionProvider", "coreml")[1]["ModelFormat"] == "MLProgram"
    assert provider_entry("DmlExecutionProvider", "directml")[1] == \
        {"performance_preference": "high_performance"}
    assert provider_entry("CPUExecutionProvider", "cpu") == "CPUExecutionProvider"


def test_every_directml_run_takes_one_lock_and_the_cpu_none():
    assert run_lock("directml") is run_lock("directml")
    assert run_lock("cuda") is not run_lock("cuda")
    with run_lock("cpu"), run_lock("cpu"):  # the CPU takes concurrent runs
        pass


@pytest.mark.skipif(not hasattr(ort.InferenceSession, "get_provider_graph_assignment_info"),
                    reason="this ONNX Runtime records no graph assignment (1.24+ does)")
def test_the_nodes_each_provider_got_are_counted(tmp_path):
    session = _session(tmp_path, resnet(depth=18, num_classes=10, width=4))
    counts = nodes_per_provider(session)
    assert set(counts) == {"CPUExecutionProvider"} and counts["CPUExecutionProvider"] > 10
    assert partly_on("CPUExecutionProvider", counts) is None
    assert nodes_per_provider(_session(tmp_path, colour_classifier(), record=False)) is None


def test_partly_on_a_gpu_says_how_many_nodes_it_got():
    counts = {"CUDAExecutionProvider": 80, "CPUExecutionProvider": 40}
    assert partly_on("CUDAExecutionProvider", counts) == (80, 120)
    assert partly_on("CUDAExecutionProvider", {"CUDAExecutionProvider": 5}) is None
    assert partly_on("CUDAExecutionProvider", None) is None


def test_a_warm_up_run_fills_in_the_open_dimensions(tmp_path):
    session = _session(tmp_path, colour_classifier(batch="N", input_size=32))
    warm_up(session, batch=8)
    fixed = _session(tmp_path, colour_classifier(batch=1, input_size=32))
    warm_up(fixed, batch=8)  # a fixed batch of 1 stays 1: ONNX Runtime refuses 8


def test_the_provider_shown_says_when_a_gpu_runs_only_part_of_the_graph():
    assert ProviderStatus("auto", "cuda", nodes=(80, 120)).display == \
        "CUDA (GPU), partly: 80 of 120 nodes"
    assert ProviderStatus("auto", "cuda").display == "CUDA (GPU)"


def test_a_session_onnx_runtime_moved_to_the_cpu_during_a_run_says_so(tmp_path):
    model = colour_model(tmp_path / "model")
    classifier = Classifier(model, load_manifest_for(model), "cpu")
    # As ONNX Runtime's wrapper leaves a CUDA session after a failed run: on the CPU.
    classifier.provider = ProviderStatus("auto", "cuda")
    classifier.run(np.zeros((1, 3, 32, 32), np.float32))
    assert classifier.provider.active == "cpu"
    assert "moved the session to the CPU" in classifier.provider.fallback_reason


def test_the_symbolic_batch_dimension_is_found_by_name(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(colour_classifier(batch="batch_size").SerializeToString())
    assert batch_dimension(str(path)) == "batch_size"
    assert batch_dimension(colour_classifier(batch="N").SerializeToString()) == "N"
    assert batch_dimension(colour_classifier(batch=4).SerializeToString()) is None
    assert batch_dimension(b"not a model") is None


def test_directml_sessions_are_built_for_a_known_batch_and_others_keep_it_open(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(colour_classifier(batch="N").SerializeToString())

    def input_shape(provider: str) -> list:
        # The options are the provider's; the session runs on the CPU, which honours them.
        options = _session_options(provider, batch_dim="N")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return session.get_inputs()[0].shape

    assert input_shape("directml")[0] == DIRECTML_BATCH
    assert input_shape("cuda")[0] == "N" and input_shape("cpu")[0] == "N"


def test_the_cuda_fallback_names_the_driver_its_cuda_needs():
    assert "NVIDIA driver 525.60.13 or newer" in cuda_driver_hint("12.8", "linux")
    assert "NVIDIA driver 527.41 or newer" in cuda_driver_hint("12.4", "win32")
    assert "CUDA 13, which needs NVIDIA driver 580 or newer" in cuda_driver_hint("13.0", "linux")
    assert cuda_driver_hint("", "linux") is None  # a build without CUDA
    assert cuda_driver_hint("11.8", "linux") is None  # not in the table: nothing claimed


def test_a_cuda_provider_that_cannot_start_leaves_the_driver_hint_on_the_cpu(tmp_path,
                                                                           monkeypatch):
    path = colour_model(tmp_path / "m")

    def session(model, sess_options=None, providers=()):
        if "CPUExecutionProvider" not in providers[:1]:  # as a driver too old for the build
            raise RuntimeError("CUDA driver version is insufficient for CUDA runtime version")
        return ort.InferenceSession(model, sess_options, providers=providers)

    fake = type("FakeOrt", (), {
        "__version__": ort.__version__, "cuda_version": "12.8",
        "SessionOptions": ort.SessionOptions, "ExecutionMode": ort.ExecutionMode,
        "InferenceSession": staticmethod(session),
        "get_available_providers": staticmethod(
            lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])})
    monkeypatch.setattr(classifier_module, "onnxruntime", lambda: fake)

    _, status = create_session(path, "cuda")

    assert status.active == "cpu"
    assert "failed to start: CUDA driver version is insufficient" in status.fallback_reason
    assert cuda_driver_hint("12.8") in status.fallback_reason


def test_a_chosen_gpu_index_goes_to_the_provider_and_replaces_directmls_preference():
    assert gpu.provider_entry("DmlExecutionProvider", "directml") == (
        "DmlExecutionProvider", {"performance_preference": "high_performance"})
    assert gpu.provider_entry("DmlExecutionProvider", "directml", 1) == (
        "DmlExecutionProvider", {"device_id": "1"})
    assert gpu.provider_entry("CUDAExecutionProvider", "cuda", 2) == (
        "CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC", "device_id": "2"})
    assert gpu.provider_entry("CoreMLExecutionProvider", "coreml", 1) == (
        "CoreMLExecutionProvider", {"ModelFormat": "MLProgram"})


def test_the_gpu_index_is_read_from_the_environment_and_checked():
    assert gpu.gpu_device({}) is None
    assert gpu.gpu_device({"RESNET_DESKTOP_GPU": " 1 "}) == 1
    with pytest.raises(ModelError, match=r"^RESNET_DESKTOP_GPU='igpu': give a GPU's index"):
        gpu.gpu_device({"RESNET_DESKTOP_GPU": "igpu"})
