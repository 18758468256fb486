"""``deskguard check-config [PATH]``: validate config.toml and show what it means. Never writes."""

from __future__ import annotations

import dataclasses
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TextIO

from ..engine.profiles import PROFILES
from ..engine.rules import ALL_RULES
from ..engine.schema import UNTIL_RESET, ParamInfo, Unit, format_duration, param_info
from ..exit_codes import ExitCode
from .codec import format_hhmm, key_text
from .errors import ConfigError
from .load import load_config
from .model import DeskGuardConfig
from .paths import config_path
from .pending import plan_config_change


def check_config(
    path: str | Path | None = None,
    *,
    effective: DeskGuardConfig | None = None,
    now: datetime | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> ExitCode:
    """Print the rules ``path`` (default: the user's config.toml) sets, one line per rule, and any
    pending changes; return ``ExitCode.OK``. On a bad file print every problem to stderr and return
    ``ExitCode.BAD_CONFIG``.

    ``effective`` is the config the guardian last put in force (from the state database): given it,
    the rules shown are those in force now and the loosenings that wait for the reset are listed.
    Without it the file's rules are shown as they are."""
    out = out or sys.stdout
    err = err or sys.stderr
    target = Path(path) if path is not None else config_path()
    try:
        config = load_config(target)
    except ConfigError as exc:
        for problem in exc.errors:
            print(problem.line_text(), file=err)
        return ExitCode.BAD_CONFIG

    if target.exists():
        print(f"{target}: OK", file=out)
    else:
        print(f"{target}: not found; the defaults apply", file=out)
    shown, pending_lines = config, []
    if effective is not None:
        plan = plan_config_change(effective, config, now or datetime.now(UTC))
        shown, pending_lines = plan.effective, plan.messages

    day = shown.trading_day
    fees = "fees included" if shown.pnl.include_fees else "fees excluded"
    print(
        f"Trading day resets at {format_hhmm(day.reset_time)} {day.timezone}; {fees}; "
        f"quotes stale after {_number(shown.pnl.stale_quote_seconds)}s",
        file=out,
    )
    print("Rules:", file=out)
    for rule in ALL_RULES:
        print("  " + rule_line(rule.key, shown.rule(rule.key)), file=out)
    for line in account_lines(shown):
        print(line, file=out)
    if pending_lines:
        print("Pending until the next trading-day reset:", file=out)
        for line in pending_lines:
            print("  " + line, file=out)
    else:
        print("No pending changes.", file=out)
    return ExitCode.OK


def rule_line(key: str, params: Any) -> str:
    """``003 daily_realized_loss          on   max_loss $500, count_open_pnl false, warn_at 0.8``."""
    rule = next(r for r in ALL_RULES if r.key == key)
    figures = ", ".join(
        f"{f.name} {_figure(getattr(params, f.name), param_info(f))}" for f in dataclasses.fields(params) if f.name != "enabled"
    )
    state = "on " if params.enabled else "off"
    return f"{rule.number} {key:<29} {state}  {figures}".rstrip()


def account_lines(config: DeskGuardConfig) -> list[str]:
    """Each ``[accounts."NAME"]`` account's effective rules, every value with where it came from
    (account / profile / top-level / default)."""
    if not config.accounts:
        return []
    lines = ["Accounts (each value's source in brackets):"]
    for name in config.accounts:
        eff = config.effective(name)
        settings = eff.settings
        profile = PROFILES.get(settings.profile)
        what = f"profile {settings.profile} ({profile.title})" if profile is not None else "no profile"
        start = (f"starting balance ${_number(settings.starting_balance)} [{eff.starting_balance_source}]"
                 if settings.starting_balance is not None else "starting balance: the first balance seen")
        lines.append(f"  {key_text(name)}: {what}; {start}")
        for rule in ALL_RULES:
            params = settings.rules[rule.key]
            figures = ", ".join(
                f"{f.name} {_account_figure(settings, rule.key, f.name, getattr(params, f.name), param_info(f))} "
                f"[{eff.sources[f'{rule.key}.{f.name}']}]"
                for f in dataclasses.fields(params) if f.name != "enabled"
            )
            state = "on " if params.enabled else "off"
            lines.append(f"    {rule.number} {rule.key:<29} {state} [{eff.sources[f'{rule.key}.enabled']}]  {figures}".rstrip())
    return lines


def _account_figure(settings: Any, rule: str, name: str, value: Any, info: ParamInfo) -> str:
    if settings.trail_to_start and rule == "trailing_drawdown" and name in ("stop_trailing_at", "high_water_mark") \
            and value == 0:
        return "the starting balance (first seen)"
    return _figure(value, info)


def _number(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _figure(value: Any, info: ParamInfo, in_list: bool = False) -> str:
    if value == UNTIL_RESET:
        return UNTIL_RESET
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"${_number(value)}" if info.unit is Unit.USD else _number(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, time):
        return format_hhmm(value)
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value):
        # Items of a list show values only ("$100 5m"); a single sub-setting names its keys.
        fields = dataclasses.fields(value)
        if in_list:
            return "(" + " ".join(_figure(getattr(value, f.name), param_info(f)) for f in fields) + ")"
        return "(" + ", ".join(f"{f.name} {_figure(getattr(value, f.name), param_info(f))}" for f in fields) + ")"
    if isinstance(value, dict):
        inner = ", ".join(f"{key_text(_figure(k, info))} {_figure(v, info)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_figure(v, info, in_list=True) for v in value) + "]"
    return str(value)
