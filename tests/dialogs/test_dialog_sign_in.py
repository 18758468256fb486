"""The sign-in dialog against the built-in simulator (the real SDK over loopback): the key goes to a
real Secret Service keyring and nowhere else; failures are told apart; without a keyring it says so
and offers "this session only", writing nothing to disk."""

from __future__ import annotations

import socket

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import SecretService
from keyring.errors import PasswordDeleteError, PasswordSetError
from keyring_session import files_containing
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from deskguard.config import load_config
from deskguard.runtime import resolve_credentials
from deskguard.secrets import Credentials, CredentialStore
from deskguard.simulator import Simulator
from deskguard.ui.dialogs.login import NO_KEYRING_TEXT, SignInDialog, sign_out

pytestmark = pytest.mark.ui

USER = "trader@example.com"
KEY = "pX-9f2c71d0e4b84a6a9c3e55d1b7a0f2e6"  # shaped like a real key: long, no spaces

CONFIG = """\
# Written by me. The sign-in dialog must keep this line.
[connection]
api_url = "{api}"
user_hub_url = "{user_hub}"
market_hub_url = "{market_hub}"
"""


class MemoryKeyring(KeyringBackend):
    """A keyring test double, for tests whose subject is not the keyring (never chosen by default)."""

    priority = -1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


class LockedKeyring(MemoryKeyring):
    """A keyring that exists but refuses to store (e.g. the user dismissed the unlock prompt)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise PasswordSetError("the keyring is locked")


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    double = MemoryKeyring()
    keyring.set_keyring(double)
    yield double
    keyring.set_keyring(previous)


@pytest.fixture
def sim(run_async):
    simulator = Simulator(credentials=(USER, KEY), walk_paused=True, keepalive_s=0)
    run_async(simulator.start())
    yield simulator
    run_async(simulator.stop())


@pytest.fixture
def config_file(app_home, sim):
    path = app_home / "config.toml"
    path.write_text(CONFIG.format(api=sim.api_url, user_hub=sim.user_hub_url, market_hub=sim.market_hub_url))
    return path


def make_dialog(qtbot, config_file, store: CredentialStore | None = None, **kwargs) -> SignInDialog:
    dialog = SignInDialog(config_file=config_file, credential_store=store or CredentialStore(), request_timeout=3.0,
                          **kwargs)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    return dialog


def enter(qtbot, dialog: SignInDialog, username: str, key: str) -> None:
    dialog.username.clear()
    qtbot.keyClicks(dialog.username, username)
    dialog.api_key.clear()
    qtbot.keyClicks(dialog.api_key, key)


def test_test_connection_lists_the_active_accounts_with_a_busy_indicator(qtbot, aio, memory_keyring, config_file, sim):
    dialog = make_dialog(qtbot, config_file)
    assert not dialog.test_button.isEnabled() and not dialog.sign_in_button.isEnabled()
    enter(qtbot, dialog, USER, KEY)
    assert dialog.api_key.echoMode() == QLineEdit.EchoMode.Password  # never shown in plain text
    sim.faults.delay_next("Auth/loginKey", 1, 0.8)
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.busy.isVisible(), timeout=2000)
    assert not dialog.test_button.isEnabled() and not dialog.sign_in_button.isEnabled()
    assert dialog.status.text() == "Connecting to the gateway…"
    qtbot.waitUntil(lambda: dialog.status_kind == "ok", timeout=15000)
    assert not dialog.busy.isVisible()
    assert dialog.status.text() == "Connected: 3 active accounts."
    assert dialog.accounts.count() == 3
    assert dialog.accounts.item(0).text().startswith("50KTC-V2-123456-1001  (id 1001")
    assert dialog.chosen_accounts() == ()  # all ticked: every active account
    assert dialog.test_button.isEnabled() and dialog.sign_in_button.isEnabled()
    qtbot.keyClicks(dialog.api_key, "x")  # other credentials: the list no longer applies
    assert dialog.accounts.count() == 0


def test_a_wrong_key_is_told_apart_and_nothing_is_stored(qtbot, aio, memory_keyring, config_file):
    dialog = make_dialog(qtbot, config_file)
    enter(qtbot, dialog, USER, "pX-not-the-right-key-000000")
    qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.status_kind == "wrong_key", timeout=15000)
    assert dialog.status.text().startswith("The gateway refused this username and API key.")
    assert "not-the-right-key" not in dialog.status.text()
    assert dialog.isVisible() and memory_keyring.items == {}
    assert load_config(config_file).connection.username is None


def test_an_unreachable_gateway_is_told_apart(qtbot, aio, memory_keyring, app_home):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = app_home / "config.toml"
    path.write_text(CONFIG.format(api=f"http://127.0.0.1:{port}/api", user_hub=f"http://127.0.0.1:{port}/hubs/user",
                                  market_hub=f"http://127.0.0.1:{port}/hubs/market"))
    dialog = make_dialog(qtbot, path)
    enter(qtbot, dialog, USER, KEY)
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.status_kind == "unreachable", timeout=20000)
    assert dialog.status.text().startswith("Cannot reach the gateway. Check your internet connection")
    assert KEY not in dialog.status.text()


def test_a_gateway_error_is_told_apart(qtbot, aio, memory_keyring, config_file, sim):
    sim.faults.fail_next("Auth/loginKey", 3, 500)
    dialog = make_dialog(qtbot, config_file)
    enter(qtbot, dialog, USER, KEY)
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.status_kind == "gateway_error", timeout=20000)
    assert dialog.status.text().startswith("The gateway answered with an error")
    assert "HTTP 500" in dialog.status.text()


def test_try_the_demo_instead(qtbot, aio, memory_keyring, config_file):
    dialog = make_dialog(qtbot, config_file, first_run=True)
    assert dialog.demo_button.isVisible() and dialog.demo_button.text() == "Try the demo instead"
    with qtbot.waitSignal(dialog.demoRequested, timeout=2000):
        qtbot.mouseClick(dialog.demo_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()


@pytest.mark.integration
def test_sign_in_stores_the_key_in_a_real_secret_service_keyring_and_in_no_file(
    qtbot, aio, real_keyring, app_home, config_file
):
    assert isinstance(keyring.get_keyring(), SecretService.Keyring)
    dialog = make_dialog(qtbot, config_file)
    assert dialog.keyring_box.isHidden()  # a keyring is there: no "session only" offer
    enter(qtbot, dialog, USER, KEY)
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.status_kind == "ok", timeout=15000)
    dialog.accounts.item(2).setCheckState(Qt.CheckState.Unchecked)  # guard two of the three
    with qtbot.waitSignal(dialog.signedIn, timeout=15000) as signed:
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    result = signed.args[0]
    assert result.credentials == Credentials(USER, KEY) and not result.session_only
    assert result.accounts == ("50KTC-V2-123456-1001", "50KTC-V2-123456-1002")
    assert not dialog.isVisible() and dialog.api_key.text() == ""

    # In the Secret Service itself (read back over D-Bus by secretstorage, not from any cache) ...
    import secretstorage

    with secretstorage.dbus_init() as conn:
        items = list(secretstorage.search_items(conn, {"service": "deskguard", "username": USER}))
        assert [item.get_secret().decode() for item in items] == [KEY]
    assert keyring.get_password("deskguard", USER) == KEY
    # ... and in no file under the app's home, in any encoding; nor in plain text in the keyring's own files.
    assert sorted(p.name for p in app_home.rglob("*") if p.is_file()) == ["config.toml"]
    assert files_containing(app_home, KEY) == []
    assert list(real_keyring.home.rglob("*.keyring")), "gnome-keyring wrote no keyring file"
    assert files_containing(real_keyring.home, KEY) == []

    # config.toml remembers who and which accounts, keeps the user's comment, and never the key.
    text = config_file.read_text()
    assert "# Written by me. The sign-in dialog must keep this line." in text
    config = load_config(config_file)
    assert config.connection.username == USER
    assert config.connection.accounts == ("50KTC-V2-123456-1001", "50KTC-V2-123456-1002")

    # The next start finds the credentials (stays signed in); signing out removes the key.
    assert resolve_credentials(config, None) == Credentials(USER, KEY)
    sign_out(USER)
    assert keyring.get_password("deskguard", USER) is None
    with secretstorage.dbus_init() as conn:
        assert list(secretstorage.search_items(conn, {"service": "deskguard", "username": USER})) == []


def test_without_a_keyring_it_says_so_and_keeps_the_key_for_this_session_only(
    qtbot, aio, no_keyring, app_home, config_file
):
    store = CredentialStore()
    dialog = make_dialog(qtbot, config_file, store)
    assert dialog.keyring_box.isVisible()
    assert dialog.keyring_text.text() == NO_KEYRING_TEXT
    assert "cannot remember your API key safely" in NO_KEYRING_TEXT and "never writes the key to a file" in NO_KEYRING_TEXT
    enter(qtbot, dialog, USER, KEY)
    assert dialog.test_button.isEnabled()
    assert not dialog.sign_in_button.isEnabled()  # the trader must choose "this session only" knowingly
    dialog.session_only.click()  # the box spans the dialog: click() presses it as a user would
    assert dialog.session_only.isChecked() and dialog.sign_in_button.isEnabled()
    with qtbot.waitSignal(dialog.signedIn, timeout=15000) as signed:
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert signed.args[0].session_only and signed.args[0].credentials == Credentials(USER, KEY)
    assert store.load(USER) == KEY  # in memory, for this session
    assert CredentialStore().load(USER) is None  # nowhere a new process could find it
    assert sorted(p.name for p in app_home.rglob("*") if p.is_file()) == ["config.toml"]
    assert files_containing(app_home, KEY) == []
    assert load_config(config_file).connection.username == USER
    sign_out(USER, store)
    assert store.load(USER) is None


def test_a_keyring_that_refuses_to_store_offers_this_session_only(qtbot, aio, app_home, config_file):
    previous = keyring.get_keyring()
    keyring.set_keyring(LockedKeyring())
    try:
        dialog = make_dialog(qtbot, config_file)
        assert dialog.keyring_box.isHidden()
        enter(qtbot, dialog, USER, KEY)
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.status_kind == "keyring", timeout=15000)
        assert dialog.keyring_box.isVisible() and "No OS keyring is available" in dialog.keyring_text.text()
        assert dialog.isVisible() and not dialog.sign_in_button.isEnabled()
        assert load_config(config_file).connection.username is None  # nothing remembered yet
        dialog.session_only.click()  # the box spans the dialog: click() presses it as a user would
        with qtbot.waitSignal(dialog.signedIn, timeout=15000):
            qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
        assert files_containing(app_home, KEY) == []
    finally:
        keyring.set_keyring(previous)
