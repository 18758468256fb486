from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deskguard.engine.clock import FakeClock
from deskguard.engine.decisions import Action
from deskguard.engine.models import Side, Trade
from deskguard.store import Store

from .conftest import T0


def _trade(trade_id: int, minutes: int, pnl: float | None = -50.0, **changes: object) -> Trade:
    fields: dict[str, object] = dict(
        id=trade_id, account_id=7, contract_id="CON.F.US.MNQ.H25", time=T0 + timedelta(minutes=minutes),
        price=21000.25, pnl=pnl, fees=1.24, side=Side.SELL, size=1, order_id=9000 + trade_id,
    )
    fields.update(changes)
    return Trade(**fields)  # type: ignore[arg-type]


def test_recording_trades_is_idempotent(store: Store) -> None:
    trades = [_trade(1, 0, pnl=None), _trade(2, 5), _trade(3, 10)]
    assert store.record_trades(7, trades) == 3
    assert store.record_trades(7, trades) == 0
    assert store.record_trades(7, trades[1:] + [_trade(4, 20)]) == 1
    assert store.trades(7, T0) == trades + [_trade(4, 20)]
    assert store.seen_trade_ids(7, T0) == {1, 2, 3, 4}
    assert store.seen_trade_ids(7, T0 + timedelta(minutes=6)) == {3, 4}
    assert store.seen_trade_ids(8, T0) == set()


def test_a_later_report_of_a_trade_replaces_it(store: Store) -> None:
    store.record_trades(7, [_trade(1, 0)])
    store.record_trades(7, [_trade(1, 0, voided=True)])
    assert store.trades(7, T0) == [_trade(1, 0, voided=True)]


def test_the_same_trade_id_on_two_accounts_is_two_trades(store: Store) -> None:
    store.record_trades(7, [_trade(1, 0)])
    store.record_trades(8, [_trade(1, 0, account_id=8)])
    assert store.seen_trade_ids(7, T0) == {1} and store.seen_trade_ids(8, T0) == {1}


def test_a_trade_of_another_account_is_refused_and_nothing_is_written(store: Store) -> None:
    with pytest.raises(ValueError, match="belongs to account 8"):
        store.record_trades(7, [_trade(1, 0), _trade(2, 0, account_id=8)])
    assert store.seen_trade_ids(7, T0) == set()


MONDAY = date(2025, 3, 3)


def test_weekly_sums_use_the_previous_days_of_the_week(store: Store) -> None:
    store.record_day(7, MONDAY - timedelta(days=3), -900.0, 4)  # last week's Friday
    store.record_day(7, MONDAY, -300.0, 5)
    store.record_day(7, MONDAY + timedelta(days=1), 120.0, 2)
    store.record_day(7, MONDAY + timedelta(days=2), -50.0, 1)  # today, in progress
    store.record_day(8, MONDAY, -1000.0, 9)  # another account
    wednesday = MONDAY + timedelta(days=2)
    assert store.realized_between(7, MONDAY, wednesday - timedelta(days=1)) == pytest.approx(-180.0)
    assert store.realized_between(7, MONDAY, wednesday) == pytest.approx(-230.0)
    assert store.realized_between(7, MONDAY, MONDAY - timedelta(days=1)) == 0.0  # Monday: no previous days
    assert store.realized_between(9, MONDAY, wednesday) == 0.0


def test_record_day_replaces_the_day_and_keeps_a_known_balance(store: Store, clock: FakeClock) -> None:
    store.record_day(7, MONDAY, -100.0, 1, fees=2.48, balance=49_900.0)
    clock.advance(hours=1)
    store.record_day(7, MONDAY, -250.0, 3, fees=7.44)
    [day] = store.days(7, MONDAY)
    assert (day.realized, day.trades, day.fees, day.balance) == (-250.0, 3, 7.44, 49_900.0)
    assert day.updated_at == T0 + timedelta(hours=1)
    assert store.days(7, MONDAY + timedelta(days=1)) == []


def test_days_come_back_in_order_within_the_range(store: Store) -> None:
    for offset in (3, 0, 1, 5):
        store.record_day(7, MONDAY + timedelta(days=offset), float(offset), offset)
    assert [d.trading_date for d in store.days(7, MONDAY, MONDAY + timedelta(days=3))] == [
        MONDAY, MONDAY + timedelta(days=1), MONDAY + timedelta(days=3),
    ]


def test_a_datetime_is_not_taken_for_a_trading_date(store: Store) -> None:
    with pytest.raises(TypeError):
        store.record_day(7, T0, -1.0, 1)  # type: ignore[arg-type]


@given(st.lists(st.tuples(st.integers(0, 13), st.integers(-500_00, 500_00)), max_size=20))
def test_realized_between_sums_exactly_the_days_in_range(days: list[tuple[int, int]]) -> None:
    with Store(":memory:") as store:
        latest: dict[int, float] = {}
        for offset, cents in days:
            store.record_day(7, MONDAY + timedelta(days=offset), cents / 100, 1)
            latest[offset] = cents / 100
        week = sum(v for k, v in latest.items() if 0 <= k <= 4)
        assert store.realized_between(7, MONDAY, MONDAY + timedelta(days=4)) == pytest.approx(week)


def test_high_water_mark(store: Store, db_path: Path) -> None:
    assert store.get_high_water_mark(7) is None
    store.set_high_water_mark(7, 50_000.0, T0)
    store.set_high_water_mark(7, 51_250.5, T0 + timedelta(days=1))
    store.close()
    with Store(db_path) as again:
        assert again.get_high_water_mark(7) == 51_250.5
        assert again.get_high_water_mark(8) is None


def test_rule_memory(store: Store) -> None:
    assert store.get_memory(7, "losing_streak") is None
    store.set_memory(7, "losing_streak", "2")
    store.set_memory(7, "entries", '["2025-03-04T15:30:00+00:00"]')
    store.set_memory(7, "losing_streak", "3")
    assert store.get_memory(7, "losing_streak") == "3"
    assert store.memory(7) == {"entries": '["2025-03-04T15:30:00+00:00"]', "losing_streak": "3"}
    assert store.get_memory(8, "losing_streak") is None
    store.set_memory(7, "losing_streak", None)
    assert store.get_memory(7, "losing_streak") is None
    with pytest.raises(ValueError, match="JSON"):
        store.set_memory(7, "losing_streak", "three")


def test_rule_change_history(store: Store) -> None:
    reset = T0 + timedelta(hours=7)
    tighter = store.record_rule_change(T0, "daily_realized_loss.max_loss", "500", "400", T0, True, "tightened")
    looser = store.record_rule_change(T0, "max_contracts.limit", "5", "10", reset, False, "loosening waits for reset")
    assert [c.id for c in store.rule_changes(pending_only=True)] == [looser]
    assert store.mark_rule_change_applied(looser, reset)
    assert not store.mark_rule_change_applied(looser, reset)
    changes = store.rule_changes()
    assert [c.id for c in changes] == [tighter, looser]
    assert changes[1].applied and changes[1].applied_at == reset and changes[1].effective_at == reset
    assert changes[0].old == "500" and changes[0].new == "400" and changes[0].applied_at == T0
    assert [c.id for c in store.rule_changes(key="max_contracts.limit")] == [looser]
    assert store.rule_changes(pending_only=True) == []


def test_an_enforcement_cut_short_is_found_on_the_next_start(db_path: Path) -> None:
    with Store(db_path) as store:
        done = store.begin_enforcement(7, Action.CLOSE_POSITION, "CON.F.US.MNQ.H25", "size cap", at=T0)
        store.finish_enforcement(done, "closed")
        store.begin_enforcement(7, Action.FLATTEN, None, "daily loss limit reached", at=T0)
        # the process dies here
    with Store(db_path) as store:
        [pending] = store.unfinished_enforcements()
        assert (pending.account_id, pending.action, pending.contract_id) == (7, "flatten", None)
        assert pending.reason == "daily loss limit reached" and pending.started_at == T0
        assert store.finish_enforcement(pending.id, "flattened after restart")
        assert not store.finish_enforcement(pending.id, "twice")
        assert store.unfinished_enforcements() == []


def test_an_enforcement_can_be_finished_by_what_it_did(store: Store) -> None:
    store.begin_enforcement(7, Action.CLOSE_POSITION, "CON.F.US.MNQ.H25", "size cap")
    store.begin_enforcement(7, Action.FLATTEN, None, "daily loss")
    store.begin_enforcement(8, Action.FLATTEN, None, "daily loss")
    assert store.finish_enforcement_for(7, Action.FLATTEN, None, "done") == 1
    assert store.finish_enforcement_for(7, "close_position", "CON.F.US.MNQ.H25", "done") == 1
    assert store.finish_enforcement_for(7, Action.FLATTEN, None, "again") == 0
    assert [(p.account_id, p.action) for p in store.unfinished_enforcements()] == [(8, "flatten")]
