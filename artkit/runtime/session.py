"""onnxruntime sessions: the provider that can really run, full graph optimisation, and
thread counts that suit the machine.

`onnxruntime-gpu` lists the CUDA provider even on a machine without a GPU, and asking for
it there prints screens of errors. So CUDA is requested only after checking, quietly, that
a CUDA driver loads and sees a device; everything else stays on the CPU provider.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
from pathlib import Path
from typing import Any, Literal

from artkit.errors import ArtkitError

Device = Literal["auto", "cpu", "cuda"]

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def cpu_count() -> int:
    """CPUs this process may use (cgroup/affinity aware, unlike os.cpu_count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _cuda_devices() -> int:
    """Number of CUDA devices the driver reports; 0 where no driver loads (no output)."""
    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            driver = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        return 0
    count = ctypes.c_int(0)
    if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value


@contextlib.contextmanager
def _silenced_fds():
    """Silence C-level stdout/stderr (library loaders print there, not to Python)."""
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as null:
        try:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


@functools.cache
def cuda_status() -> tuple[bool, str]:
    """(usable, reason): whether the CUDA provider can really run here, and why not."""
    import onnxruntime as ort

    if CUDA not in ort.get_available_providers():
        return False, "this onnxruntime build has no CUDA provider (install onnxruntime-gpu)"
    if _cuda_devices() == 0:
        return False, "no CUDA driver or no GPU found"
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:  # CUDA/cuDNN from the nvidia-* pip packages, if installed
        with contextlib.suppress(Exception), _silenced_fds():
            preload()
    provider_lib = Path(ort.__file__).parent / "capi" / "libonnxruntime_providers_cuda.so"
    if provider_lib.exists():
        try:
            shared = provider_lib.with_name("libonnxruntime_providers_shared.so")
            ctypes.CDLL(str(shared), mode=ctypes.RTLD_GLOBAL)
            ctypes.CDLL(str(provider_lib))
        except OSError as exc:
            return False, f"the CUDA provider cannot load its libraries ({exc})"
    return True, ""


def session_options(intra_threads: int | None = None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # One model, run batch after batch: all cores inside each operator, none between.
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = intra_threads or cpu_count()
    options.inter_op_num_threads = 1
    # Threads that spin while waiting for work steal the cores the decoding workers need
    # between batches (measured: end to end / limit 0.93 with spinning, 0.97 without, on 2
    # cores; docs/benchmarks.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: no per-run warnings on the console
    return options


def providers_for(device: Device) -> list[Any]:
    """The provider list for `device`; raises for `cuda` where CUDA cannot run."""
    if device == "cpu":
        return [CPU]
    usable, reason = cuda_status()
    if device == "cuda" and not usable:
        raise ArtkitError(f"--device cuda: {reason}", hint="use --device cpu or auto")
    return [(CUDA, {"device_id": 0}), CPU] if usable else [CPU]


def create_session(model: str | Path | bytes, device: Device = "auto",
                   intra_threads: int | None = None) -> Any:
    """An onnxruntime InferenceSession on the best usable provider for `device`."""
    import onnxruntime as ort

    if isinstance(model, str | Path):
        path = Path(model)
        if not path.exists():
            raise ArtkitError("model file not found", path)
        if path.is_dir():
            raise ArtkitError("is a folder, not an ONNX model file", path)
        source: str | bytes = str(path)
    else:
        path, source = None, model
    try:
        session = ort.InferenceSession(source, sess_options=session_options(intra_threads),
                                       providers=providers_for(device))
    except ArtkitError:
        raise
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ArtkitError(f"onnxruntime cannot load this model: {_reason(exc)}",
                          path) from None
    if device == "cuda" and CUDA not in session.get_providers():
        raise ArtkitError("--device cuda: onnxruntime fell back to the CPU provider", path)
    return session


def _reason(exc: Exception) -> str:
    """onnxruntime's message without the C++ source location and signature before it."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.rsplit(") ", 1)[-1] if "onnxruntime::" in text else text


def active_provider(session: Any) -> str:
    """'cuda' or 'cpu': where the session really runs."""
    return "cuda" if session.get_providers()[0] == CUDA else "cpu"
