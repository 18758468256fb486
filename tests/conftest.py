"""What every Qt test folder shares: offscreen Qt, one qasync loop for the session, and a test
failing on any Qt warning the offscreen platform does not print by itself.

The platform must be set before any QApplication exists (pytest-qt creates it lazily, in ``qapp``),
so it is set when this file is imported. No test needs a screen.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import asyncio
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
#: Folders whose tests drive Qt widgets.
QT_FOLDERS = (TESTS / "ui", TESTS / "dialogs")

#: Qt messages the offscreen platform itself prints; anything else at WARNING or above fails a test.
OFFSCREEN_NOISE = (
    r"This plugin does not support propagateSizeHints\(\)",
    r"This plugin does not support raise\(\)",
    r"This plugin does not support grabbing the keyboard",
    r"QFont::setPointSizeF: Point size <= 0",
    r"QObject::connect: No such signal QPlatformNativeInterface::systemTrayWindowChanged",  # a tray, offscreen
)


#: Under pytest-xdist (``uv run pytest -n 2``, ``--dist loadgroup`` in pyproject.toml) these run one
#: after another on one worker, never two at once: tests whose assertions hold a time bound (a lock
#: over within a second of waking, a storm's reactions, a budget's window) and the long, busy ones
#: (a soak, benchmarks, a 15 s outage, subprocess guards) that would eat the bounds' slack. The
#: other tests share the two workers as usual. Every test isolates its own resources (ports chosen
#: by the OS, a temp DESKGUARD_HOME, a private D-Bus and keyring per test), so nothing else needs it.
SERIAL_TIMING = (
    "bench/test_bench_figures.py",
    "reliability/test_soak.py",
    "reliability/test_clock_jumps.py",
    "reliability/test_long_outage.py",
    "reliability/test_tokens.py",
    "reliability/test_restarts.py",
    "guardian/test_guardian_integrity.py",
    "guardian/test_guardian_process.py",
    "broker/test_broker_rate_limits.py",
    "ui/test_ui_storm.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    serial = {TESTS / name for name in SERIAL_TIMING}
    for item in items:
        path = Path(str(item.path)).resolve()
        if any(folder in path.parents for folder in QT_FOLDERS):
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore(*OFFSCREEN_NOISE))
        if path in serial:
            item.add_marker(pytest.mark.xdist_group("serial_timing"))


@pytest.fixture(scope="session")
def qt_loop(qapp):
    """One qasync loop for the whole session, never stopped or closed (see shared desktop.md:
    stop() calls QApplication.exit() outside exec(), after which every qtbot wait returns at once)."""
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.events._set_running_loop(None)
    return loop


@pytest.fixture
def aio(qt_loop, qtbot):
    """The session loop, marked running while this test holds it; leftover tasks cancelled after."""
    asyncio.events._set_running_loop(qt_loop)
    before = set(asyncio.all_tasks(qt_loop))
    yield qt_loop
    left = [t for t in asyncio.all_tasks(qt_loop) if t not in before and not t.done()]
    for task in left:
        task.cancel()
    deadline = time.monotonic() + 5
    while any(not t.done() for t in left) and time.monotonic() < deadline:
        qtbot.wait(10)
    asyncio.events._set_running_loop(None)


# ----- no task's exception goes unseen (issue 11) ---------------------------------------------------

class _NeverRetrieved:
    """Keeps asyncio's "Task exception was never retrieved" reports: a task that failed with no
    one looking is a guard that failed silently. The run fails on any (pytest_sessionfinish)."""

    def __init__(self) -> None:
        import logging

        self.records: list[str] = []
        handler = logging.Handler(logging.ERROR)
        handler.emit = self._emit  # type: ignore[method-assign]
        logging.getLogger("asyncio").addHandler(handler)

    def _emit(self, record) -> None:
        text = record.getMessage()
        if "exception was never retrieved" in text:
            self.records.append(text.splitlines()[0] + " " + " ".join(text.splitlines()[1:2]))


NEVER_RETRIEVED = _NeverRetrieved()
#: Under pytest-xdist (``-n 2``): the reports of the workers, handed to the controller as each ends.
FROM_WORKERS: list[str] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import gc

    gc.collect()  # a forgotten task reports itself when it is collected
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: its exit status is not the run's; the controller's is
        workeroutput["never_retrieved"] = list(NEVER_RETRIEVED.records)
        return
    records = NEVER_RETRIEVED.records + FROM_WORKERS
    if records:
        print("\nTask exceptions that were never retrieved:\n  " + "\n  ".join(records))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist, in the controller: a worker ended; keep what it saw (before the run's end)."""
    FROM_WORKERS.extend(getattr(node, "workeroutput", {}).get("never_retrieved", []))
