"""The rule editor: generated from the rules' schemas, refuses bad values with the file's own
message next to the field, keeps the user's comments, tightens at once and loosens at the reset."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from PySide6.QtCore import Qt

from deskguard.config import ConfigError, load_config, loads_config
from deskguard.engine.clock import FakeClock
from deskguard.engine.decisions import Lock, LockKind
from deskguard.engine.rules import ALL_RULES
from deskguard.guardian import Guardian
from deskguard.runtime import Runtime, effective_plan, pending_settings
from deskguard.store import Store
from deskguard.ui.dialogs.rule_editor import RuleEditorDialog

pytestmark = pytest.mark.ui

USER_FILE = """\
# My rules. Written by hand after the March blow-up: keep this comment!
[connection]
username = "trader@example.com"

[rules.daily_realized_loss]
enabled = true
max_loss = 500   # never more than a day's average win

[rules.max_contracts]
limit = 5
"""


def file_problem(text: str) -> ConfigError:
    """What loading config.toml with ``text`` says (the message the editor must repeat)."""
    with pytest.raises(ConfigError) as caught:
        loads_config(text)
    return caught.value


@pytest.fixture
def config_file(app_home):
    path = app_home / "config.toml"
    path.write_text(USER_FILE)
    return path


@pytest.fixture
def editor(qtbot, aio, config_file, now):
    dialog = RuleEditorDialog(config_file=config_file, clock=lambda: now)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    return dialog


def type_into(qtbot, line_edit, text: str) -> None:
    line_edit.selectAll()
    qtbot.keyClick(line_edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(line_edit, text)


def test_every_rule_gets_a_page_with_a_row_per_schema_field(editor):
    assert list(editor.pages) == [r.key for r in ALL_RULES]
    for rule in ALL_RULES:
        form = editor.form(rule.key)
        assert list(form.rows) == [f.name for f in dataclasses.fields(rule.Params)]
        for name, row in form.rows.items():
            if name != "enabled":
                assert row.help.text(), f"{rule.key}.{name} has no help text"
    help_text = editor.form("daily_realized_loss").rows["max_loss"].help.text()
    assert "Stop for the day at this loss" in help_text and "US dollars" in help_text and "more than $0" in help_text
    assert editor.save_button.isEnabled()


def test_a_negative_loss_limit_is_refused_with_the_files_message_and_save_is_disabled(editor, qtbot):
    editor.show_rule("daily_realized_loss")
    spin = editor.form("daily_realized_loss").editor("max_loss").spin
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "-500")
    row = editor.form("daily_realized_loss").rows["max_loss"]
    expected = file_problem("[rules.daily_realized_loss]\nmax_loss = -500\n")
    assert expected.key == "rules.daily_realized_loss.max_loss"
    assert row.error.text() == expected.problem == "must be a positive amount (got -500)"
    assert row.error.isVisible()
    assert not editor.save_button.isEnabled()
    assert "003 Daily loss limit" in editor.problems.text()

    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, "800")
    assert not row.error.isVisible()
    assert editor.save_button.isEnabled()
    assert "takes effect at 17:00 CT" in editor.page("daily_realized_loss").if_saved.text()


def test_an_unknown_duration_is_refused_with_a_message(editor, qtbot):
    editor.show_rule("trade_frequency")
    line = editor.form("trade_frequency").editor("minute_cooldown").line
    type_into(qtbot, line, "10 minutes")
    row = editor.form("trade_frequency").rows["minute_cooldown"]
    expected = file_problem('[rules.trade_frequency]\nminute_cooldown = "10 minutes"\n')
    assert row.error.text() == expected.problem
    assert "is not a duration" in row.error.text() and '"1h30m"' in row.error.text()
    assert not editor.save_button.isEnabled()

    type_into(qtbot, line, "until_reset")  # allowed for this cooldown
    assert not row.error.isVisible() and editor.save_button.isEnabled()
    editor.show_rule("no_stop_loss_grace")
    grace = editor.form("no_stop_loss_grace").editor("grace").line
    type_into(qtbot, grace, "until_reset")  # not allowed for a grace period
    assert (editor.form("no_stop_loss_grace").rows["grace"].error.text()
            == '"until_reset" is not allowed here; use a duration like "30m"')
    type_into(qtbot, grace, "1m30s")
    assert editor.save_button.isEnabled()


def test_an_empty_session_window_is_refused_and_an_overnight_one_accepted(editor, qtbot):
    editor.show_rule("session_block")
    windows = editor.form("session_block").editor("windows")
    row, window = windows.rows[0]
    window.editors["start"].set_value("09:30")
    window.editors["end"].set_value("09:30")
    expected = file_problem('[rules.session_block]\nwindows = [{ days = "Mon-Fri", start = "09:30", end = "09:30" }]\n')
    assert expected.key == "rules.session_block.windows[0]"
    assert row.error.text() == expected.problem
    assert row.error.text().startswith("start and end are the same time")
    assert not editor.save_button.isEnabled()

    # End before start is the rule book's overnight window (Topstep's own session), not an error.
    window.editors["end"].set_value("08:00")
    assert not row.error.isVisible() and editor.save_button.isEnabled()

    type_into(qtbot, window.editors["days"].line, "Mon-Fryday")
    assert row.error.text() == "Days: unknown day in 'mon-fryday'; use Mon Tue Wed Thu Fri Sat Sun"
    assert not editor.save_button.isEnabled()
    type_into(qtbot, window.editors["days"].line, "Mon-Fri")
    assert editor.save_button.isEnabled()

    qtbot.mouseClick(windows.add_button, Qt.MouseButton.LeftButton)  # a second window, copied from the first
    assert len(windows.value()) == 2 and editor.save_button.isEnabled()
    qtbot.mouseClick(windows.rows[1][0].remove, Qt.MouseButton.LeftButton)
    assert len(windows.value()) == 1


def test_lists_and_maps_are_edited_and_checked(editor, qtbot):
    limits = editor.form("max_contracts_per_instrument").editor("limits")
    key, value = limits.add_entry("MNQ", 2)
    assert editor.save_button.isEnabled()
    limits.add_entry("mnq", 1)
    error = editor.form("max_contracts_per_instrument").rows["limits"].error
    assert "MNQ and mnq name the same symbol (MNQ); keep one" in error.text()
    assert not editor.save_button.isEnabled()
    limits.rows[1][1].set_value("ES")
    assert editor.save_button.isEnabled()
    value.set_value(-1)
    assert "MNQ: must be at least 0 (got -1)" in error.text()
    value.set_value(2)

    tiers = editor.form("cooldown_after_loss").editor("tiers")
    tiers.set_value([])
    qtbot.mouseClick(tiers.add_button, Qt.MouseButton.LeftButton)  # a blank tier: both fields refused
    row = tiers.rows[0][0]
    assert "Loss: must be a positive amount (got 0)" in row.error.text()
    assert "Cooldown: '' is not a duration" in row.error.text()
    assert not editor.save_button.isEnabled()
    tiers.rows[0][1].set_value({"loss": 150, "cooldown": "10m"})
    assert editor.save_button.isEnabled()


def test_saving_keeps_the_users_comments_and_layout(editor, config_file, qtbot):
    editor.form("daily_realized_loss").editor("max_loss").set_value(400)
    editor.form("symbol_blocks").editor("enabled").set_value(True)
    with qtbot.waitSignal(editor.saved, timeout=5000) as saved:
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    assert saved.args == [None]  # no guard running: the file only
    text = config_file.read_text()
    assert "# My rules. Written by hand after the March blow-up: keep this comment!" in text
    assert "max_loss = 400   # never more than a day's average win" in text
    assert text.index("[rules.daily_realized_loss]") < text.index("[rules.max_contracts]")
    saved_config = load_config(config_file)
    assert saved_config.rule("daily_realized_loss").max_loss == 400
    assert saved_config.rule("symbol_blocks").enabled
    assert saved_config.connection.username == "trader@example.com"
    assert config_file.stat().st_mode & 0o077 == 0


def test_a_preset_fills_the_trailing_drawdown_for_the_account_size(editor, config_file, qtbot):
    editor.presets.activated.emit(editor.presets.findText("Topstep 150K"))
    assert editor.stack.currentIndex() == list(editor.pages).index("trailing_drawdown")
    values = editor.form("trailing_drawdown").values()
    assert values["enabled"] and values["max_drawdown"] == 4500 and values["stop_trailing_at"] == 150_000
    assert values["mode"] == "end_of_day"
    assert "Rule off → on (tighter) applied now" in editor.page("trailing_drawdown").if_saved.text()
    editor.save()
    params = load_config(config_file).rule("trailing_drawdown")
    assert (params.enabled, params.max_drawdown, params.stop_trailing_at) == (True, 4500.0, 150_000.0)


class NoBroker:
    """The guard is never started here: the subject is what Save does to its settings."""

    async def stop(self) -> None:
        pass


@pytest.fixture
def running_guard(app_home, config_file, now, run_async):
    """A real Guardian and Store as prepare_runtime builds them (not connected to any broker)."""
    store = Store(app_home / "state.db")
    plan = effective_plan(store, load_config(config_file), now)
    guardian = Guardian(NoBroker(), store, plan.effective.engine_settings(), clock=FakeClock(now),
                        pending=pending_settings(plan))
    runtime = Runtime(guardian, store, plan.effective, plan, app_home)
    yield runtime
    run_async(guardian.stop())
    store.close()


def test_tightening_applies_at_once_and_loosening_waits_for_the_reset(qtbot, aio, config_file, running_guard, now):
    guardian, store = running_guard.guardian, running_guard.store
    lock = Lock(7001, LockKind.UNTIL_RESET, "daily_realized_loss", "lost 510.00 today", now - timedelta(hours=1),
                now + timedelta(hours=2))
    guardian.engine.state(7001).locks.append(lock)

    editor = RuleEditorDialog(config_file=config_file, runtime=running_guard, clock=lambda: now)
    qtbot.addWidget(editor)
    editor.open()
    assert editor.page("daily_realized_loss").in_force.text().startswith("In force now: on")
    editor.form("daily_realized_loss").editor("max_loss").set_value(800)  # looser
    editor.form("max_contracts").editor("limit").set_value(3)  # tighter
    assert ("Max loss $500 → $800 (looser) takes effect at 17:00 CT"
            in editor.page("daily_realized_loss").if_saved.text())
    assert "Limit 5 contracts → 3 contracts (tighter) applied now" in editor.page("max_contracts").if_saved.text()
    with qtbot.waitSignal(editor.saved, timeout=5000) as saved:
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    plan = saved.args[0]

    # In force at once: the tighter contract limit. Waiting: the looser loss limit.
    assert guardian.settings.rules["max_contracts"].limit == 3
    assert guardian.settings.rules["daily_realized_loss"].max_loss == 500
    pending = guardian.pending_changes()
    assert [(c.key, c.old, c.new) for c in pending] == [("daily_realized_loss.max_loss", "500", "800")]
    assert pending[0].effective_at == plan.takes_effect == now + timedelta(hours=2)  # 17:00 CT
    assert guardian.pending is not None and guardian.pending.settings.rules["daily_realized_loss"].max_loss == 800
    # The lock the trader is under stays: no rule change lifts it.
    assert lock in guardian.engine.state(7001).locks
    # The file says what was asked; the history says what happened when.
    assert load_config(config_file).rule("daily_realized_loss").max_loss == 800
    history = {(c.key, c.old, c.new, c.applied) for c in store.rule_changes()}
    assert ("max_contracts.limit", "5", "3", True) in history
    assert ("daily_realized_loss.max_loss", "500", "800", False) in history

    # Opened again, the editor shows what is in force and what waits, with the time it takes effect.
    again = RuleEditorDialog(config_file=config_file, runtime=running_guard, clock=lambda: now)
    qtbot.addWidget(again)
    page = again.page("daily_realized_loss")
    assert "Max loss $500" in page.in_force.text()
    assert (page.waiting.text()
            == "Waiting for the reset: Max loss $500 → $800 (looser) takes effect at 17:00 CT")
    assert again.form("daily_realized_loss").values()["max_loss"] == 800  # the form edits what the file asks for
    assert "Limit 3 contracts" in again.page("max_contracts").in_force.text()
    assert again.page("max_contracts").waiting.isHidden()


def test_switching_a_rule_off_waits_and_switching_one_on_applies_at_once(qtbot, aio, config_file, running_guard, now):
    guardian = running_guard.guardian
    editor = RuleEditorDialog(config_file=config_file, runtime=running_guard, clock=lambda: now)
    qtbot.addWidget(editor)
    editor.form("trade_frequency").editor("enabled").set_value(False)
    editor.form("daily_realized_profit").editor("enabled").set_value(True)
    editor.save()
    assert guardian.settings.rules["daily_realized_profit"].enabled
    assert guardian.settings.rules["trade_frequency"].enabled
    assert [c.key for c in guardian.pending_changes()] == ["trade_frequency"]
