"""What the trader reads is English, not code: every rule's decisions, locks, summaries and labels go
through deskguard.guardian.texts, and nothing the main window or a notification shows carries a
snake_case key (``reduce_position``, ``count_open_pnl``, ``until_reset``).

Also: a figure exactly at its cap (after a reduce) is AT LIMIT in amber, not BREACHED in red."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtWidgets import QAbstractButton, QLabel, QProgressBar, QTableWidget
from ui_stubs import PendingStub, loss_figure, make_lock, make_position

from deskguard.engine.decisions import Action, Decision, Lock, LockKind
from deskguard.engine.rules import ALL_RULES, Figure
from deskguard.engine.schema import Unit, param_info
from deskguard.guardian import texts
from deskguard.guardian.snapshot import NoticeLevel
from deskguard.ui.display import AMBER, LOSS_COLOR

pytestmark = pytest.mark.ui

CODE_WORD = re.compile(r"\b[a-z]+_[a-z_]+\b")
CONTRACT = "CON.F.US.MNQ.H26"
NOW = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)


def code_words(text: str) -> list[str]:
    return CODE_WORD.findall(text)


def decisions_for(key: str) -> list[Decision]:
    """One decision of every action for a rule, with a reason that names keys the way code does."""
    reason = f"5 MNQ contracts open, limit 3 ({key}, reduce_position, until_reset)"
    out = []
    for action in Action:
        lock = None
        if action == Action.LOCK:
            lock = Lock(7001, LockKind.UNTIL_RESET, key, reason, NOW, NOW + timedelta(hours=2))
        out.append(Decision(7001, action, key, reason, contract_id=CONTRACT, size=3, lock=lock,
                            order_id=11, stop_price=20990.25, side=1))
        out.append(Decision(7001, action, key, reason, size=3, lock=lock))  # account-wide
    return out


def every_text_of(key: str) -> list[str]:
    out = [texts.rule_name(key), texts.rule_title(key)]
    for d in decisions_for(key):
        out += [texts.enforcement_done(d, "MNQ at 3, limit 3"), texts.enforcement_failed(d, "still at 5, limit 3"),
                texts.decision_sentence(d), texts.warning_sentence(d), texts.action_done(d), texts.action_to_do(d)]
    for kind in LockKind:
        until = None if kind in (LockKind.UNTIL_CAN_TRADE, LockKind.PERMANENT) else NOW + timedelta(minutes=30)
        for symbol in (None, "MNQ"):
            lock = Lock(7001, kind, key, f"{key} says until_reset", NOW, until, symbol)
            out += [texts.lock_notice(lock), texts.lock_ended(lock), texts.lock_span(lock)]
    rule = next(r for r in ALL_RULES if r.key == key)
    params = rule.Params()
    out.append(texts.params_summary(key, params))
    for f in dataclasses.fields(params):
        out.append(texts.field_label(f.name))
        out.append(texts.param_phrase(f.name, getattr(params, f.name), param_info(f)))
        out.append(texts.change_sentence(f"{key}.{f.name}", "500.0", "800.0", "at the reset"))
    out.append(texts.change_sentence(key, "true", "false", "at the reset"))
    return out


@pytest.mark.parametrize("key", [r.key for r in ALL_RULES])
def test_every_decision_of_every_rule_reads_without_code_words(key):
    bad = {text: code_words(text) for text in every_text_of(key) if code_words(text)}
    assert not bad


def test_the_sentences_say_what_was_done():
    reduce = Decision(7001, Action.REDUCE_POSITION, "max_contracts_per_instrument", "5 MNQ contracts open, limit 3",
                      contract_id=CONTRACT, size=3)
    assert texts.enforcement_done(reduce, "MNQ at 3, limit 3") == "Reduced MNQ to 3 (limit 3): 5 MNQ contracts open, limit 3"
    flatten = Decision(7001, Action.FLATTEN, "daily_realized_loss", "day's P&L -600.00 reached the daily loss limit")
    assert texts.enforcement_done(flatten, "flat after 1 round(s)").startswith("Flattened the account: ")
    close = Decision(7001, Action.CLOSE_POSITION, "daily_unrealized_loss", "open loss 300.00", contract_id=CONTRACT)
    assert texts.enforcement_done(close, "MNQ closed") == "Closed MNQ: open loss 300.00"
    lock = Lock(7001, LockKind.UNTIL_RESET, "daily_realized_loss", "loss", NOW, NOW + timedelta(hours=1))
    assert texts.lock_notice(lock).startswith("LOCKED until ") and "(the trading-day reset)" in texts.lock_notice(lock)
    assert texts.lock_ended(lock) == "lock ended (Daily loss limit): trading allowed again"


def test_summaries_and_labels_are_words_and_money():
    rule = next(r for r in ALL_RULES if r.key == "daily_realized_loss")
    assert texts.params_summary(rule.key, rule.Params()) == "Max loss $500, open P&L not counted, warn at 80 %"
    assert texts.field_label("count_open_pnl") == "Count open P&L"
    assert texts.field_label("high_water_mark") == "High-water mark"


def visible_strings(window) -> list[str]:
    """Every string the main window shows: labels, buttons, tables, bars, tabs, the status line."""
    out = [window.windowTitle(), window.statusBar().currentMessage()]
    for label in window.findChildren(QLabel):
        if label.isVisibleTo(window):
            out += [label.text(), label.toolTip()]
    for button in window.findChildren(QAbstractButton):
        out.append(button.text())
    for bar in window.findChildren(QProgressBar):
        out.append(bar.format())
    for table in window.findChildren(QTableWidget):
        for r in range(table.rowCount()):
            for c in range(table.columnCount()):
                item = table.item(r, c)
                if item is not None:
                    out += [item.text(), item.toolTip()]
    model = window.activity.proxy
    for r in range(model.rowCount()):
        for c in range(model.columnCount()):
            out.append(str(model.data(model.index(r, c))))
    for i in range(window.tabs.count()):
        out.append(window.tabs.tabText(i))
    return [s for s in out if s]


def test_the_main_window_and_notifications_show_no_code_words(window, stub, qtbot):
    from deskguard.ui.tray import TrayController

    tray = TrayController(window.vm, window, tray_available=False)
    tray.set_notifications(True, False)
    stub.pending = [PendingStub("daily_realized_loss.max_loss", "500.0", "800.0"),
                    PendingStub("max_contracts", "true", "false")]
    figures = {"daily_realized_loss": loss_figure(420.0),
               "max_contracts_per_instrument": Figure(3, 3, Unit.CONTRACTS, "3 / 3 MNQ")}
    lock = make_lock(LockKind.UNTIL_RESET, seconds=3600, rule="daily_realized_loss", reason="day's loss reached the limit")
    stub.emit(figures=figures, positions=(make_position(),), locks=(lock,), warnings=("daily_realized_loss",))
    for rule in ALL_RULES:
        for d in decisions_for(rule.key):
            stub.notice(NoticeLevel.ENFORCEMENT, texts.enforcement_done(d, "MNQ at 3, limit 3"), rule=rule.key)
            stub.notice(NoticeLevel.ALERT, texts.enforcement_failed(d, "still at 5"), rule=rule.key)
            tray._flush_notices()
    qtbot.waitUntil(lambda: window.lock_banner.isVisible())
    shown = visible_strings(window) + [f"{title} {text}" for title, text in tray.messages]
    bad = {s: code_words(s) for s in shown if code_words(s)}
    assert not bad


def test_a_figure_exactly_at_its_cap_is_at_limit_in_amber_and_past_it_breached_in_red(window, stub, qtbot):
    key = "max_contracts_per_instrument"
    stub.emit(figures={key: Figure(3, 3, Unit.CONTRACTS, "3 / 3 MNQ")})
    qtbot.waitUntil(lambda: window.rules.row_of(key)["state"] == "AT LIMIT")
    row = window.rules.keys.index(key)
    assert window.rules.item(row, 2).foreground().color().name() == AMBER

    stub.emit(figures={key: Figure(5, 3, Unit.CONTRACTS, "5 / 3 MNQ")})
    qtbot.waitUntil(lambda: window.rules.row_of(key)["state"] == "BREACHED")
    assert window.rules.item(row, 2).foreground().color().name() == LOSS_COLOR

    # Money limits are breached on reaching them: a loss exactly at the limit is not "at limit".
    stub.emit(figures={"daily_realized_loss": loss_figure(500.0)})
    qtbot.waitUntil(lambda: window.rules.row_of("daily_realized_loss")["state"] == "BREACHED")
