"""UI tests: offscreen Qt, one qasync loop for the session, and no unexpected Qt warning.

The environment variable must be set before any QApplication exists, so it is set at import time
of this conftest (pytest-qt creates the QApplication lazily, in the ``qapp`` fixture)."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import asyncio
import time
from pathlib import Path

import pytest
import qasync

from ui_stubs import StubGuardian

HERE = Path(__file__).resolve().parent

#: Qt messages the offscreen platform itself prints; anything else at WARNING or above fails a test.
OFFSCREEN_NOISE = (
    r"This plugin does not support propagateSizeHints\(\)",
    r"This plugin does not support raise\(\)",
    r"This plugin does not support grabbing the keyboard",
    r"QFont::setPointSizeF: Point size <= 0",
    r"QObject::connect: No such signal QPlatformNativeInterface::systemTrayWindowChanged",  # a tray, offscreen
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore(*OFFSCREEN_NOISE))


@pytest.fixture(scope="session")
def qt_loop(qapp):
    """One qasync loop for the whole session, never stopped or closed (see shared desktop.md:
    stop() calls QApplication.exit() outside exec(), after which every qtbot wait returns at once)."""
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
