"""The Rules lab on the demo's seeded history: two curves and the table; Cancel stops cleanly;
Rules → Replay history… opens it."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest
from PySide6.QtCore import QDate

pytestmark = pytest.mark.ui


def wait_task(qtbot, task: asyncio.Future, timeout: int = 15_000):
    """Let the session loop run ``task`` to its end and return its result."""
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


@pytest.fixture
def demo_runtime(qtbot, aio, tmp_path, monkeypatch):
    """The demo's runtime (simulator with its seeded month, guardian guarding)."""
    from deskguard.runtime import prepare_runtime

    monkeypatch.setenv("DESKGUARD_HOME", str(tmp_path))
    runtime = wait_task(qtbot, asyncio.ensure_future(prepare_runtime(demo=True, simulator_seed=5)))
    try:
        wait_task(qtbot, asyncio.ensure_future(runtime.guardian.start()))
        yield runtime
    finally:
        wait_task(qtbot, asyncio.ensure_future(runtime.stop()))


def _lab(qtbot, runtime):
    from deskguard.ui.dialogs.replay_lab import ReplayLab

    lab = ReplayLab(None, runtime=runtime)
    qtbot.addWidget(lab)
    lab.show()
    return lab


def _span(lab, days) -> None:
    lab.from_edit.setDate(QDate(days[0].year, days[0].month, days[0].day))
    lab.to_edit.setDate(QDate(days[-1].year, days[-1].month, days[-1].day))


def test_the_lab_replays_the_demo_history_into_two_curves_and_the_table(qtbot, demo_runtime, tmp_path) -> None:
    lab = _lab(qtbot, demo_runtime)
    days = demo_runtime.simulator.history.days()[-5:]
    _span(lab, days)
    assert lab.run_button.isEnabled() and lab.account_box.count() >= 1
    with qtbot.waitSignal(lab.finishedRun, timeout=30_000) as blocker:
        lab.start()
        assert lab.cancel_button.isEnabled() and not lab.run_button.isEnabled()
    assert blocker.args == ["done"]
    curves = lab.curves()
    (ax, ay), (gx, gy) = curves["actual"], curves["guarded"]
    assert len(ax) == len(gx) == lab.table.rowCount() == 5
    assert ax == gx
    # The curves are the running sums of the table's columns.
    actual = [float(lab.table.item(r, 1).text().replace(",", "").replace("$", "").replace("\u2212", "-")) for r in range(5)]
    assert ay[-1] == pytest.approx(sum(actual), abs=0.01)
    assert [lab.table.item(r, 0).text() for r in range(5)] == [d.isoformat() for d in days]
    assert lab.result is not None and lab.result.guarded_total == pytest.approx(gy[-1], abs=0.01)
    rows = list(csv.DictReader(io.StringIO(lab.export_csv(tmp_path / "lab.csv").read_text(encoding="utf-8"))))
    assert [r["trading_day"] for r in rows] == [d.isoformat() for d in days]
    assert lab.run_button.isEnabled() and not lab.cancel_button.isEnabled()


def test_cancel_stops_the_run_cleanly(qtbot, demo_runtime) -> None:
    lab = _lab(qtbot, demo_runtime)
    _span(lab, demo_runtime.simulator.history.days())
    with qtbot.waitSignal(lab.finishedRun, timeout=30_000) as blocker:
        lab.start()
        lab.cancel()
    assert blocker.args == ["cancelled"]
    assert lab.result is None and lab.table.rowCount() == 0
    assert lab.run_button.isEnabled() and not lab.cancel_button.isEnabled()
    assert demo_runtime.guardian.health.guarding  # the guard never noticed


def test_the_rules_menu_opens_the_lab(qtbot, aio, vm) -> None:
    from deskguard.ui.main_window import MainWindow

    win = MainWindow(vm)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.replayRequested, timeout=1000):
        win.replay_action.trigger()
    assert win.replay_action.text() == "&Replay history…"
    win.quitting = True


def test_use_these_rules_tightens_now_and_loosens_at_the_reset(qtbot, demo_runtime) -> None:
    from deskguard.config import load_config

    lab = _lab(qtbot, demo_runtime)
    assert not lab.use_button.isEnabled()  # nothing edited yet
    tighter = lab.rules.with_rule("daily_realized_loss", max_loss=300.0).with_rule("trade_frequency", per_day=80)
    lab.set_rules(tighter)
    assert lab.use_button.isEnabled() and "003 daily_realized_loss" in lab.rules_label.text()
    plan = lab.use_rules()
    # 003 tighter: in force at once; 006's per_day raised: looser, waits for the reset.
    assert demo_runtime.guardian.settings.rules["daily_realized_loss"].max_loss == 300.0
    assert [c.key for c in plan.pending_changes] == ["trade_frequency.per_day"]
    on_disk = load_config(lab.config_file)
    assert on_disk.rule("daily_realized_loss").max_loss == 300.0 and on_disk.rule("trade_frequency").per_day == 80
    assert not lab.use_button.isEnabled()


def test_edit_a_copy_changes_the_labs_rules_not_config_toml(qtbot, aio, tmp_path) -> None:
    from deskguard.ui.dialogs.replay_lab import ReplayLab

    config = tmp_path / "config.toml"
    lab = ReplayLab(None, runtime=None, config_file=config)
    qtbot.addWidget(lab)
    assert not lab.run_button.isEnabled() and "Sign in" in lab.status.text()  # no guard: nothing to read
    editor = lab.edit_copy()
    editor.form("daily_realized_loss").editor("max_loss").set_value(250.0)
    editor.validate("daily_realized_loss")
    with qtbot.waitSignal(editor.saved, timeout=5000):
        editor.save()
    assert lab.rules.rule("daily_realized_loss").max_loss == 250.0
    assert lab.rules_label.text() == "An edited copy: 003 daily_realized_loss"
    assert lab.use_button.isEnabled()
    assert not config.exists()  # the user's file is written only by "Use these rules"
    copy = lab._copy_dir
    assert copy is not None and (copy / "config.toml").exists()
    lab.reject()
    assert not copy.exists()  # the copy goes with the lab
