"""Firm profiles and per-account rules in the engine: each profile's effective rules, the precedence
of account / profile / top-level / default, 001's micro weighting and scaling tiers, 017's cap, and
014's floor from end-of-day balances (rules.md, "Accounts, per-account rules and firm profiles")."""

from __future__ import annotations

from dataclasses import replace
from datetime import time, timedelta

import pytest
from engine_harness import (
    ACCOUNT,
    MNQ,
    NQ,
    T0_RESET,
    Action,
    Desk,
    LockKind,
    brief,
    ct,
    lock_of,
)

from deskguard.engine.effective import ACCOUNT as FROM_ACCOUNT
from deskguard.engine.effective import DEFAULT, PROFILE, TOP_LEVEL, resolve
from deskguard.engine.engine import RiskEngine
from deskguard.engine.events import AccountUpdated, Resync
from deskguard.engine.models import Account
from deskguard.engine.profiles import PROFILES, propose_profile
from deskguard.engine.rules.consistency import todays_cap
from deskguard.engine.rules.max_contracts import Tier, count_contracts
from deskguard.engine.settings import AccountSettings, EngineSettings, default_rules

NAME = "50KTC-V2-123456-789"  # the desk's account name
FLATTEN, LOCK, WARN, REDUCE = Action.FLATTEN, Action.LOCK, Action.WARN, Action.REDUCE_POSITION


def profile_rules(profile: str, *, top: dict | None = None, written: set | None = None,
                  account: dict | None = None, starting_balance: float | None = None):
    rules = default_rules()
    for key, changes in (top or {}).items():
        rules[key] = replace(rules[key], **changes)
    return resolve(rules, written or set(), PROFILES[profile] if profile else None, account or {}, starting_balance)


def only_rules(settings: AccountSettings, *keys: str) -> AccountSettings:
    """The account's settings with every other rule switched off (to test one rule alone)."""
    rules = {k: (p if k in keys else replace(p, enabled=False)) for k, p in settings.rules.items()}
    return replace(settings, rules=rules)


def desk_for(account: AccountSettings, *, balance: float | None = 50_000.0, start=None) -> Desk:
    settings = EngineSettings(accounts={NAME.lower(): account})
    return Desk(settings, balance=balance, **({"start": start} if start else {}))


# ----- each profile ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size,start,drawdown,limit", [("50k", 50_000, 2_000, 5), ("100k", 100_000, 3_000, 10),
                                                     ("150k", 150_000, 4_500, 15)])
def test_each_combine_profile_sets_the_firms_rules(size, start, drawdown, limit):
    eff = profile_rules(f"topstep_combine_{size}")
    r = eff.settings.rules
    assert eff.settings.starting_balance == start
    assert (r["trailing_drawdown"].enabled, r["trailing_drawdown"].mode) == (True, "end_of_day")
    assert r["trailing_drawdown"].max_drawdown == drawdown
    assert r["trailing_drawdown"].stop_trailing_at == start
    assert (r["max_contracts"].enabled, r["max_contracts"].limit, r["max_contracts"].micro_weight) == (True, limit, 0.1)
    assert r["max_contracts"].scaling == ()
    assert r["session_block"].enabled and r["session_block"].flatten_at_end
    assert [(w.days, w.start, w.end, w.timezone) for w in r["session_block"].windows] == [
        ("Sun-Thu", time(17, 0), time(15, 10), "America/Chicago")]
    assert (r["consistency"].enabled, r["consistency"].max_share, r["consistency"].action) == (True, 0.5, "stop")
    # No firm daily loss limit on TopstepX: the user's own 003 applies (default on at 500).
    assert (r["daily_realized_loss"].enabled, r["daily_realized_loss"].max_loss) == (True, 500.0)
    assert eff.sources["daily_realized_loss.max_loss"] == DEFAULT
    assert eff.sources["trailing_drawdown.max_drawdown"] == PROFILE


@pytest.mark.parametrize("size,drawdown,tiers", [
    ("50k", 2_000, [(0, 2), (1_500, 3), (2_000, 5)]),
    ("100k", 3_000, [(0, 3), (1_500, 4), (2_000, 5), (3_000, 10)]),
    ("150k", 4_500, [(0, 3), (1_500, 4), (2_000, 5), (3_000, 10), (4_500, 15)]),
])
def test_each_xfa_profile_sets_the_scaling_plan_and_no_consistency(size, drawdown, tiers):
    eff = profile_rules(f"topstep_xfa_{size}")
    r = eff.settings.rules
    assert eff.settings.starting_balance is None  # the funded balance: the user's, else the first seen
    assert eff.settings.trail_to_start  # so 014 stops trailing at it once it is known
    assert r["trailing_drawdown"].enabled and r["trailing_drawdown"].max_drawdown == drawdown
    assert [(t.profit, t.limit) for t in r["max_contracts"].scaling] == tiers
    assert r["max_contracts"].micro_weight == 0.1
    assert r["session_block"].enabled
    assert not r["consistency"].enabled
    with_start = profile_rules(f"topstep_xfa_{size}", starting_balance=52_000.0)
    assert with_start.settings.rules["trailing_drawdown"].stop_trailing_at == 52_000.0
    assert not with_start.settings.trail_to_start


def test_every_profile_figure_names_its_source_and_the_date_read():
    for profile in PROFILES.values():
        for row in profile.rows:
            assert "read 2026-12-05" in row.source and "Topstep help center" in row.source, row


@pytest.mark.parametrize("name,balance,expected", [
    ("50KTC-V2-123456-789", 50_000, "topstep_combine_50k"),
    ("100KTC-V2-1", 100_000, "topstep_combine_100k"),
    ("150KTC-V2-1", 150_000, "topstep_combine_150k"),
    ("XFA-50K-12345", 51_200, "topstep_xfa_50k"),
    ("EXPRESS-99", 101_000, "topstep_xfa_100k"),
    ("S1-XFA-7", 150_300, "topstep_xfa_150k"),
    ("PRAC-V2-555", 150_000, ""),
    ("my own account", 50_000, ""),
])
def test_a_profile_is_proposed_from_the_name_and_balance(name, balance, expected):
    assert propose_profile(name, balance) == expected


# ----- precedence -------------------------------------------------------------------------------------

C50 = "topstep_combine_50k"
PRECEDENCE = [
    # (profile, top-level values, written, account values, rule, param, expected value, expected source)
    (C50, {"max_contracts": {"limit": 3}}, {("max_contracts", "limit")}, {}, "max_contracts", "limit", 3, TOP_LEVEL),
    (C50, {"max_contracts": {"limit": 8}}, {("max_contracts", "limit")}, {}, "max_contracts", "limit", 5, PROFILE),
    (C50, {"max_contracts": {"limit": 8}}, {("max_contracts", "limit")}, {"max_contracts": {"limit": 9}},
     "max_contracts", "limit", 9, FROM_ACCOUNT),
    (C50, {"trailing_drawdown": {"max_drawdown": 1_500.0}}, {("trailing_drawdown", "max_drawdown")}, {},
     "trailing_drawdown", "max_drawdown", 1_500.0, TOP_LEVEL),
    (C50, {"trailing_drawdown": {"max_drawdown": 3_000.0}}, {("trailing_drawdown", "max_drawdown")}, {},
     "trailing_drawdown", "max_drawdown", 2_000.0, PROFILE),
    # a limit the user did not write is not weighed: the first-run file's 2,000 does not beat 100K's 3,000
    ("topstep_combine_100k", {}, set(), {}, "trailing_drawdown", "max_drawdown", 3_000.0, PROFILE),
    # choices: the user's top-level value
    (C50, {"consistency": {"action": "warn"}}, {("consistency", "action")}, {}, "consistency", "action", "warn",
     TOP_LEVEL),
    (C50, {"trailing_drawdown": {"mode": "intraday"}}, {("trailing_drawdown", "mode")}, {},
     "trailing_drawdown", "mode", "intraday", TOP_LEVEL),
    # a profile switches its rules on; only the account's own table switches them off
    (C50, {"trailing_drawdown": {"enabled": False}}, {("trailing_drawdown", "enabled")}, {},
     "trailing_drawdown", "enabled", True, PROFILE),
    (C50, {}, set(), {"trailing_drawdown": {"enabled": False}}, "trailing_drawdown", "enabled", False, FROM_ACCOUNT),
    # lists and tables: the profile's
    (C50, {"session_block": {"windows": ()}}, {("session_block", "windows")}, {}, "session_block", "flatten_at_end",
     True, PROFILE),
    # parameters the profile does not set: top-level, then default
    (C50, {"daily_realized_loss": {"max_loss": 400.0}}, {("daily_realized_loss", "max_loss")}, {},
     "daily_realized_loss", "max_loss", 400.0, TOP_LEVEL),
    (C50, {}, set(), {}, "daily_realized_loss", "max_loss", 500.0, DEFAULT),
    # without a profile: account > top-level > default
    ("", {"max_contracts": {"limit": 8}}, {("max_contracts", "limit")}, {}, "max_contracts", "limit", 8, TOP_LEVEL),
    ("", {"max_contracts": {"limit": 8}}, {("max_contracts", "limit")}, {"max_contracts": {"limit": 2}},
     "max_contracts", "limit", 2, FROM_ACCOUNT),
    ("", {}, set(), {}, "max_contracts", "limit", 5, DEFAULT),
]


@pytest.mark.parametrize("profile,top,written,account,rule,param,value,source", PRECEDENCE)
def test_the_precedence_table(profile, top, written, account, rule, param, value, source):
    eff = profile_rules(profile, top=top, written=written, account=account)
    assert getattr(eff.settings.rules[rule], param) == value
    assert eff.sources[f"{rule}.{param}"] == source


def test_lists_come_from_the_profile_even_when_the_user_wrote_some():
    day = replace(default_rules()["session_block"].windows[0], days="Mon-Fri", start=time(8, 30))
    eff = profile_rules(C50, top={"session_block": {"windows": (day,)}}, written={("session_block", "windows")})
    assert eff.settings.rules["session_block"].windows == PROFILES[C50].params_of("session_block")["windows"]
    assert eff.sources["session_block.windows"] == PROFILE


# ----- 001: micro weighting and scaling -----------------------------------------------------------------


def test_ten_micros_count_as_one_mini():
    desk = Desk()
    ten_mnq = [desk.position(MNQ, 10, 21000.0)]
    one_nq = [desk.position(NQ, 1, 21000.0)]
    assert count_contracts(ten_mnq, "gross", 0.1) == count_contracts(one_nq, "gross", 0.1) == 1.0
    assert count_contracts(ten_mnq, "gross", 1.0) == 10


def test_a_combine_reduces_the_smallest_whole_number_of_micros_that_removes_the_excess():
    d = desk_for(only_rules(profile_rules(C50).settings, "max_contracts"))
    assert d.open(NQ, 4, 21000.0).decisions == []  # 4 of 5
    assert d.open(MNQ, 10, 21000.0).decisions == []  # 4 + 1.0 = 5: at the limit, not past it
    v = d.open(MNQ, 21, 21000.0)  # 4 + 2.1 = 6.1: excess 1.1 → 11 MNQ
    assert brief(v.decisions) == [(REDUCE, "max_contracts", MNQ, 10)]
    d.open(MNQ, 10, 21000.0)  # the gateway carried the reduce out
    v = d.open(MNQ, 15, 21000.0)  # 4 + 1.5: excess 0.5 → 5 MNQ, never a fraction of a contract
    assert brief(v.decisions) == [(REDUCE, "max_contracts", MNQ, 10)]


def xfa_desk(balance: float, **kw) -> Desk:
    eff = profile_rules("topstep_xfa_50k", starting_balance=50_000.0)
    return desk_for(only_rules(eff.settings, "max_contracts"), balance=balance, **kw)


@pytest.mark.parametrize("day_open,limit", [(49_000.0, 2), (50_000.0, 2), (51_499.99, 2), (51_500.0, 3),
                                            (51_999.0, 3), (52_000.0, 5), (60_000.0, 5)])
def test_the_scaling_tier_follows_the_end_of_day_profit(day_open, limit):
    d = xfa_desk(day_open)
    assert d.engine.figures(ACCOUNT)["max_contracts"].limit == limit
    assert d.open(NQ, limit, 21000.0).decisions == []
    assert brief(d.open(NQ, limit + 1, 21000.0).decisions) == [(REDUCE, "max_contracts", NQ, limit)]


def test_the_scaling_limit_never_rises_during_the_day_and_moves_at_the_reset():
    d = xfa_desk(51_400.0)  # 1,400 profit: tier 0, 2 contracts
    d.account(52_600.0)  # a good day: 2,600 profit now, but the day opened below 1,500
    assert d.engine.figures(ACCOUNT)["max_contracts"].limit == 2
    assert brief(d.open(NQ, 3, 21000.0).decisions) == [(REDUCE, "max_contracts", NQ, 2)]
    d.tick_at(T0_RESET + timedelta(minutes=1))  # the day closes at 52,600: 2,600 of profit
    assert d.state.day_open_balance == 52_600.0
    assert d.engine.figures(ACCOUNT)["max_contracts"].limit == 5


def test_a_restart_mid_day_picks_the_same_tier():
    """The day opened at 51,600 (tier 1,500: 3 contracts); by noon the account made 600 more. A
    fresh start sees 52,200 and the day's trades: 52,200 − 600 = 51,600, the same tier, not 5."""
    eff = only_rules(profile_rules("topstep_xfa_50k", starting_balance=50_000.0).settings, "max_contracts")
    settings = EngineSettings(accounts={NAME.lower(): eff})
    d = desk_for(eff, balance=None)
    trade = d.trade(MNQ, 600.0, at=ct(2026, 11, 24, 8, 0))
    fresh = RiskEngine(settings, d.clock)
    fresh.process(Resync(Account(ACCOUNT, NAME, 52_200.0, True), (), (), (trade,)))
    assert fresh.state(ACCOUNT).day_open_balance == 51_600.0
    assert fresh.figures(ACCOUNT)["max_contracts"].limit == 3
    # An account update before the re-sync stands in with the first balance seen; the re-sync corrects it.
    early = RiskEngine(settings, d.clock)
    early.process(AccountUpdated(Account(ACCOUNT, NAME, 52_200.0, True)))
    early.process(Resync(Account(ACCOUNT, NAME, 52_200.0, True), (), (), (trade,)))
    assert early.figures(ACCOUNT)["max_contracts"].limit == 3
    # And the engine's memory carries it over a restart with no trades re-read yet.
    restored = RiskEngine(settings, d.clock)
    restored.restore(ACCOUNT, memory=early.memory(ACCOUNT))
    assert restored.state(ACCOUNT).day_open_balance == 51_600.0


def test_scaling_with_unsorted_tiers_and_no_starting_balance_uses_the_first_balance_seen():
    eff = profile_rules("topstep_xfa_50k")
    rules = dict(eff.settings.rules)
    rules["max_contracts"] = replace(rules["max_contracts"], scaling=(Tier(2_000.0, 5), Tier(0.0, 2)))
    d = desk_for(only_rules(replace(eff.settings, rules=rules), "max_contracts"), balance=53_000.0)
    assert d.state.start_balance == 53_000.0  # default: the first balance seen
    assert d.engine.figures(ACCOUNT)["max_contracts"].limit == 2


# ----- 017 consistency --------------------------------------------------------------------------------


def test_the_consistency_cap_arithmetic():
    assert todays_cap(1_000.0, 0.5) == 1_000.0  # prior profit 1,000, share 0.5 → today may make 1,000
    assert todays_cap(3_000.0, 0.4) == 2_000.0  # 2,000 / (3,000 + 2,000) = 40 %
    assert todays_cap(0.0, 0.5) is None and todays_cap(-200.0, 0.5) is None


def consistency_desk(action: str = "stop", day_open: float = 51_000.0) -> Desk:
    eff = profile_rules(C50, top={"consistency": {"action": action}}, written={("consistency", "action")})
    return desk_for(only_rules(eff.settings, "consistency"), balance=day_open)


def test_consistency_warns_then_stops_at_the_cap():
    d = consistency_desk()  # prior profit 1,000: cap 1,000
    assert d.engine.figures(ACCOUNT)["consistency"].text == "today may make 1,000.00 more (cap 1,000.00)"
    assert d.fill(MNQ, 799.0).decisions == []
    assert brief(d.fill(MNQ, 1.0).decisions) == [(WARN, "consistency", None, None)]  # 800 = 80 %
    assert d.engine.figures(ACCOUNT)["consistency"].text == "today may make 200.00 more (cap 1,000.00)"
    v = d.fill(MNQ, 200.0)  # 1,000: landing on the cap counts
    assert [x[0] for x in brief(v.decisions)] == [FLATTEN, LOCK]
    lock = lock_of(v.decisions)
    assert (lock.kind, lock.until) == (LockKind.UNTIL_RESET, T0_RESET)


def test_consistency_with_warn_only_warns_and_open_pnl_does_not_count():
    d = consistency_desk("warn")
    d.open(MNQ, 1, 21000.0)
    assert d.quote(MNQ, 25000.0).decisions == []  # +2,000 open: not realized, not counted
    d.fill(MNQ, 800.0)
    v = d.fill(MNQ, 300.0)
    assert brief(v.decisions) == [(WARN, "consistency", None, None)]
    assert d.locks == []


def test_consistency_has_nothing_to_guard_without_profit_before_today():
    d = consistency_desk(day_open=49_800.0)
    assert d.fill(MNQ, 5_000.0).decisions == []


# ----- 014 from end-of-day balances ----------------------------------------------------------------------


def mll_desk(balance: float | None, **kw) -> Desk:
    return desk_for(only_rules(profile_rules(C50).settings, "trailing_drawdown"), balance=balance, **kw)


def test_the_mll_floor_comes_from_the_reconstructed_end_of_day_balance():
    """Started at noon: balance 51,300 with +300 made today, so the day opened at 51,000 — the
    high-water mark is 51,000 (not 51,300) and the floor 49,000; the stop is at 49,200."""
    d = mll_desk(None)
    v = d.resync(balance=51_300.0, trades=[d.trade(MNQ, 300.0, at=ct(2026, 11, 24, 8))])
    assert v.decisions == []
    assert d.state.high_water_mark == 51_000.0
    assert d.engine.figures(ACCOUNT)["trailing_drawdown"].text.startswith("floor 49,000.00")
    assert d.account(49_200.01).decisions[0].action == WARN
    assert [x[0] for x in brief(d.account(49_200.0).decisions)] == [FLATTEN, LOCK]


def test_the_mll_floor_rises_with_recorded_end_of_day_highs_and_stops_at_the_starting_balance():
    d = mll_desk(50_000.0)
    assert d.state.high_water_mark == 50_000.0  # floor 48,000
    d.account(51_500.0)
    v = d.tick_at(T0_RESET + timedelta(minutes=1))  # the day closes at 51,500: recorded
    assert v.end_of_day == 51_500.0
    assert d.state.high_water_mark == 51_500.0  # floor 49,500
    d.account(53_000.0)
    d.tick_at(ct(2026, 11, 25, 17, 1))  # 53,000: the floor would be 51,000, it stops at 50,000
    assert d.engine.figures(ACCOUNT)["trailing_drawdown"].text.startswith("floor 50,000.00")


def test_the_high_water_mark_is_never_below_the_profiles_starting_balance():
    d = mll_desk(None)
    d.resync(balance=49_000.0)  # a losing start: the day opened at 49,000
    assert d.state.high_water_mark == 50_000.0  # floor 48,000, not 47,000
    assert [x[0] for x in brief(d.account(48_200.0).decisions)] == [FLATTEN, LOCK]


def test_a_funded_account_trails_to_its_first_balance_seen():
    eff = only_rules(profile_rules("topstep_xfa_50k").settings, "trailing_drawdown")
    d = desk_for(eff, balance=51_000.0)  # the first balance seen is the starting balance
    d.account(54_000.0)
    d.tick_at(T0_RESET + timedelta(minutes=1))  # closes at 54,000: the floor would be 52,000
    assert d.engine.figures(ACCOUNT)["trailing_drawdown"].text.startswith("floor 51,000.00")


# ----- per account ---------------------------------------------------------------------------------------


def test_each_account_has_its_own_rules_and_a_breach_touches_only_it():
    tight = only_rules(profile_rules("", account={"daily_realized_loss": {"max_loss": 100.0}}).settings,
                       "daily_realized_loss")
    loose = only_rules(profile_rules("").settings, "daily_realized_loss")
    settings = EngineSettings(accounts={"tight": tight, "2002": loose})
    d = Desk(settings, balance=None)
    d.engine.process(AccountUpdated(Account(ACCOUNT, "TIGHT", 50_000.0, True)))
    d.engine.process(AccountUpdated(Account(2002, "other", 50_000.0, True)))
    v = d.loss(100.0)
    assert [x[0] for x in brief(v.decisions)] == [FLATTEN, LOCK]
    other = d.engine.state(2002)
    assert other.locks == [] and d.engine.account_settings(2002) is loose
    assert d.engine.account_settings(ACCOUNT) is tight


# ----- distance to breach ---------------------------------------------------------------------------------


def test_distance_to_every_firm_limit_with_its_level():
    from deskguard.engine.distance import BREACH, OK, WARNING, tightest

    d = desk_for(profile_rules(C50).settings, balance=51_000.0)  # 1,000 made before today: cap 1,000
    found = {x.key: x for x in d.engine.distances(ACCOUNT)}
    assert list(found) == ["drawdown", "loss_today", "contracts", "session", "consistency"]
    assert found["drawdown"].text == "$1,800.00 · floor $49,000.00"  # the guard stops at 49,200
    assert found["loss_today"].text == "$500.00 of $500.00"
    assert found["contracts"].text == "5 more (limit 5)"
    assert found["session"].text == "15:10 CST (in 6h 10m)"  # T0 is 09:00 CT
    assert found["consistency"].text == "$1,000.00 more (cap $1,000.00)"
    assert {x.level for x in found.values()} == {OK}
    d.fill(MNQ, 850.0)  # 85 % of the consistency cap
    d.open(MNQ, 50, 21000.0)  # 50 MNQ = 5 contracts: at the cap
    found = {x.key: x for x in d.engine.distances(ACCOUNT)}
    assert (found["consistency"].level, found["consistency"].text) == (WARNING, "$150.00 more (cap $1,000.00)")
    assert (found["contracts"].level, found["contracts"].text) == (WARNING, "0 more (limit 5)")
    assert found["loss_today"].level == OK
    assert tightest(list(found.values())).key == "contracts"  # at 100 % of its room
    d.account(48_900.0)
    found = {x.key: x for x in d.engine.distances(ACCOUNT)}
    assert (found["drawdown"].level, found["drawdown"].text) == (BREACH, "$0.00 · floor $49,000.00")
    assert tightest(list(found.values())).key == "drawdown"


def test_the_scaling_tier_and_the_session_end_show_in_the_distances():
    from deskguard.engine.distance import WARNING

    d = xfa_desk(51_600.0, start=ct(2026, 11, 24, 15, 0))
    found = {x.key: x for x in d.engine.distances(ACCOUNT)}
    assert found["contracts"].text == "3 more (limit 3, scaling tier 1,500+)"
    assert "session" not in found  # only max_contracts is on in this desk
    s = desk_for(profile_rules(C50).settings, start=ct(2026, 11, 24, 15, 0))
    session = {x.key: x for x in s.engine.distances(ACCOUNT)}["session"]
    assert (session.level, session.text) == (WARNING, "15:10 CST (in 10m)")
