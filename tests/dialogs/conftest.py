"""Dialog tests: offscreen Qt, one qasync loop for the session, no unexpected Qt warning; a private
home for every test; a real Secret Service keyring where the keyring is the subject.

As in tests/ui, the platform must be set before any QApplication exists, so it is set at import."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import keyring
import pytest
import qasync
from keyring.backends import fail

from keyring_session import KeyringCannotStart, start_secret_service

HERE = Path(__file__).resolve().parent

#: Qt messages the offscreen platform itself prints; anything else at WARNING or above fails a test.
OFFSCREEN_NOISE = (
    r"This plugin does not support propagateSizeHints\(\)",
    r"This plugin does not support raise\(\)",
    r"This plugin does not support grabbing the keyboard",
    r"QFont::setPointSizeF: Point size <= 0",
    r"QObject::connect: No such signal QPlatformNativeInterface::systemTrayWindowChanged",
)

# A Wednesday at 15:00 in Chicago (CDT): the next trading-day reset is at 17:00 CT the same day.
NOW = datetime(2026, 6, 10, 20, 0, tzinfo=UTC)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore(*OFFSCREEN_NOISE))


@pytest.fixture(scope="session")
def qt_loop(qapp):
    """One qasync loop for the whole session, never stopped or closed (shared desktop.md)."""
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
def run_async(qtbot, aio):
    """Run a coroutine on the shared loop from a synchronous test, pumping Qt while it runs."""

    def run(coro, timeout: float = 20.0):
        task = aio.create_task(coro)
        qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
        return task.result()

    return run


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def app_home(tmp_path, monkeypatch) -> Path:
    """The app's own home (config.toml, state.db, logs), private to the test."""
    home = tmp_path / "deskguard-home"
    home.mkdir()
    monkeypatch.setenv("DESKGUARD_HOME", str(home))
    for name in ("PROJECT_X_USERNAME", "PROJECT_X_API_KEY", "PROJECT_X_ACCOUNT_NAME",
                 "PROJECTX_API_URL", "PROJECTX_USER_HUB_URL", "PROJECTX_MARKET_HUB_URL"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def no_keyring():
    """No keyring backend at all, as on a machine without a desktop session."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def real_keyring(tmp_path_factory, monkeypatch):
    """gnome-keyring's Secret Service on a private D-Bus session, the keyring library pointed at it."""
    from keyring.backends import SecretService

    try:
        session = start_secret_service(tmp_path_factory.mktemp("secret-service"))
    except KeyringCannotStart as exc:
        pytest.skip(f"no real Secret Service keyring here: {exc}")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session.address)
    previous = keyring.get_keyring()
    keyring.set_keyring(SecretService.Keyring())
    try:
        yield session
    finally:
        keyring.set_keyring(previous)
        session.stop()
