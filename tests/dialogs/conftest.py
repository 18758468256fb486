"""Dialog tests: offscreen Qt, one qasync loop for the session, no unexpected Qt warning; a private
home for every test; a real Secret Service keyring where the keyring is the subject.

Offscreen Qt, the session's qasync loop (``aio``) and the Qt-warning policy come from tests/conftest.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from keyring_session import KeyringCannotStart, start_secret_service

HERE = Path(__file__).resolve().parent

# A Wednesday at 15:00 in Chicago (CDT): the next trading-day reset is at 17:00 CT the same day.
NOW = datetime(2026, 6, 10, 20, 0, tzinfo=UTC)


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
