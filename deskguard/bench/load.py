"""CPU-bound competitor processes: a repeatable "busy machine" for the reaction benchmark.

``CpuLoad(n)`` starts ``n`` Python processes that spin on the CPU (one per core by default) and
ends them when its ``with`` block is left, however it is left (an exception, Ctrl-C). Each one
also ends by itself once its parent is gone, so a benchmark killed outright leaves none behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from types import TracebackType

#: Spin; every ~0.1 s of work, check that the parent still exists (else end).
_SPIN = (
    "import os\n"
    "parent = os.getppid()\n"
    "while os.getppid() == parent:\n"
    "    for _ in range(200_000):\n"
    "        pass\n"
)


def default_load() -> int:
    """One competitor per core."""
    return os.cpu_count() or 1


class CpuLoad:
    def __init__(self, n: int | None = None) -> None:
        self.n = default_load() if n is None else max(0, int(n))
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> CpuLoad:
        try:
            for _ in range(self.n):
                self.processes.append(subprocess.Popen(
                    [sys.executable, "-c", _SPIN], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL))
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def alive(self) -> int:
        return sum(1 for p in self.processes if p.poll() is None)

    def stop(self) -> None:
        """End every competitor this object started (terminate, then kill what is left)."""
        for p in self.processes:
            if p.poll() is None:
                p.terminate()
        for p in self.processes:
            try:
                p.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=2.0)
        self.processes.clear()
