"""UI tests: the main window on a stub guardian. Offscreen Qt, the session's qasync loop (``aio``) and
the Qt-warning policy come from tests/conftest.py."""

from __future__ import annotations

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
