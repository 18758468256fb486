"""Probes run inside a measured process: event-loop lag, garbage-collector pauses, resident memory."""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from pathlib import Path
from typing import Any


def rss_mb() -> float:
    """This process's resident set in MB: VmRSS from /proc/self/status on Linux; elsewhere (no
    /proc) the peak resident set from getrusage, the closest figure there."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS, KiB elsewhere
        return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class LoopLag:
    """A task sleeping ``interval`` in a loop; each lag is the actual sleep minus the asked one."""

    def __init__(self, interval: float = 0.010) -> None:
        self.interval = interval
        self.samples: list[float] = []  # ms
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bench-loop-lag")

    async def _run(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.samples.append((time.perf_counter() - t0 - self.interval) * 1000)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None


class GcPauses:
    """Every collection's duration, by generation (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []  # (generation, ms)
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info.get("generation", -1), (time.perf_counter() - self._started) * 1000))

    def install(self) -> None:
        gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def clear(self) -> None:
        self.pauses.clear()

    def summary(self) -> dict[str, float]:
        full = [ms for gen, ms in self.pauses if gen == 2]
        return {
            "gc_max_ms": round(max((ms for _, ms in self.pauses), default=0.0), 3),
            "gc_full_collections": len(full),
            "gc_full_max_ms": round(max(full, default=0.0), 3),
        }
