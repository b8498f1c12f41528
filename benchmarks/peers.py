"""The optional peers (PyTorch, HIPS autograd) and the versions and machine a run reports."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
from types import ModuleType
from typing import Any

NOT_INSTALLED = "not installed (pip install -e '.[bench]')"


def optional(module: str) -> ModuleType | None:
    """The module, or None when it is not installed (only the optional peers may be missing)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def single_thread_torch() -> ModuleType | None:
    """PyTorch limited to one thread (the configuration the targets compare against), or None."""
    torch = optional("torch")
    if torch is not None:
        torch.set_num_threads(1)
    return torch


def single_thread_jax() -> ModuleType | None:
    """JAX on the CPU, float64, with XLA's CPU thread pool off (one thread, as the others), or None."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" not in flags:  # read when JAX starts: set before its import
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    jax = optional("jax")
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
    return jax


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for dist in ("tinygrad_iris", "numpy", "micrograd", "torch", "autograd", "jax", "jaxlib", "matplotlib",
                 "threadpoolctl"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(blas: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        # Set on some machines because old OpenBLAS builds misbehave on their CPUs; it picks
        # NumPy's BLAS kernel (the floor and tinygrad_iris share it), so a run records it.
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "unset"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", "unset"),
        "blas": blas,
    }
