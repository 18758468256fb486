"""UI tests: the main window on a stub guardian. Offscreen Qt, the session's qasync loop (``aio``) and
the Qt-warning policy come from tests/conftest.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from ui_stubs import StubGuardian

HERE = Path(__file__).resolve().parent


@pytest.fixture
def stub() -> StubGuardian:
    return StubGuardian()


@pytest.fixture
def vm(qtbot, aio):
    from deskguard.ui.viewmodel import GuardianViewModel

    model = GuardianViewModel()
    yield model
    model.detach()


@pytest.fixture
def window(qtbot, aio, vm, stub):
    """The main window on a stub guardian, shown, with the first snapshot on screen."""
    from deskguard.ui.main_window import MainWindow

    win = MainWindow(vm)
    qtbot.addWidget(win)
    win.quitConfirmed.connect(lambda: None)
    vm.attach(stub)
    win.show()
    qtbot.waitExposed(win)
    stub.emit()
    qtbot.waitUntil(lambda: win.current_account() == stub.accounts[0] and vm.latest(stub.accounts[0]) is not None)
    yield win
    win.quitting = True
    win.close()


def wait_task(qtbot, task: asyncio.Future, timeout: int = 15_000):
    """Let the session loop run ``task`` to its end (under qtbot's wait) and return its result."""
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


@pytest.fixture
def demo(qtbot, aio, vm, tmp_path, monkeypatch):
    """The demo on the real stack: runtime, simulator, guardian and main window with the practice
    ticket and its market controls; guarding, the walk paused, MNQ at 21,000. (win, sim, account)."""
    from deskguard.runtime import prepare_runtime
    from deskguard.ui.main_window import MainWindow
    from deskguard.ui.practice_market import SimulatorMarket

    monkeypatch.setenv("DESKGUARD_HOME", str(tmp_path))
    runtime = wait_task(qtbot, asyncio.ensure_future(prepare_runtime(demo=True, simulator_seed=5)))
    sim = runtime.simulator
    win = MainWindow(vm, demo=True)
    qtbot.addWidget(win)
    try:
        win.ticket.set_desk(runtime.practice, SimulatorMarket(sim.base_url))
        vm.attach(runtime.guardian)
        wait_task(qtbot, asyncio.ensure_future(runtime.guardian.start()))
        win.show()
        qtbot.waitExposed(win)
        account = runtime.guardian.accounts[0]
        qtbot.waitUntil(lambda: win.current_account() == account and runtime.guardian.health.guarding, timeout=10_000)
        sim.pause_walk()  # only the ticket moves the market
        sim.set_price("MNQ", 21000.0)
        yield win, sim, account
    finally:
        wait_task(qtbot, asyncio.ensure_future(runtime.stop()))
        vm.detach()
        win.quitting = True  # pytest-qt closes the window (qtbot.addWidget)
