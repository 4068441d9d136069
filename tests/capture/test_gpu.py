"""GPU facts: none here, quickly and without error; nvidia-smi output parsed when there is one."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

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


def test_a_hanging_nvidia_smi_is_cut_at_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken driver can make nvidia-smi hang: a stand-in that sleeps 60 s is stopped at the
    1 s timeout and named, and the record says no GPU."""
    stand_in = tmp_path / "nvidia-smi"
    stand_in.write_text("#!/bin/sh\nsleep 60\n")
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setattr("mlflow_repro.capture.gpu._from_nvml", lambda: None)
    began = time.monotonic()
    gpu, errors = collect_gpu(timeout=1)
    assert time.monotonic() - began < 30  # far below the stand-in's 60 s
    assert gpu.source == "none" and gpu.devices == []
    assert any("timed out after 1s" in e for e in errors), errors


def test_framework_builds_are_read_without_importing_them() -> None:
    import sys

    before = {"torch", "tensorflow"} & set(sys.modules)
    builds = framework_builds()
    assert ({"torch", "tensorflow"} & set(sys.modules)) == before
    for name, info in builds.items():
        assert name in {"torch", "tensorflow"} and isinstance(info, dict)
    if os.environ.get("MLFLOW_REPRO_REQUIRE_FRAMEWORKS") == "1":  # `just test`: both installed
        assert set(builds) == {"torch", "tensorflow"}
