"""The settings dialog: trading day, accounts, instruments, notifications, start at login, theme."""

from __future__ import annotations

import configparser
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt, QTime

from deskguard import autostart
from deskguard.config import load_config
from deskguard.engine.clock import FakeClock
from deskguard.guardian import Guardian
from deskguard.runtime import Runtime, effective_plan, pending_settings
from deskguard.store import Store
from deskguard.ui.dialogs.settings import SettingsDialog

pytestmark = pytest.mark.ui

USER_FILE = """\
# Settings I keep by hand.
[connection]
username = "trader@example.com"
accounts = ["50KTC-V2-123456-1001"]   # the combine only

[trading_day]
reset_time = "17:00"
timezone = "America/Chicago"
"""

KNOWN = [(1001, "50KTC-V2-123456-1001"), (1002, "50KTC-V2-123456-1002")]


@pytest.fixture
def config_file(app_home):
    path = app_home / "config.toml"
    path.write_text(USER_FILE)
    return path


@pytest.fixture
def xdg(tmp_path):
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg-config"), "HOME": str(tmp_path / "home")}


def make(qtbot, config_file, xdg, **kwargs) -> SettingsDialog:
    dialog = SettingsDialog(config_file=config_file, known_accounts=KNOWN, autostart_env=xdg,
                            autostart_command=["/opt/Desk Guard/deskguard", "--minimized"], **kwargs)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    return dialog


def checked(dialog: SettingsDialog) -> list[str]:
    items = [dialog.account_list.item(i) for i in range(dialog.account_list.count())]
    return [i.data(Qt.ItemDataRole.UserRole) for i in items if i.checkState() == Qt.CheckState.Checked]


def test_shows_the_files_settings(qtbot, aio, config_file, xdg):
    dialog = make(qtbot, config_file, xdg)
    assert dialog.reset_time.time() == QTime(17, 0) and dialog.timezone.currentText() == "America/Chicago"
    assert not dialog.every_account.isChecked()
    assert checked(dialog) == ["50KTC-V2-123456-1001"]
    assert dialog.notify.isChecked() and not dialog.sound.isChecked()
    assert dialog.theme.currentText() == "system"
    assert not dialog.start_at_login.isChecked()
    assert dialog.save_button.isEnabled()


def test_a_bad_time_zone_and_no_account_are_refused_with_a_message(qtbot, aio, config_file, xdg):
    dialog = make(qtbot, config_file, xdg)
    dialog.timezone.setCurrentText("America/Chicgo")
    assert dialog.day_error.text() == 'timezone: unknown time zone "America/Chicgo"; use an IANA name like "America/Chicago"'
    assert not dialog.save_button.isEnabled()
    dialog.timezone.setCurrentText("America/New_York")
    assert dialog.save_button.isEnabled() and not dialog.day_error.isVisible()

    dialog.account_list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert "tick at least one account" in dialog.accounts_error.text()
    assert not dialog.save_button.isEnabled()
    dialog.every_account.setChecked(True)
    assert dialog.save_button.isEnabled()

    dialog.instruments.add_item("")
    assert not dialog.save_button.isEnabled()
    assert dialog.instruments.rows[0][0].error.text() == "must not be empty"


def test_save_writes_every_setting_keeps_comments_and_sets_up_start_at_login(qtbot, aio, config_file, xdg):
    dialog = make(qtbot, config_file, xdg)
    dialog.reset_time.setTime(QTime(16, 0))
    dialog.timezone.setCurrentText("America/New_York")
    dialog.account_list.item(1).setCheckState(Qt.CheckState.Checked)
    dialog.instruments.add_item("MNQ")
    dialog.instruments.add_item("MES")
    dialog.notify.setChecked(True)
    dialog.sound.setChecked(True)
    dialog.theme.setCurrentText("dark")
    dialog.start_at_login.setChecked(True)
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    config = load_config(config_file)
    assert config.trading_day.reset_time.hour == 16 and config.trading_day.timezone == "America/New_York"
    assert config.connection.accounts == ("50KTC-V2-123456-1001", "50KTC-V2-123456-1002")
    assert config.connection.instruments == ("MNQ", "MES")
    assert config.notifications.sound and config.ui.theme == "dark"
    assert config.connection.username == "trader@example.com"
    assert "# Settings I keep by hand." in config_file.read_text()

    entry = autostart.xdg_entry_path(xdg)
    assert entry == autostart.Path(xdg["XDG_CONFIG_HOME"]) / "autostart" / "deskguard.desktop"
    desktop = configparser.ConfigParser(interpolation=None)
    desktop.read(entry)
    assert desktop["Desktop Entry"]["Exec"] == '"/opt/Desk Guard/deskguard" --minimized'
    assert desktop["Desktop Entry"]["Type"] == "Application"

    again = make(qtbot, config_file, xdg)
    assert again.start_at_login.isChecked()
    again.start_at_login.setChecked(False)
    again.save()
    assert not entry.exists()


class NoBroker:
    async def stop(self) -> None:
        pass


def test_moving_the_reset_waits_for_the_next_reset_with_a_guard_running(qtbot, aio, app_home, config_file, xdg, now,
                                                                         run_async):
    store = Store(app_home / "state.db")
    plan = effective_plan(store, load_config(config_file), now)
    guardian = Guardian(NoBroker(), store, plan.effective.engine_settings(), clock=FakeClock(now),
                        pending=pending_settings(plan))
    runtime = Runtime(guardian, store, plan.effective, plan, app_home)
    try:
        dialog = make(qtbot, config_file, xdg, runtime=runtime, clock=lambda: now)
        dialog.reset_time.setTime(QTime(18, 0))
        dialog.save()
        assert guardian.settings.calendar.reset_time.hour == 17  # still the old day boundary
        pending = guardian.pending_changes()
        assert [(c.key, c.old, c.new) for c in pending] == [("trading_day.reset_time", "17:00", "18:00")]
        assert pending[0].effective_at == now + timedelta(hours=2)
        assert dialog.plan.pending_changes[0].text == "trading_day.reset_time 17:00 → 18:00 takes effect at 17:00 CT"
    finally:
        run_async(guardian.stop())
        store.close()


def test_notifications_off_silences_the_tray_and_sound_beeps(qtbot, aio, monkeypatch):
    from deskguard.guardian import Notice, NoticeLevel
    from deskguard.ui.tray import TrayController
    from deskguard.ui.viewmodel import GuardianViewModel

    vm = GuardianViewModel()
    tray = TrayController(vm, None, tray_available=False)
    beeps: list[bool] = []
    monkeypatch.setattr("deskguard.ui.tray.QApplication.beep", lambda: beeps.append(True))
    notice = Notice(datetime.now(UTC), NoticeLevel.ENFORCEMENT, 7001, "daily_realized_loss", "flattened")
    tray.set_notifications(False, False)
    tray.notify(notice)
    assert tray.messages == [] and beeps == []
    tray.set_notifications(True, True)
    tray.notify(notice)
    assert tray.messages == [("DeskGuard enforced a rule", "flattened")] and beeps == [True]
