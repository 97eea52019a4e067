"""Keep third-party chatter off the user's terminal: TensorFlow's CUDA probing and C++ logs,
libjpeg's and libpng's warnings. ``ARTKIT_DEBUG=1`` shows everything.

C libraries write to file descriptor 2 directly, past Python. So the command line points
fd 2 at a pipe read by a thread that drops the known noise lines and passes every other
line on, while Python's own ``sys.stderr`` (rich's progress bars, artkit's messages, errors)
keeps the real terminal, so colours and live bars still work.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

#: Lines that say nothing to an artkit user. Each is a known third-party message.
NOISE = re.compile(
    r"^(?:"
    r"[IWEF]\d{4} [\d:. ]+\d+ \S+\.cc:\d+\]"  # absl / TensorFlow C++ log lines
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|.*(?:failed call to cuInit|Could not find cuda drivers|cuda drivers on your machine"
    r"|Unable to register cu(?:DNN|FFT|BLAS) factory|TF-TRT Warning"
    r"|oneDNN custom operations are on|This TensorFlow binary is optimized"
    r"|computation placer already registered|absl::InitializeLog)"
    r"|To enable the following instructions:|rebuild TensorFlow with the appropriate"
    r"|libpng (?:warning|error):"
    r"|Corrupt JPEG data:|Premature end of JPEG file|Invalid SOS parameters"
    r"|Warning: unknown JFIF revision number"
    r")")


def is_noise(line: str) -> bool:
    return bool(NOISE.match(line.strip()))


def _pump(source: int, target: int) -> None:
    with os.fdopen(source, "rb", buffering=0) as pipe:
        pending = b""
        while chunk := pipe.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = [line for line in lines
                    if not is_noise(line.decode("utf-8", "replace"))]
            if kept:
                os.write(target, b"\n".join(kept) + b"\n")
        if pending and not is_noise(pending.decode("utf-8", "replace")):
            os.write(target, pending)


def filter_stderr() -> None:
    """From now on, drop known third-party noise written to fd 2 (not with ARTKIT_DEBUG)."""
    if os.environ.get("ARTKIT_DEBUG", "") not in ("", "0"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # what TensorFlow lets us silence
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    sys.stderr = os.fdopen(os.dup(real), "w", buffering=1, encoding="utf-8",
                           errors="backslashreplace")
    pump = threading.Thread(target=_pump, args=(read_end, real), name="artkit-stderr",
                            daemon=True)
    pump.start()

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(real, 2)  # closes the pipe's last write end: the pump reads to the end
        pump.join(timeout=2)

    atexit.register(restore)
