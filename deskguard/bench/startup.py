"""Start-up: process start → the window painted; → guarding (demo). Median of repeated runs.

Each run spawns ``deskguard --smoke`` (the demo with its built-in simulator, offscreen Qt, a fresh
``DESKGUARD_HOME``), reading ``time.time()`` just before ``Popen``. The app prints the wall-clock
moments it saw its window exposed after the first show (``first_paint_at``) and the guard
guarding with a snapshot on screen (``guarding_at``); both are differences of one clock read in two
processes. Process start therefore includes the interpreter's own start and every import.

Imports read compiled bytecode, as every start after a user's first does (pip compiles it at
install, the packaged app ships it, and Python caches it at the first import): the children may
write it (``PYTHONDONTWRITEBYTECODE`` is dropped from their environment) and one start before the
measured ones, not counted, writes what is missing. Without that, on a machine whose environment
sets ``PYTHONDONTWRITEBYTECODE`` (this project's VMs do), every start compiled ~1,100 modules from
source: the app's ``main()`` → guarding took 2.4 s that way against 1.2 s with the bytecode cached.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .simulator_process import gateway_free_env

SMOKE_LINE = re.compile(r"smoke: .*first_paint_at=(?P<paint>[0-9.]+), guarding_at=(?P<guarding>[0-9.]+)")
TIMEOUT_S = 60.0


def command() -> list[str]:
    """``deskguard --smoke``: the installed entry point next to this interpreter, else ``-m``."""
    bindir = Path(sys.executable).parent
    for name in ("deskguard", "deskguard.exe"):
        if (bindir / name).exists():
            return [str(bindir / name), "--smoke"]
    return [sys.executable, "-m", "deskguard", "--smoke"]


def smoke_env(home: str) -> dict[str, str]:
    """The environment of one measured start: no gateway variables, a fresh home, offscreen Qt,
    and bytecode written (see the module's docstring)."""
    env = gateway_free_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(DESKGUARD_HOME=home, QT_QPA_PLATFORM="offscreen", PYTHONUNBUFFERED="1")
    return env


def run_once() -> tuple[float, float]:
    """(seconds to first paint, seconds to guarding) of one fresh start."""
    home = tempfile.mkdtemp(prefix="deskguard-startup-")
    try:
        env = smoke_env(home)
        with open(Path(home) / "stderr.txt", "w+") as err:
            started = time.time()
            proc = subprocess.Popen(command(), env=env, stdout=subprocess.PIPE, stderr=err,
                                    stdin=subprocess.DEVNULL, text=True)
            try:
                out, _ = proc.communicate(timeout=TIMEOUT_S)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10.0)
            match = SMOKE_LINE.search(out or "")
            if proc.returncode != 0 or match is None:
                err.seek(0)
                raise RuntimeError(f"deskguard --smoke exited {proc.returncode}: {out!r}\n{err.read()[-2000:]}")
        return float(match["paint"]) - started, float(match["guarding"]) - started
    finally:
        shutil.rmtree(home, ignore_errors=True)


def bench(runs: int = 5) -> dict[str, float]:
    run_once()  # not counted: writes the bytecode a user's earlier starts would have written
    results = [run_once() for _ in range(runs)]
    paint = [r[0] for r in results]
    guarding = [r[1] for r in results]
    return {
        "startup_first_paint_s": round(statistics.median(paint), 3),
        "startup_guarding_s": round(statistics.median(guarding), 3),
        "startup_first_paint_max_s": round(max(paint), 3),
        "startup_guarding_max_s": round(max(guarding), 3),
    }


if __name__ == "__main__":  # pragma: no cover
    print(bench())
