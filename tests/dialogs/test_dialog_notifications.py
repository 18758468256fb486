"""Settings → Notifications: not_guarding_after and the webhooks edited and saved; "Send test" shows
the HTTP result from a receiver on 127.0.0.1 without freezing the window; and the one-click check
of whether DeskGuard will start at the next login."""

from __future__ import annotations

import sys
import time

import pytest
from PySide6.QtCore import Qt
from webhook_receiver import webhook_receiver

from deskguard import autostart
from deskguard.config import load_config
from deskguard.ui.dialogs.settings import SettingsDialog

pytestmark = pytest.mark.ui

USER_FILE = """\
# Settings I keep by hand.
[notifications]
not_guarding_after = "45s"   # my phone buzzes after this
webhooks = [
  { url = "https://ntfy.sh/my-topic", format = "ntfy", on = ["lock", "not_guarding"] },
]
"""


@pytest.fixture
def config_file(app_home):
    path = app_home / "config.toml"
    path.write_text(USER_FILE)
    return path


@pytest.fixture
def xdg(tmp_path):
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg-config"), "HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}


@pytest.fixture
def receiver(run_async):
    manager = webhook_receiver()
    rx = run_async(manager.__aenter__())
    yield rx
    run_async(manager.__aexit__(None, None, None))


def make(qtbot, config_file, xdg) -> SettingsDialog:
    dialog = SettingsDialog(config_file=config_file, autostart_env=xdg, autostart_command=[sys.executable, "-m", "deskguard"])
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    return dialog


def test_shows_and_saves_not_guarding_after_and_the_webhooks(qtbot, aio, config_file, xdg):
    dialog = make(qtbot, config_file, xdg)
    box = dialog.notifications
    assert box.not_guarding_after.text() == "45s"
    (row,) = box.rows
    assert row.value() == {"url": "https://ntfy.sh/my-topic", "format": "ntfy", "on": ["lock", "not_guarding"]}

    box.not_guarding_after.setText("2m")
    added = box.add_row()
    added.url.setText("https://hooks.slack.com/services/T/B/x")
    added.format.setCurrentText("slack")
    for event, check in added.events.items():
        check.setChecked(event in ("enforcement", "alert"))
    row.events["warning"].setChecked(True)
    assert dialog.save_button.isEnabled()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    text = config_file.read_text()
    assert "# my phone buzzes after this" in text and 'not_guarding_after = "2m"' in text
    saved = load_config(config_file).notifications
    assert [(h.url, h.format, h.on) for h in saved.webhooks] == [
        ("https://ntfy.sh/my-topic", "ntfy", ("lock", "warning", "not_guarding")),
        ("https://hooks.slack.com/services/T/B/x", "slack", ("enforcement", "alert")),
    ]
    assert saved.not_guarding_after.total_seconds() == 120


def test_bad_values_are_shown_where_they_belong_and_block_save(qtbot, aio, config_file, xdg):
    dialog = make(qtbot, config_file, xdg)
    box = dialog.notifications
    box.not_guarding_after.setText("soon")
    assert "is not a duration" in box.not_guarding_error.text() and not dialog.save_button.isEnabled()
    box.not_guarding_after.setText("30s")
    assert dialog.save_button.isEnabled() and not box.not_guarding_error.shown

    row = box.add_row("http://example.com/topic")
    assert row.error.text().startswith("url: must be an https:// URL") and not dialog.save_button.isEnabled()
    row.url.setText("https://example.com/topic")
    for check in row.events.values():
        check.setChecked(False)
    assert row.error.text().startswith("on: must name at least one event")
    row.events["lock"].setChecked(True)
    assert dialog.save_button.isEnabled() and not row.error.shown
    box.remove_row(row)
    assert len(box.rows) == 1 and dialog.save_button.isEnabled()


def test_send_test_shows_the_http_result_and_never_freezes_the_window(qtbot, aio, config_file, xdg, receiver):
    dialog = make(qtbot, config_file, xdg)
    row = dialog.notifications.add_row(f"{receiver.url}/topic", "ntfy")
    qtbot.mouseClick(row.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row.result.text().startswith("Sent"), timeout=5000)
    assert row.result.text() == "Sent: HTTP 200 OK" and row.test_button.isEnabled()
    (got,) = receiver.on("/topic")
    assert got.text == "Test from DeskGuard: this webhook works." and got.headers["Title"] == "DeskGuard warning"

    row.url.setText(f"{receiver.url}/status/404/gone")
    row.test_button.click()
    qtbot.waitUntil(lambda: row.result.text().startswith("Not sent"), timeout=5000)
    assert row.result.text() == "Not sent: HTTP 404 Not Found"

    # A webhook that never answers: the click returns at once and the window keeps working.
    row.url.setText(f"{receiver.url}/hang/x")
    started = time.monotonic()
    row.test_button.click()
    assert time.monotonic() - started < 0.2
    assert row.result.text() == "Sending a test message…" and not row.test_button.isEnabled()
    qtbot.waitUntil(lambda: receiver.hanging == 1, timeout=3000)
    dialog.notifications.not_guarding_after.setText("nope")  # the dialog still reacts while it waits
    assert not dialog.save_button.isEnabled()
    dialog.reject()  # closing cancels the test on its way
    qtbot.waitUntil(lambda: row._test is not None and row._test.done(), timeout=3000)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG entry is the Linux one")
def test_the_start_at_login_check_says_whether_it_will_start(qtbot, aio, config_file, xdg, tmp_path):
    dialog = make(qtbot, config_file, xdg)
    result = dialog.check_autostart()
    assert not result.will_start and dialog.start_check.text().startswith("No: there is no autostart entry")
    assert dialog.start_check.isVisible()

    autostart.enable([sys.executable, "-m", "deskguard"], xdg)
    dialog.check_start.click()
    assert dialog.start_check.text().startswith("Yes: DeskGuard will start at the next login")
    assert sys.executable in dialog.start_check.text()

    autostart.enable([str(tmp_path / "moved-away" / "deskguard")], xdg)
    assert not dialog.check_autostart().will_start
    assert "the program it starts is missing" in dialog.start_check.text()

    entry = autostart.xdg_entry_path(xdg)
    entry.write_text(entry.read_text().replace("X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false"))
    assert "switched off" in dialog.check_autostart().text

    entry.unlink()
    dialog.start_at_login.setChecked(True)  # ticked, not saved yet: the check says so
    dialog.check_autostart()
    assert dialog.start_check.text().endswith("(Start at login was changed here: Save first.)")
