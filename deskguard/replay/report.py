"""The replay's result as text (the command line's table) and CSV (the command line and the lab)."""

from __future__ import annotations

import csv
from datetime import tzinfo
from typing import TextIO

from ..engine.rules import RULES_BY_KEY
from .core import DayResult, ReplayResult


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _lock(day: DayResult, tz: tzinfo) -> str:
    if day.first_lock_rule is None or day.first_lock_at is None:
        return "-"
    number = RULES_BY_KEY[day.first_lock_rule].number
    return f"{number} {day.first_lock_rule} at {day.first_lock_at.astimezone(tz):%H:%M:%S}"


def report_text(result: ReplayResult, tz: tzinfo, title: str = "") -> str:
    """A table per trading day, then totals, the worst day, the days each rule fired, and notes."""
    lines: list[str] = []
    if title:
        lines.append(title)
    header = f"{'trading day':<12} {'actual':>12} {'guarded':>12} {'blocked':>8}  first lock"
    lines += [header, "-" * len(header)]
    for d in result.days:
        lines.append(f"{d.day.isoformat():<12} {_money(d.actual):>12} {_money(d.guarded):>12} {d.blocked:>8}  {_lock(d, tz)}")
    lines.append("-" * len(header))
    lines.append(f"{'total':<12} {_money(result.actual_total):>12} {_money(result.guarded_total):>12} "
                 f"{result.blocked_total:>8}")
    wa, wg = result.worst_actual, result.worst_guarded
    if wa is not None and wg is not None:
        lines.append(f"worst day: actual {_money(wa.actual)} on {wa.day.isoformat()}; "
                     f"guarded {_money(wg.guarded)} on {wg.day.isoformat()}")
    fired = result.rule_days()
    if fired:
        lines.append("days each rule fired: " + ", ".join(
            f"{RULES_BY_KEY[k].number} {k} {n}" for k, n in fired.items()))
    else:
        lines.append("days each rule fired: none")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def comparison_text(a: ReplayResult, b: ReplayResult, tz: tzinfo, names: tuple[str, str]) -> str:
    """Two rule sets side by side, per trading day, then their totals."""
    lines = [f"{'trading day':<12} {'actual':>12} {names[0][:14]:>14} {names[1][:14]:>14}  {'blocked':>7} {'blocked':>7}"]
    lines.append("-" * len(lines[0]))
    other = {d.day: d for d in b.days}
    for d in a.days:
        e = other.get(d.day)
        lines.append(f"{d.day.isoformat():<12} {_money(d.actual):>12} {_money(d.guarded):>14} "
                     f"{_money(e.guarded) if e else '-':>14}  {d.blocked:>7} {e.blocked if e else 0:>7}")
    lines.append("-" * len(lines[0]))
    lines.append(f"{'total':<12} {_money(a.actual_total):>12} {_money(a.guarded_total):>14} "
                 f"{_money(b.guarded_total):>14}  {a.blocked_total:>7} {b.blocked_total:>7}")
    return "\n".join(lines)


CSV_HEADER = ("trading_day", "actual_net_pnl", "guarded_net_pnl", "trades_blocked", "first_lock_rule",
              "first_lock_time", "rules_fired")


def write_csv(result: ReplayResult, out: TextIO, tz: tzinfo, compare: ReplayResult | None = None) -> None:
    """One row per trading day; with ``compare``, the second rule set's guarded P&L and blocked
    trades in two more columns."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_HEADER + (("compare_guarded_net_pnl", "compare_trades_blocked") if compare else ()))
    other = {d.day: d for d in compare.days} if compare else {}
    for d in result.days:
        row: list[object] = [
            d.day.isoformat(), f"{d.actual:.2f}", f"{d.guarded:.2f}", d.blocked, d.first_lock_rule or "",
            d.first_lock_at.astimezone(tz).isoformat() if d.first_lock_at else "",
            " ".join(k for k in RULES_BY_KEY if k in d.fired),
        ]
        if compare is not None:
            e = other.get(d.day)
            row += [f"{e.guarded:.2f}" if e else "", e.blocked if e else ""]
        w.writerow(row)
