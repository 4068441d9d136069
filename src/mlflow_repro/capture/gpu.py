"""Collect GPU and CUDA facts: NVML first, `nvidia-smi` (bounded) second, framework builds.

Without a GPU this returns quickly with `source="none"` and no error. Frameworks are never
imported here (torch and TensorFlow take seconds to import): their build facts are read from
the version files they ship, and from the live module only when the user already imported it.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from mlflow_repro.manifest import Gpu, GpuDevice
from mlflow_repro.process import run

_SMI_QUERY = "index,name,memory.total,uuid,driver_version,compute_cap"


def _from_nvml() -> Gpu | None:
    if importlib.util.find_spec("pynvml") is None:
        return None
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return None
    try:

        def text(value: Any) -> str:
            return value.decode() if isinstance(value, bytes) else str(value)

        cuda = pynvml.nvmlSystemGetCudaDriverVersion()
        devices = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
            devices.append(
                GpuDevice(
                    index=i,
                    name=text(pynvml.nvmlDeviceGetName(handle)),
                    memory_total_mib=int(pynvml.nvmlDeviceGetMemoryInfo(handle).total) // 2**20,
                    uuid=text(pynvml.nvmlDeviceGetUUID(handle)),
                    compute_capability=f"{major}.{minor}",
                )
            )
        return Gpu(
            source="nvml",
            driver_version=text(pynvml.nvmlSystemGetDriverVersion()),
            cuda_driver_version=f"{cuda // 1000}.{(cuda % 1000) // 10}",
            devices=devices,
        )
    finally:
        pynvml.nvmlShutdown()


def parse_smi(query_csv: str, banner: str) -> Gpu:
    """Build the record from `nvidia-smi --query-gpu` CSV and the plain banner's CUDA version."""
    devices, driver = [], None
    for line in query_csv.strip().splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < 6:
            continue
        index, name, memory, uuid, driver, cap = cells[:6]
        mib = re.match(r"(\d+)", memory)
        devices.append(
            GpuDevice(
                index=int(index),
                name=name,
                memory_total_mib=int(mib.group(1)) if mib else None,
                uuid=uuid,
                compute_capability=cap or None,
            )
        )
    cuda = re.search(r"CUDA Version:\s*([\d.]+)", banner)
    return Gpu(
        source="nvidia-smi",
        driver_version=driver,
        cuda_driver_version=cuda.group(1) if cuda else None,
        devices=devices,
    )


def _from_smi(timeout: float) -> tuple[Gpu | None, str | None]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None, None
    query = run(
        [smi, f"--query-gpu={_SMI_QUERY}", "--format=csv,noheader,nounits"], timeout=timeout
    )
    if not query.ok:
        return None, f"nvidia-smi: {query.error}"
    banner = run([smi], timeout=timeout)
    return parse_smi(query.stdout.decode(), banner.stdout.decode() if banner.ok else ""), None


def _package_file(package: str, *parts: str) -> str | None:
    spec = importlib.util.find_spec(package) if package not in sys.modules else None
    folders = (
        list(spec.submodule_search_locations or [])
        if spec is not None
        else list(getattr(sys.modules.get(package), "__path__", []))
    )
    for folder in folders:
        file = Path(folder, *parts)
        if file.is_file():
            return file.read_text(encoding="utf-8", errors="replace")
    return None


def _assignments(text: str, names: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for name in names:
        match = re.search(rf"^{name}\s*(?::\s*[^=]+)?=\s*['\"]?([^'\"\n]*)['\"]?", text, re.M)
        if match and match.group(1) not in {"None", ""}:
            found[name.strip("_")] = match.group(1)
    return found


def _distribution_version(*names: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    for name in names:
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None


def framework_builds() -> dict[str, dict[str, str]]:
    """CUDA/cuDNN versions torch and TensorFlow were built with, where they are installed."""
    builds: dict[str, dict[str, str]] = {}
    torch_version = _package_file("torch", "version.py")
    if torch_version:
        builds["torch"] = _assignments(torch_version, ("__version__", "cuda", "hip", "git_version"))
        torch = sys.modules.get("torch")
        if torch is not None:
            try:
                cudnn = torch.backends.cudnn.version()
                if cudnn:
                    builds["torch"]["cudnn"] = str(cudnn)
            except Exception:
                pass
    tf_build = _package_file("tensorflow", "python", "platform", "build_info.py")
    if tf_build:
        info = {}
        for key in ("cuda_version", "cudnn_version", "is_cuda_build"):
            match = re.search(rf"['\"]{key}['\"]\s*[:,]\s*['\"]?([^'\"),]+)", tf_build)
            if match:
                info[key] = match.group(1).strip()
        builds["tensorflow"] = info
        version = _distribution_version("tensorflow", "tensorflow-cpu", "tensorflow-gpu")
        if version:
            builds["tensorflow"]["version"] = version
    return builds


def collect_gpu(timeout: float = 5.0) -> tuple[Gpu, list[str]]:
    errors: list[str] = []
    gpu = _from_nvml()
    if gpu is None:
        gpu, error = _from_smi(timeout)
        if error:
            errors.append(error)
    gpu = gpu or Gpu()
    return Gpu(
        source=gpu.source,
        driver_version=gpu.driver_version,
        cuda_driver_version=gpu.cuda_driver_version,
        devices=gpu.devices,
        frameworks=framework_builds(),
    ), errors
