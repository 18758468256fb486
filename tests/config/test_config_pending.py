"""Tighten now, loosen at the next trading-day reset."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskguard.config import DeskGuardConfig, plan_config_change
from deskguard.engine.rules.cooldown_after_loss import Tier
from deskguard.engine.rules.session_block import Window

CT = ZoneInfo("America/Chicago")
BASE = DeskGuardConfig()


def at(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0, tz: ZoneInfo = CT) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=tz)


MONDAY_MORNING = at(2026, 3, 2, 10, 0)


def test_tightening_applies_now():
    new = BASE.with_rule("daily_realized_loss", max_loss=400)
    plan = plan_config_change(BASE, new, MONDAY_MORNING)
    assert plan.effective == new
    assert plan.pending is None and plan.takes_effect is None and plan.messages == []
    assert [c.key for c in plan.applied_changes] == ["daily_realized_loss.max_loss"]


def test_loosening_waits_for_the_reset_with_a_readable_message():
    new = BASE.with_rule("daily_realized_loss", max_loss=800)
    plan = plan_config_change(BASE, new, MONDAY_MORNING)
    assert plan.effective.rules.daily_realized_loss.max_loss == 500
    assert plan.pending == new
    assert plan.takes_effect == at(2026, 3, 2, 17, 0)
    assert plan.messages == ["daily_realized_loss.max_loss 500 → 800 (looser) takes effect at 17:00 CT"]


def test_just_before_and_at_the_reset():
    new = BASE.with_rule("daily_realized_loss", max_loss=800)
    before = plan_config_change(BASE, new, at(2026, 3, 2, 16, 59, 59))
    assert before.takes_effect == at(2026, 3, 2, 17, 0)
    assert before.config_at(at(2026, 3, 2, 16, 59, 59)) == before.effective
    assert before.config_at(at(2026, 3, 2, 17, 0)) == new
    # A change made exactly at the reset belongs to the new trading day: it waits a whole day.
    on_the_dot = plan_config_change(BASE, new, at(2026, 3, 2, 17, 0))
    assert on_the_dot.takes_effect == at(2026, 3, 3, 17, 0)
    # Given in UTC, the same answer.
    utc = plan_config_change(BASE, new, datetime(2026, 3, 2, 22, 59, tzinfo=UTC))
    assert utc.takes_effect == at(2026, 3, 2, 17, 0)


def test_reset_across_the_dst_change():
    # Chicago springs forward on 2026-03-08: the reset is still at 17:00 local (22:00 UTC, not 23:00).
    plan = plan_config_change(BASE, BASE.with_rule("daily_realized_loss", max_loss=800), at(2026, 3, 7, 18, 0))
    assert plan.takes_effect == datetime(2026, 3, 8, 22, 0, tzinfo=UTC)


def test_mixed_change_splits_per_field():
    new = BASE.with_rule("trade_frequency", per_minute=2, per_hour=20, hour_cooldown="1h", minute_cooldown="30s")
    plan = plan_config_change(BASE, new, MONDAY_MORNING)
    tf = plan.effective.rules.trade_frequency
    assert tf.per_minute == 2 and tf.hour_cooldown == timedelta(hours=1)  # tighter: now
    assert tf.per_hour == 10 and tf.minute_cooldown == timedelta(seconds=60)  # looser: at the reset
    assert plan.pending == new
    assert sorted(c.key for c in plan.pending_changes) == ["trade_frequency.minute_cooldown", "trade_frequency.per_hour"]


def test_enabling_is_tightening_and_brings_its_settings_along():
    new = BASE.with_rule("losing_streak", enabled=True, max_losses=5)
    plan = plan_config_change(BASE, new, MONDAY_MORNING)
    assert plan.effective == new and plan.pending is None


def test_disabling_is_loosening():
    new = BASE.with_rule("session_block", enabled=False)
    plan = plan_config_change(BASE, new, MONDAY_MORNING)
    assert plan.effective.rules.session_block.enabled is True
    assert plan.messages == ["session_block on → off (looser) takes effect at 17:00 CT"]
    assert plan.config_at(at(2026, 3, 2, 17, 0)).rules.session_block.enabled is False


def test_editing_a_rule_that_stays_off_applies_now():
    new = BASE.with_rule("weekly_realized_loss", max_loss=5000)
    plan = plan_config_change(BASE, new, MONDAY_MORNING)
    assert plan.effective == new and plan.pending is None


def test_choice_fields_count_any_change_as_loosening():
    plan = plan_config_change(BASE, BASE.with_rule("max_contracts", count="net"), MONDAY_MORNING)
    assert plan.effective.rules.max_contracts.count == "gross"
    assert plan.pending is not None


def test_until_reset_against_a_duration_waits():
    # A lock "until the reset" can be shorter than 30 minutes (late in the day): not provably tighter.
    active = BASE.with_rule("losing_streak", enabled=True)
    plan = plan_config_change(active, active.with_rule("losing_streak", cooldown="until_reset"), MONDAY_MORNING)
    assert plan.effective.rules.losing_streak.cooldown == timedelta(minutes=30)
    assert plan.messages == ['losing_streak.cooldown 30m → until_reset (looser) takes effect at 17:00 CT']


def test_symbol_blocks_adding_is_tighter_removing_is_looser():
    active = BASE.with_rule("symbol_blocks", enabled=True)
    more = plan_config_change(active, active.with_rule("symbol_blocks", symbols=("RTY", "CL*", "NG")), MONDAY_MORNING)
    assert more.pending is None and more.effective.rules.symbol_blocks.symbols == ("RTY", "CL*", "NG")
    fewer = plan_config_change(active, active.with_rule("symbol_blocks", symbols=("RTY",)), MONDAY_MORNING)
    assert fewer.effective.rules.symbol_blocks.symbols == ("RTY", "CL*")
    assert fewer.messages == ['symbol_blocks.symbols ["RTY", "CL*"] → ["RTY"] (looser) takes effect at 17:00 CT']


def test_per_symbol_limits():
    old = BASE.with_rule("max_contracts_per_instrument", limits={"MNQ": 2})
    lower = plan_config_change(old, old.with_rule("max_contracts_per_instrument", limits={"MNQ": 1, "ES": 1}), MONDAY_MORNING)
    assert lower.pending is None
    higher = plan_config_change(old, old.with_rule("max_contracts_per_instrument", limits={"MNQ": 3}), MONDAY_MORNING)
    assert higher.effective.rules.max_contracts_per_instrument.limits == {"MNQ": 2}
    # Removing MNQ's own limit lets it fall back to the default of 3: looser.
    removed = plan_config_change(old, old.with_rule("max_contracts_per_instrument", limits={}), MONDAY_MORNING)
    assert removed.pending is not None
    # Adding a symbol above the default is looser too.
    above = plan_config_change(BASE, BASE.with_rule("max_contracts_per_instrument", limits={"ES": 4}), MONDAY_MORNING)
    assert above.pending is not None


def test_per_symbol_limit_removal_is_judged_against_what_stays_in_force():
    # Asked for: unlisted symbols blocked (waits: a choice) and MNQ's own limit removed. Under
    # "block" MNQ would be 0, but "block" is not in force yet: MNQ would fall back to 3. Waits.
    old = BASE.with_rule("max_contracts_per_instrument", limits={"MNQ": 2})
    new = old.with_rule("max_contracts_per_instrument", limits={}, unknown_symbols="block")
    plan = plan_config_change(old, new, MONDAY_MORNING)
    assert plan.effective.rules.max_contracts_per_instrument.limits == {"MNQ": 2}


def test_cooldown_tiers():
    faster = (Tier(100.0, timedelta(minutes=5)), Tier(300.0, timedelta(minutes=10)))
    longer = BASE.with_rule(
        "cooldown_after_loss",
        tiers=(Tier(50.0, timedelta(minutes=5)), Tier(200.0, timedelta(minutes=20)), Tier(300.0, timedelta(minutes=30))),
    )
    assert plan_config_change(BASE, longer, MONDAY_MORNING).pending is None
    shorter = plan_config_change(BASE, BASE.with_rule("cooldown_after_loss", tiers=faster), MONDAY_MORNING)
    assert shorter.effective == BASE and shorter.pending is not None
    dropped = plan_config_change(BASE, BASE.with_rule("cooldown_after_loss", tiers=()), MONDAY_MORNING)
    assert dropped.pending is not None


def test_session_windows_narrowing_is_tighter_widening_is_looser():
    day = Window("Mon-Fri", time(8, 30), time(15, 10), "America/Chicago")
    old = BASE.with_rule("session_block", windows=(day,))
    narrower = Window("Mon-Thu", time(9, 0), time(14, 0), "America/Chicago")
    plan = plan_config_change(old, old.with_rule("session_block", windows=(narrower,)), MONDAY_MORNING)
    assert plan.pending is None
    wider = Window("Mon-Fri", time(8, 0), time(15, 10), "America/Chicago")
    plan = plan_config_change(old, old.with_rule("session_block", windows=(wider,)), MONDAY_MORNING)
    assert plan.effective.rules.session_block.windows == (day,)
    other_zone = Window("Mon-Fri", time(9, 30), time(16, 10), "America/New_York")
    assert plan_config_change(old, old.with_rule("session_block", windows=(other_zone,)), MONDAY_MORNING).pending


def test_holidays_and_early_closes():
    sb = BASE.rules.session_block
    more_holidays = BASE.with_rule("session_block", holidays=(*sb.holidays, date(2026, 7, 3)))
    assert plan_config_change(BASE, more_holidays, MONDAY_MORNING).pending is None
    fewer_holidays = BASE.with_rule("session_block", holidays=sb.holidays[1:])
    assert plan_config_change(BASE, fewer_holidays, MONDAY_MORNING).pending is not None
    earlier = BASE.with_rule("session_block", early_closes={**sb.early_closes, date(2026, 11, 27): time(11, 0)})
    assert plan_config_change(BASE, earlier, MONDAY_MORNING).pending is None
    removed = BASE.with_rule("session_block", early_closes={date(2026, 12, 24): time(12, 0)})
    assert plan_config_change(BASE, removed, MONDAY_MORNING).pending is not None


def test_stop_trailing_at_zero_is_the_strictest():
    old = BASE.with_rule("trailing_drawdown", enabled=True, stop_trailing_at=50000)
    assert plan_config_change(old, old.with_rule("trailing_drawdown", stop_trailing_at=0), MONDAY_MORNING).pending is None
    assert plan_config_change(old, old.with_rule("trailing_drawdown", stop_trailing_at=49000), MONDAY_MORNING).pending


def test_trading_day_change_is_pending_and_timed_by_the_old_calendar():
    new = BASE.with_section("trading_day", timezone="America/New_York")
    plan = plan_config_change(BASE, new, MONDAY_MORNING)
    assert plan.effective.trading_day == BASE.trading_day
    assert plan.takes_effect == at(2026, 3, 2, 17, 0)  # 17:00 Chicago, not New York
    assert plan.messages == ['trading_day.timezone "America/Chicago" → "America/New_York" takes effect at 17:00 CT']


def test_other_sections_apply_at_once_even_with_pending_rules():
    new = BASE.with_section("ui", theme="dark").with_section("notifications", sound=True).with_rule(
        "daily_realized_loss", max_loss=900
    )
    plan = plan_config_change(BASE, new, MONDAY_MORNING)
    assert plan.effective.ui.theme == "dark" and plan.effective.notifications.sound is True
    assert plan.effective.rules.daily_realized_loss.max_loss == 500


def test_fees():
    no_fees = BASE.with_section("pnl", include_fees=False)
    assert plan_config_change(BASE, no_fees, MONDAY_MORNING).effective.pnl.include_fees is True
    assert plan_config_change(no_fees, BASE, MONDAY_MORNING).pending is None


def test_naive_now_is_refused():
    with pytest.raises(ValueError):
        plan_config_change(BASE, BASE, datetime(2026, 3, 2, 10, 0))


# --- properties ----------------------------------------------------------------------------------

money = st.floats(min_value=1, max_value=10_000, allow_nan=False).map(lambda x: round(x, 2))


@settings(max_examples=150, deadline=None)
@given(a=money, b=money, ca=st.booleans(), cb=st.booleans(), wa=st.sampled_from([0.5, 0.8]), wb=st.sampled_from([0.5, 0.8]))
def test_scalar_fields_never_loosen_early(a: float, b: float, ca: bool, cb: bool, wa: float, wb: float):
    old = BASE.with_rule("daily_realized_loss", max_loss=a, count_open_pnl=ca, warn_at=wa)
    new = BASE.with_rule("daily_realized_loss", max_loss=b, count_open_pnl=cb, warn_at=wb)
    plan = plan_config_change(old, new, MONDAY_MORNING)
    now = plan.effective.rules.daily_realized_loss
    assert now.max_loss in (a, b) and now.max_loss <= a
    assert now.count_open_pnl in (ca, cb) and now.count_open_pnl >= ca
    assert now.warn_at == wa
    assert (plan.pending is None) == (plan.effective == new)
    assert plan.config_at(plan.takes_effect or MONDAY_MORNING) == new


symbols = st.sampled_from(["MNQ", "ES", "NQ", "MES", "CL"])
limits = st.dictionaries(symbols, st.integers(0, 6), max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    la=limits, lb=limits, da=st.integers(0, 6), db=st.integers(0, 6),
    ua=st.sampled_from(["default", "block"]), ub=st.sampled_from(["default", "block"]),
)
def test_no_symbol_limit_rises_before_the_reset(la, lb, da, db, ua, ub):
    old = BASE.with_rule("max_contracts_per_instrument", limits=la, default_limit=da, unknown_symbols=ua)
    new = BASE.with_rule("max_contracts_per_instrument", limits=lb, default_limit=db, unknown_symbols=ub)
    now = plan_config_change(old, new, MONDAY_MORNING).effective.rules.max_contracts_per_instrument

    def limit(p, s):
        return p.limits.get(s, p.default_limit if p.unknown_symbols == "default" else 0)

    for s in ["MNQ", "ES", "NQ", "MES", "CL", "RTY"]:
        assert limit(now, s) <= limit(old.rules.max_contracts_per_instrument, s)


cooldowns = st.sampled_from([timedelta(minutes=m) for m in (1, 5, 15, 30, 60)] + ["until_reset"])
tiers = st.lists(st.builds(Tier, st.sampled_from([50.0, 100.0, 200.0, 300.0]), cooldowns), max_size=4).map(tuple)


@settings(max_examples=300, deadline=None)
@given(ta=tiers, tb=tiers)
def test_no_cooldown_shortens_before_the_reset(ta, tb):
    old = BASE.with_rule("cooldown_after_loss", tiers=ta)
    new = BASE.with_rule("cooldown_after_loss", tiers=tb)
    now = plan_config_change(old, new, MONDAY_MORNING).effective.rules.cooldown_after_loss

    def cooldown(ts, loss):
        matching = [t for t in ts if loss >= t.loss]
        return max(matching, key=lambda t: t.loss).cooldown if matching else None

    for loss in (10.0, 50.0, 75.0, 100.0, 150.0, 200.0, 250.0, 300.0, 1000.0):
        before, after = cooldown(ta, loss), cooldown(now.tiers, loss)
        if before is None or before == after:
            continue
        assert after is not None and after != "until_reset" and before != "until_reset" and after >= before


def test_change_values_as_text():
    active = BASE.with_rule("losing_streak", enabled=True)
    plan = plan_config_change(active, active.with_rule("losing_streak", cooldown="1h"), MONDAY_MORNING)
    [change] = plan.applied_changes
    assert (change.key, change.old_text, change.new_text) == ("losing_streak.cooldown", "30m", "1h")
    assert str(change) == "losing_streak.cooldown 30m → 1h (tighter) applied now"
