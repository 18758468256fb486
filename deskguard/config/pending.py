"""Tighten now, loosen at the next reset.

A trader who edits the rules in a hot moment must not be able to free himself: a change that lets
him trade more (a higher loss limit, a rule switched off) waits for the next trading-day reset,
while a change that restrains him applies at once. :func:`plan_config_change` is a pure function of
the config in force, the config asked for and the time; the guardian applies its result and shows
what is pending.

The direction of each field comes from its :class:`~deskguard.engine.schema.ParamInfo` ``looser``.
Lists, maps and sub-settings count as loosening unless they provably only restrain (a symbol added
to symbol_blocks, a per-symbol limit lowered, a session window narrowed, a tier's cooldown
lengthened); when in doubt the change waits, since waiting a few hours for a stricter setting costs
little and applying a looser one early is the very thing the rule book forbids.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from ..engine.calendar import TradingCalendar, parse_days
from ..engine.instruments import normalize_symbol
from ..engine.rules import ALL_RULES
from ..engine.rules.max_contracts import scaling_limit
from ..engine.rules.session_block import Window
from ..engine.schema import UNTIL_RESET, Looser, ParamInfo, format_duration, param_info
from .accounts import AccountConfig
from .codec import format_hhmm, key_text, render
from .model import DeskGuardConfig

#: Short names of the zones US futures traders use; others show the zone's own abbreviation.
_ZONE_SHORT = {
    "America/Chicago": "CT",
    "America/New_York": "ET",
    "America/Denver": "MT",
    "America/Los_Angeles": "PT",
}


@dataclass(frozen=True)
class ConfigChange:
    """One changed setting: ``key`` is dotted (``daily_realized_loss.max_loss``; for a rule switched
    on or off, just the rule key), ``looser`` says whether it waits for the reset."""

    key: str
    old: Any
    new: Any
    looser: bool
    text: str

    def __str__(self) -> str:
        return self.text

    @property
    def old_text(self) -> str:
        """The old value as the file writes it (``30m``, ``500``, ``["RTY"]``), for history rows."""
        return _show(self.old)

    @property
    def new_text(self) -> str:
        return _show(self.new)


@dataclass(frozen=True)
class ChangePlan:
    """What applies now, and what waits for the next reset."""

    effective: DeskGuardConfig  # in force from now on
    pending: DeskGuardConfig | None  # the requested config, in force from ``takes_effect``
    takes_effect: datetime | None  # the next trading-day reset of the config that was in force
    pending_changes: tuple[ConfigChange, ...]
    applied_changes: tuple[ConfigChange, ...]

    @property
    def messages(self) -> list[str]:
        """The pending changes as lines for the UI, e.g.
        ``daily_realized_loss.max_loss 500 → 800 (looser) takes effect at 17:00 CT``."""
        return [c.text for c in self.pending_changes]

    def config_at(self, moment: datetime) -> DeskGuardConfig:
        """The config in force at ``moment`` (the pending one once its reset has passed)."""
        if self.pending is not None and self.takes_effect is not None and moment >= self.takes_effect:
            return self.pending
        return self.effective


def plan_config_change(effective: DeskGuardConfig, requested: DeskGuardConfig, now: datetime) -> ChangePlan:
    """Split the change from ``effective`` to ``requested`` at ``now`` (an aware datetime) into what
    applies at once and what waits for the next reset of the *effective* trading calendar.

    Once ``takes_effect`` has passed, the caller makes ``pending`` the effective config (see
    :meth:`ChangePlan.config_at`); planning again after the reset would only postpone it again."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    calendar = effective.calendar
    when = calendar.next_reset(now)
    at = f"takes effect at {_clock(when, calendar)}"
    pending: list[ConfigChange] = []
    applied: list[ConfigChange] = []

    rules = {}
    for rule in ALL_RULES:
        old, new = effective.rule(rule.key), requested.rule(rule.key)
        rules[rule.key] = _plan_rule(rule.key, old, new, at, pending, applied) if old != new else old

    update: dict[str, Any] = {"rules": effective.rules.model_copy(update=rules)}
    # Where the day ends moves every daily limit in time: it waits like a loosening.
    if requested.trading_day != effective.trading_day:
        for name in ("reset_time", "timezone"):
            a, b = getattr(effective.trading_day, name), getattr(requested.trading_day, name)
            if a != b:
                pending.append(ConfigChange(f"trading_day.{name}", a, b, True,
                                            f"trading_day.{name} {_show(a)} → {_show(b)} {at}"))
    update["pnl"] = _plan_pnl(effective, requested, at, pending, applied)
    # Who to connect as, notifications and looks restrain nothing: they apply at once.
    for name in ("connection", "notifications", "ui"):
        update[name] = getattr(requested, name)
    update["accounts"] = requested.accounts
    # Which top-level values are the user's own is a fact about the file asked for.
    now_config = effective.model_copy(update=update).with_written(requested.written)
    now_config = _plan_accounts(effective, requested, now_config, at, pending, applied)

    if not pending:
        return ChangePlan(requested, None, None, (), tuple(applied))
    return ChangePlan(now_config, requested, when, tuple(pending), tuple(applied))


# --- one rule ----------------------------------------------------------------------------------


def _plan_accounts(effective: DeskGuardConfig, requested: DeskGuardConfig, now_config: DeskGuardConfig, at: str,
                   pending: list[ConfigChange], applied: list[ConfigChange]) -> DeskGuardConfig:
    """Tighten now, loosen at the reset, per account with a table of its own: each account's
    effective rules (account > profile > top-level) are planned like the shared ones. What must
    wait is held in the account's own table of the config in force (the top of the precedence), so
    the config in force says exactly what guards each account until the reset."""
    names = {**{k.lower(): k for k in effective.accounts}, **{k.lower(): k for k in requested.accounts}}
    shared = {(c.key, _show(c.old), _show(c.new)) for c in pending + applied}
    for name in sorted(names.values()):
        old, new = effective.effective(name).settings.rules, requested.effective(name).settings.rules
        current = now_config.effective(name).settings.rules
        prefix = f"accounts.{key_text(name)}."
        held: dict[str, dict[str, Any]] = {}
        for rule in ALL_RULES:
            key = rule.key
            mine_pending: list[ConfigChange] = []
            mine_applied: list[ConfigChange] = []
            want = _plan_rule(key, old[key], new[key], at, mine_pending, mine_applied, prefix) if old[key] != new[key] \
                else old[key]
            for change in mine_pending + mine_applied:
                if (change.key.removeprefix(prefix), _show(change.old), _show(change.new)) in shared:
                    continue  # the same change of the shared rules, already listed
                (pending if change.looser else applied).append(change)
            for f in dataclasses.fields(want):
                if getattr(want, f.name) != getattr(current[key], f.name):
                    held.setdefault(key, {})[f.name] = getattr(want, f.name)
        if held:
            found = now_config.account_table(name)
            table = found[1] if found is not None else AccountConfig()
            merged = {k: dict(v) for k, v in table.overrides.items()}
            for key, values in held.items():
                merged.setdefault(key, {}).update(values)
            now_config = now_config.with_account(name, table.with_overrides(merged))
    return now_config


def _plan_rule(key: str, old: Any, new: Any, at: str, pending: list[ConfigChange], applied: list[ConfigChange],
               prefix: str = "") -> Any:
    """The rule's params in force from now, recording each change as applied or pending
    (``prefix`` names an account: ``accounts.NAME.``)."""
    if not old.enabled:
        # A rule that was off restrained nothing: switching it on with any settings, or editing it
        # while it stays off, can only restrain more.
        for name, a, b in _changed_fields(old, new):
            label = f"{prefix}{key} off → on" if name == "enabled" else f"{prefix}{key}.{name} {_show(a)} → {_show(b)}"
            note = "(tighter)" if name == "enabled" else "(rule was off)"
            applied.append(ConfigChange(prefix + _key(key, name), a, b, False, f"{label} {note} applied now"))
        return new
    if not new.enabled:
        pending.append(ConfigChange(prefix + key, True, False, True, f"{prefix}{key} on → off (looser) {at}"))
        return old

    hints = typing.get_type_hints(type(old))
    fields = {f.name: f for f in dataclasses.fields(old)}
    # Fields judged by a whole-rule comparison go last, so they are judged against the settings
    # that will really be in force with them (e.g. per-symbol limits against the default limit).
    order = sorted(fields, key=lambda n: (key, n) in _SPECIAL)
    candidate = old
    for name in order:
        a, b = getattr(old, name), getattr(new, name)
        if a == b:
            continue
        trial = dataclasses.replace(candidate, **{name: b})
        special = _SPECIAL.get((key, name))
        if special is not None:
            restrains = special(old, trial)
        else:
            restrains = _restrains(a, b, param_info(fields[name]), hints[name])
        label = f"{prefix}{key}.{name} {_show(a)} → {_show(b)}"
        if restrains:
            candidate = trial
            applied.append(ConfigChange(prefix + _key(key, name), a, b, False, f"{label} (tighter) applied now"))
        else:
            pending.append(ConfigChange(prefix + _key(key, name), a, b, True, f"{label} (looser) {at}"))
    return candidate


def _key(rule: str, name: str) -> str:
    return rule if name == "enabled" else f"{rule}.{name}"


def _changed_fields(old: Any, new: Any) -> Iterable[tuple[str, Any, Any]]:
    for f in dataclasses.fields(old):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if a != b:
            yield f.name, a, b


def _restrains(a: Any, b: Any, info: ParamInfo, hint: Any) -> bool:
    """Whether changing a value from ``a`` to ``b`` only restrains the trader (or changes nothing)."""
    if a == b:
        return True
    if dataclasses.is_dataclass(a) and type(a) is type(b):
        # A sub-setting restrains only if each of its own changes does.
        sub_hints = typing.get_type_hints(type(a))
        return all(
            _restrains(getattr(a, f.name), getattr(b, f.name), param_info(f), sub_hints[f.name])
            for f in dataclasses.fields(a)
        )
    if info.looser is Looser.ANY:
        return False
    comparable = (isinstance(a, (bool, int, float)) and isinstance(b, (bool, int, float))) or (
        isinstance(a, timedelta) and isinstance(b, timedelta)
    )
    # "until_reset" against a duration has no order: a lock until the reset may end in a minute.
    if not comparable:
        return False
    return bool(b < a) if info.looser is Looser.HIGHER else bool(b > a)


# --- composite fields that can be proven to restrain ---------------------------------------------


def _symbol_limits(p: Any) -> tuple[dict[str, int], int]:
    limits = {normalize_symbol(k): v for k, v in p.limits.items()}
    fallback = p.default_limit if p.unknown_symbols == "default" else 0
    return limits, fallback


def _limits_restrain(old: Any, trial: Any) -> bool:
    """Every symbol's limit (listed or falling back) is no higher than before."""
    old_limits, old_fallback = _symbol_limits(old)
    new_limits, new_fallback = _symbol_limits(trial)
    return new_fallback <= old_fallback and all(
        new_limits.get(s, new_fallback) <= old_limits.get(s, old_fallback) for s in old_limits.keys() | new_limits.keys()
    )


def _symbols_restrain(old: Any, trial: Any) -> bool:
    """Every pattern blocked before is still blocked (more may be)."""
    def norm(patterns: Iterable[str]) -> set[str]:
        return {p.strip().upper() for p in patterns}

    return norm(trial.symbols) >= norm(old.symbols)


def _cooldown_at_least(a: Any, b: Any) -> bool:
    """Whether cooldown ``a`` (None: no cooldown) is at least as long as ``b`` in every case."""
    if b is None or a == b:
        return True
    if a is None:
        return False
    return isinstance(a, timedelta) and isinstance(b, timedelta) and a >= b


def _tier_cooldown(tiers: tuple[Any, ...], loss: float) -> Any:
    # The engine's own choice: the matching tier with the largest loss.
    matching = [t for t in tiers if loss >= t.loss]
    return max(matching, key=lambda t: t.loss).cooldown if matching else None


def _tiers_restrain(old: Any, trial: Any) -> bool:
    """For every possible loss, the cooldown is at least as long as before. The cooldown is a step
    function of the loss, changing only at tier amounts, so checking those amounts is enough."""
    amounts = {t.loss for t in old.tiers} | {t.loss for t in trial.tiers}
    return all(_cooldown_at_least(_tier_cooldown(trial.tiers, x), _tier_cooldown(old.tiers, x)) for x in amounts)


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _window_within(inner: Window, outer: Window) -> bool:
    """Whether ``inner`` allows trading only when ``outer`` does. Both must start on the same days
    and end on the same day (holidays and early closes key on the end date), in the same zone."""
    if inner.timezone != outer.timezone or not parse_days(inner.days) <= parse_days(outer.days):
        return False
    inner_overnight, outer_overnight = inner.end <= inner.start, outer.end <= outer.start
    if inner_overnight != outer_overnight:
        return False
    return _minutes(outer.start) <= _minutes(inner.start) and _minutes(inner.end) <= _minutes(outer.end)


def _windows_restrain(old: Any, trial: Any) -> bool:
    return all(any(_window_within(w, o) for o in old.windows) for w in trial.windows)


def _holidays_restrain(old: Any, trial: Any) -> bool:
    return set(trial.holidays) >= set(old.holidays)


def _early_closes_restrain(old: Any, trial: Any) -> bool:
    """Every early close stays (or gets earlier), unless its date became a holiday."""
    holidays = set(trial.holidays)
    return all(
        d in holidays or (d in trial.early_closes and trial.early_closes[d] <= t) for d, t in old.early_closes.items()
    )


def _stop_trailing_restrains(old: Any, trial: Any) -> bool:
    # 0 means the floor never stops rising, the strictest setting; otherwise a higher cap lets the
    # floor rise further. (The schema's plain "lower is looser" cannot say that 0 is the top.)
    def rank(cap: float) -> float:
        return float("inf") if cap == 0 else cap

    return rank(trial.stop_trailing_at) >= rank(old.stop_trailing_at)


def _limit_at(p: Any, profit: float) -> int:
    # 001's limit in force at an end-of-day profit: the scaling tier's, else the plain limit.
    tier = scaling_limit(p.scaling, profit)
    return tier.limit if tier is not None else int(p.limit)


def _scaling_restrains(old: Any, trial: Any) -> bool:
    """At every end-of-day profit the limit in force is no higher than before. The limit is a step
    function of the profit, changing only at tier amounts, so checking those (and 0) is enough."""
    points = {0.0} | {t.profit for t in old.scaling} | {t.profit for t in trial.scaling}
    return all(_limit_at(trial, x) <= _limit_at(old, x) for x in points)


_SPECIAL: dict[tuple[str, str], Callable[[Any, Any], bool]] = {
    ("max_contracts", "scaling"): _scaling_restrains,
    ("max_contracts", "limit"): _scaling_restrains,
    ("max_contracts_per_instrument", "limits"): _limits_restrain,
    ("symbol_blocks", "symbols"): _symbols_restrain,
    ("cooldown_after_loss", "tiers"): _tiers_restrain,
    ("session_block", "windows"): _windows_restrain,
    ("session_block", "holidays"): _holidays_restrain,
    ("session_block", "early_closes"): _early_closes_restrain,
    ("trailing_drawdown", "stop_trailing_at"): _stop_trailing_restrains,
}


# --- P&L options ---------------------------------------------------------------------------------


def _plan_pnl(effective: DeskGuardConfig, requested: DeskGuardConfig, at: str,
              pending: list[ConfigChange], applied: list[ConfigChange]) -> Any:
    old, new = effective.pnl, requested.pnl
    update = {}
    # Leaving fees out makes every loss look smaller; a shorter staleness limit greys out more
    # quotes, and stale figures trigger nothing: both loosen.
    looser_if_lower = {"include_fees", "stale_quote_seconds"}
    for name in type(old).model_fields:
        a, b = getattr(old, name), getattr(new, name)
        if a == b:
            continue
        label = f"pnl.{name} {_show(a)} → {_show(b)}"
        if name in looser_if_lower and b > a:
            update[name] = b
            applied.append(ConfigChange(f"pnl.{name}", a, b, False, f"{label} (tighter) applied now"))
        else:
            pending.append(ConfigChange(f"pnl.{name}", a, b, True, f"{label} (looser) {at}"))
    return old.model_copy(update=update)


# --- text ----------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    if value == UNTIL_RESET:
        return UNTIL_RESET
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, time):
        return format_hhmm(value)
    return render(value, limit=60)


def _clock(moment: datetime, calendar: TradingCalendar) -> str:
    local = moment.astimezone(calendar.timezone)
    zone = _ZONE_SHORT.get(calendar.timezone.key) or local.tzname() or calendar.timezone.key
    return f"{local:%H:%M} {zone}"
