"""GPU facts: none here, quickly and without error; nvidia-smi output parsed when there is one."""

from __future__ import annotations

import time

from mlflow_repro.capture.gpu import collect_gpu, framework_builds, parse_smi

SMI_CSV = (
    "0, NVIDIA H100 80GB HBM3, 81559, GPU-4f1c2a1e-0000-1111-2222-333344445555, 550.54.15, 9.0\n"
    "1, NVIDIA H100 80GB HBM3, 81559, GPU-4f1c2a1e-0000-1111-2222-333344445556, 550.54.15, 9.0\n"
)
SMI_BANNER = "| NVIDIA-SMI 550.54.15    Driver Version: 550.54.15    CUDA Version: 12.4     |"


def test_nvidia_smi_output_is_parsed() -> None:
    gpu = parse_smi(SMI_CSV, SMI_BANNER)
    assert gpu.source == "nvidia-smi"
    assert gpu.driver_version == "550.54.15" and gpu.cuda_driver_version == "12.4"
    assert [d.index for d in gpu.devices] == [0, 1]
    assert gpu.devices[0].memory_total_mib == 81559
    assert gpu.devices[0].compute_capability == "9.0"
    assert gpu.devices[1].uuid.endswith("556")


def test_without_a_gpu_the_record_says_none_quickly() -> None:
    began = time.perf_counter()
    gpu, errors = collect_gpu(timeout=5)
    elapsed = time.perf_counter() - began
    if gpu.source == "none":
        assert gpu.devices == [] and errors == []
        assert elapsed < 5  # bounded by the timeout, not a speed claim
    else:  # a machine with a GPU: the record must be filled in
        assert gpu.devices and gpu.driver_version


def test_framework_builds_are_read_without_importing_them() -> None:
    import sys

    before = {"torch", "tensorflow"} & set(sys.modules)
    builds = framework_builds()
    assert ({"torch", "tensorflow"} & set(sys.modules)) == before
    for name, info in builds.items():
        assert name in {"torch", "tensorflow"} and isinstance(info, dict)
