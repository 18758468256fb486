"""Firm profiles in the sign-in dialog and in Settings → Accounts: after the accounts are listed each
gets a profile proposed from its name and balance, which the user confirms or changes; Save writes
the choice to config.toml's [accounts."NAME"] tables (their own rule values kept)."""

from __future__ import annotations

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError
from PySide6.QtCore import Qt

from deskguard.config import load_config
from deskguard.secrets import CredentialStore
from deskguard.simulator import Account, Simulator
from deskguard.ui.dialogs.login import SignInDialog
from deskguard.ui.dialogs.profile_choice import NONE_TEXT

pytestmark = pytest.mark.ui

USER = "trader@example.com"
KEY = "pX-51c0a2d9e4b84a6a9c3e55d1b7a0ffff"
ACCOUNTS = [Account(2001, "50KTC-V2-777-2001", 50_000.0), Account(2002, "S1-XFA-777-2002", 101_300.0),
            Account(2003, "PRAC-V2-777-2003", 150_000.0)]


class MemoryKeyring(KeyringBackend):
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


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def sim(run_async):
    simulator = Simulator(credentials=(USER, KEY), walk_paused=True, keepalive_s=0, accounts=ACCOUNTS)
    run_async(simulator.start())
    yield simulator
    run_async(simulator.stop())


def config_text(sim: Simulator, extra: str = "") -> str:
    return (f'# mine\n[connection]\napi_url = "{sim.api_url}"\nuser_hub_url = "{sim.user_hub_url}"\n'
            f'market_hub_url = "{sim.market_hub_url}"\n' + extra)


def listed(qtbot, path) -> SignInDialog:
    dialog = SignInDialog(config_file=path, credential_store=CredentialStore(), request_timeout=3.0)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    qtbot.keyClicks(dialog.username, USER)
    qtbot.keyClicks(dialog.api_key, KEY)
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.status_kind == "ok", timeout=15000)
    return dialog


def test_each_account_gets_a_proposed_profile_the_user_confirms_or_changes(qtbot, aio, memory_keyring, app_home, sim):
    path = app_home / "config.toml"
    path.write_text(config_text(sim))
    dialog = listed(qtbot, path)
    assert dialog.profiles_box.isVisible()
    assert dialog.chosen_profiles() == {"50KTC-V2-777-2001": "topstep_combine_50k",
                                        "S1-XFA-777-2002": "topstep_xfa_100k",  # by its balance
                                        "PRAC-V2-777-2003": ""}
    assert dialog.profile_choices["PRAC-V2-777-2003"].currentText() == NONE_TEXT
    dialog.profile_choices["S1-XFA-777-2002"].set_profile("topstep_xfa_50k")  # the user knows better
    with qtbot.waitSignal(dialog.signedIn, timeout=15000):
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    config = load_config(path)
    assert config.effective("50KTC-V2-777-2001").settings.profile == "topstep_combine_50k"
    assert config.effective("S1-XFA-777-2002").settings.profile == "topstep_xfa_50k"
    assert config.account_table("PRAC-V2-777-2003") is None  # no profile: no table written
    assert path.read_text().startswith("# mine\n")


def test_a_profile_already_in_config_is_kept_with_the_accounts_own_values(qtbot, aio, memory_keyring, app_home, sim):
    path = app_home / "config.toml"
    path.write_text(config_text(sim, '\n[accounts."S1-XFA-777-2002"]\nprofile = "topstep_xfa_150k"\n'
                                     'starting_balance = 100000\n'
                                     '[accounts."S1-XFA-777-2002".rules.daily_realized_loss]\nmax_loss = 250\n'))
    dialog = listed(qtbot, path)
    assert dialog.chosen_profiles()["S1-XFA-777-2002"] == "topstep_xfa_150k"  # config.toml's, not the guess
    dialog.profile_choices["S1-XFA-777-2002"].set_profile("topstep_xfa_100k")
    with qtbot.waitSignal(dialog.signedIn, timeout=15000):
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    table = load_config(path).account_table("S1-XFA-777-2002")
    assert table is not None
    assert (table[1].profile, table[1].starting_balance) == ("topstep_xfa_100k", 100_000.0)
    assert table[1].overrides == {"daily_realized_loss": {"max_loss": 250.0}}


def test_settings_accounts_edits_each_accounts_profile_and_starting_balance(qtbot, aio, app_home, tmp_path):
    from deskguard.ui.dialogs.settings import SettingsDialog

    path = app_home / "config.toml"
    path.write_text('# by hand\n[accounts."50KTC-V2-123456-1001"]\nprofile = "topstep_combine_50k"\n'
                    '[accounts."50KTC-V2-123456-1001".rules.daily_realized_loss]\nmax_loss = 300\n')
    xdg = {"XDG_CONFIG_HOME": str(tmp_path / "xdg-config"), "HOME": str(tmp_path / "home")}
    dialog = SettingsDialog(config_file=path, known_accounts=[(1001, "50KTC-V2-123456-1001"),
                                                              (1002, "XFA-50K-123456-1002")],
                            autostart_env=xdg, autostart_command=["deskguard"])
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    combine, xfa = dialog.profile_rows["50KTC-V2-123456-1001"], dialog.profile_rows["XFA-50K-123456-1002"]
    assert combine[0].profile() == "topstep_combine_50k" and xfa[0].profile() == ""
    xfa[0].set_profile("topstep_xfa_50k")
    xfa[1].setText("-5")
    assert not dialog.save_button.isEnabled()
    assert "starting_balance: must be a positive amount (got -5)" in dialog.profiles_error.text()
    xfa[1].setText("51,200")
    assert dialog.save_button.isEnabled()
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    config = load_config(path)
    assert config.effective("XFA-50K-123456-1002").settings.starting_balance == 51_200
    assert config.effective("XFA-50K-123456-1002").settings.profile == "topstep_xfa_50k"
    assert config.account_table("50KTC-V2-123456-1001")[1].overrides == {  # type: ignore[index]
        "daily_realized_loss": {"max_loss": 300.0}}
    assert path.read_text().startswith("# by hand\n")


def test_the_rule_editor_edits_one_accounts_own_values(qtbot, aio, app_home, now):
    from deskguard.ui.dialogs.rule_editor import RuleEditorDialog

    path = app_home / "config.toml"
    path.write_text('# mine\n[rules.daily_realized_loss]\nmax_loss = 500\n\n'
                    '[accounts."50KTC-V2-1"]\nprofile = "topstep_combine_50k"\n'
                    '[accounts."50KTC-V2-1".rules.daily_realized_loss]\nmax_loss = 400\n')
    dialog = RuleEditorDialog(config_file=path, clock=lambda: now)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    assert dialog.form("consistency").values()["enabled"] is False  # the shared rules: 017 off
    dialog.set_scope("50KTC-V2-1")
    assert dialog.scopes.currentText() == "50KTC-V2-1 (topstep_combine_50k)"
    assert dialog.form("daily_realized_loss").values()["max_loss"] == 400  # the account's own
    assert dialog.form("consistency").values()["enabled"] is True  # switched on by its profile
    assert dialog.form("trailing_drawdown").values()["max_drawdown"] == 2_000  # the profile's figure
    dialog.form("daily_realized_loss").editor("max_loss").set_value(-1)
    dialog.validate("daily_realized_loss")
    assert not dialog.save_button.isEnabled()
    dialog.form("daily_realized_loss").editor("max_loss").set_value(300)
    dialog.validate("daily_realized_loss")
    dialog.form("trailing_drawdown").editor("buffer").set_value(350)
    dialog.validate("trailing_drawdown")
    assert dialog.page("daily_realized_loss").if_saved.text() == (
        "If you save: 50KTC-V2-1: Max loss $400 → $300 (tighter) applied now")
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    config = load_config(path)
    assert config.rule("daily_realized_loss").max_loss == 500  # the shared rules untouched
    table = config.account_table("50KTC-V2-1")
    assert table is not None and table[1].overrides == {"daily_realized_loss": {"max_loss": 300.0},
                                                        "trailing_drawdown": {"buffer": 350.0}}
    assert config.effective("50KTC-V2-1").settings.rules["trailing_drawdown"].max_drawdown == 2_000
    assert path.read_text().startswith("# mine\n")
