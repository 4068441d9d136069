"""Collect the platform (OS, libc, CPU, BLAS), the bit-changing environment, and seeds."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from mlflow_repro.manifest import Container, Platform
from mlflow_repro.names import CONTAINER_VAR

# Environment variables whose values change floating-point results or thread scheduling.
# Only these values are ever recorded: everything else in the environment stays out.
ENV_ALLOWLIST = (
    "PYTHONHASHSEED",
    "OMP_NUM_THREADS",
    "OMP_DYNAMIC",
    "OMP_PROC_BIND",
    "OMP_SCHEDULE",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "GOTO_NUM_THREADS",
    "MKL_NUM_THREADS",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
    "MKL_DEBUG_CPU_TYPE",
    "MKL_DYNAMIC",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "KMP_DETERMINISTIC_REDUCTION",
    "KMP_AFFINITY",
    "NPY_DISABLE_CPU_FEATURES",
    "NPY_ENABLE_CPU_FEATURES",
    "ATEN_CPU_CAPABILITY",
    "CUBLAS_WORKSPACE_CONFIG",
    "CUDA_LAUNCH_BLOCKING",
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "NVIDIA_TF32_OVERRIDE",
    "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE",
    "TORCH_CUDNN_V8_API_DISABLED",
    "TF_DETERMINISTIC_OPS",
    "TF_CUDNN_DETERMINISTIC",
    "TF_ENABLE_ONEDNN_OPTS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "TF_GPU_ALLOCATOR",
    "XLA_FLAGS",
)

# CPU features that select different numerical kernels (x86 SIMD, ARM vector units).
SIMD_FLAGS = frozenset(
    {
        "sse",
        "sse2",
        "sse3",
        "ssse3",
        "sse4_1",
        "sse4_2",
        "avx",
        "avx2",
        "fma",
        "f16c",
        "avx512f",
        "avx512dq",
        "avx512cd",
        "avx512bw",
        "avx512vl",
        "avx512_vnni",
        "avx512_bf16",
        "avx512_fp16",
        "avx_vnni",
        "amx_bf16",
        "amx_int8",
        "amx_tile",
        "neon",
        "asimd",
        "asimdhp",
        "sve",
        "sve2",
        "fphp",
        "bf16",
        "i8mm",
    }
)


def _cpuinfo() -> tuple[str, list[str]]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor(), []
    model, flags = "", set()
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in {"model name", "Processor", "cpu model"} and not model:
            model = value.strip()
        elif key in {"flags", "Features"}:
            flags = set(value.split())
    return model or platform.processor(), sorted(flags & SIMD_FLAGS)


def _libc() -> str:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError, AttributeError):
        return " ".join(platform.libc_ver())


def loaded_blas() -> list[dict[str, str]]:
    """BLAS/OpenMP libraries already loaded in this process, with their thread counts, in a
    stable order (by library, not by load order)."""
    if "threadpoolctl" not in sys.modules and "numpy" not in sys.modules:
        return []
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = (
        "user_api",
        "internal_api",
        "prefix",
        "version",
        "num_threads",
        "threading_layer",
        "architecture",
    )
    found = [{k: str(info[k]) for k in keep if k in info} for info in threadpool_info()]
    return sorted(found, key=lambda lib: sorted(lib.items()))


# Files a container engine leaves in the containers it starts (Docker; Podman)
CONTAINER_MARKS = ("/.dockerenv", "/run/.containerenv")
_CONTAINER_TEXT = (
    "source",
    "image",
    "image_id",
    "repo_digest",
    "run_image_id",
    "network",
    "project_dir",
)


def in_container() -> bool:
    return any(os.path.exists(mark) for mark in CONTAINER_MARKS)


def collect_container(
    environ: dict[str, str] | None = None, inside: bool | None = None
) -> tuple[Container | None, list[str]]:
    """The image this process runs in, as the launching side read it (MLFLOW_REPRO_CONTAINER,
    set by `mlflow run`'s host process: container/hostside.py); "unidentified" when the process
    is in a container and no launcher said which image; None on a host."""
    import json

    inside = in_container() if inside is None else inside
    raw = (os.environ if environ is None else environ).get(CONTAINER_VAR, "")
    if not raw:
        return (Container(source="unidentified") if inside else None), []
    try:
        data = json.loads(raw)
        fields = {k: data[k] for k in _CONTAINER_TEXT if isinstance(data.get(k), str)}
        build = {str(k): str(v)[:20000] for k, v in (data.get("build") or {}).items()}
        container = Container(**fields, build=build)
    except (ValueError, TypeError, AttributeError) as exc:
        return Container(source="unidentified"), [f"{CONTAINER_VAR} unreadable: {exc}"]
    errors = []
    if not container.image_id.startswith("sha256:"):
        errors.append(f"the launcher could not read image {container.image!r} from the engine")
        container = Container(source="unidentified", image=container.image)
    return container, errors


def collect_platform() -> tuple[Platform, list[str]]:
    model, flags = _cpuinfo()
    container, errors = collect_container()
    uname = platform.uname()
    return Platform(
        system=uname.system,
        release=uname.release,
        version=uname.version,
        machine=uname.machine,
        libc=_libc(),
        cpu_model=model,
        cpu_count=os.cpu_count(),
        cpu_flags=flags,
        blas=loaded_blas(),
        env={k: os.environ[k] for k in ENV_ALLOWLIST if k in os.environ},
        container=container,
    ), errors
