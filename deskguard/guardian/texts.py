"""Every sentence the trader reads about rules, decisions and locks: one place, plain English.

The engine and the config speak in keys (``reduce_position``, ``count_open_pnl``,
``until_reset``): right for the file and the audit columns, wrong for a notification. This module
turns them into words and money, for the guardian's notices (no Qt here: the guardian imports it)
and for every widget of the window (notifications, status line, activity log, rules panel, rule
editor). A new rule or parameter needs nothing here: names are derived from the schema, with a
small table of acronym fixes (``pnl`` → ``P&L``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import date, time, timedelta
from typing import Any

from ..engine.decisions import STOP_ACTIONS, Action, Decision, Lock, LockKind
from ..engine.instruments import symbol_of
from ..engine.rules import RULES_BY_KEY
from ..engine.schema import UNTIL_RESET, ParamInfo, Unit, param_info
from ..engine.state import AccountStatus

# --- names ---------------------------------------------------------------------------------------

#: Words a config key spells in code form, and how a trader writes them.
ACRONYMS = {
    "pnl": "P&L",
    "usd": "USD",
    "eod": "end of day",
    "id": "ID",
    "api": "API",
    "hwm": "high-water mark",
}

#: Names that read better said otherwise than word by word.
NAMES = {
    "high_water_mark": "high-water mark",
    "intraday": "intraday",
}


def words(name: str) -> str:
    """``count_open_pnl`` → ``count open P&L``; ``end_of_day`` → ``end of day`` (lower case)."""
    if name in NAMES:
        return NAMES[name]
    return " ".join(ACRONYMS.get(part.lower(), part) for part in re.split(r"[_\s]+", name.strip()) if part)


def capital(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def field_label(name: str) -> str:
    """A parameter's label in the rule editor: ``count_open_pnl`` → ``Count open P&L``."""
    return capital(words(name))


def rule_name(key: str | None) -> str:
    """``daily_realized_loss`` → ``003 Daily loss limit`` (an unknown key in words)."""
    if not key:
        return ""
    rule = RULES_BY_KEY.get(key)
    return f"{rule.number} {rule.title}" if rule else capital(words(key))


def rule_title(key: str | None) -> str:
    """``daily_realized_loss`` → ``Daily loss limit`` (no number: inside sentences)."""
    if not key:
        return ""
    rule = RULES_BY_KEY.get(key)
    return rule.title if rule else capital(words(key))


# --- money and values ----------------------------------------------------------------------------

def number(value: float) -> str:
    """``500`` → ``500``, ``1500.5`` → ``1,500.50``."""
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def dollars(value: float) -> str:
    """``500`` → ``$500``, ``-612.5`` → ``−$612.50``."""
    sign = "−" if value < 0 else ""
    return f"{sign}${number(abs(value))}"


def duration(value: Any) -> str:
    """``timedelta(minutes=90)`` → ``1 h 30 min``; ``until_reset`` → ``until the reset``."""
    if value == UNTIL_RESET:
        return "until the reset"
    if not isinstance(value, timedelta):
        return str(value)
    total = int(value.total_seconds())
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((h, "h"), (m, "min"), (s, "s")) if n]
    return " ".join(parts) or "0 s"


def value_text(value: Any, info: ParamInfo | None = None) -> str:
    """One parameter value in words: money with a dollar sign, shares as per cent, durations."""
    unit = info.unit if info is not None else Unit.NONE
    if value == UNTIL_RESET or isinstance(value, timedelta):
        return duration(value)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (int, float)):
        if unit is Unit.USD:
            return dollars(value)
        if unit is Unit.RATIO:
            return f"{value * 100:.0f} %"
        suffix = {Unit.CONTRACTS: " contracts", Unit.TRADES: " trades", Unit.TICKS: " ticks"}.get(unit, "")
        if suffix and value == 1:
            suffix = suffix[:-1]
        return f"{number(value)}{suffix}"
    if isinstance(value, time):
        return f"{value:%H:%M}"
    if isinstance(value, date):
        return f"{value:%a %d %b %Y}"
    if isinstance(value, str):
        return words(value) if re.fullmatch(r"[a-z]+(?:_[a-z]+)+", value) else value
    if dataclasses.is_dataclass(value):
        return "(" + params_summary_of(value, lowercase_first=True) + ")"
    if isinstance(value, Mapping):
        if not value:
            return "none"
        return ", ".join(f"{value_text(k)} {value_text(v, info)}" for k, v in value.items())
    if isinstance(value, (tuple, list)):
        if not value:
            return "none"
        return "; ".join(value_text(v, info) for v in value)
    return str(value)


#: Switches that read better as a phrase than as "Name: on": name → (when on, when off).
SWITCH_PHRASES = {
    "count_open_pnl": ("open P&L counted", "open P&L not counted"),
    "flatten_at_end": ("flattens at the window's end", "does not flatten at the window's end"),
    "enabled": ("on", "off"),
}

#: Parameters whose name reads better before the value: name → label (``warn at 80 %``).
PHRASE_LABELS = {
    "warn_at": "warn at",
    "count": "counts",
    "action": "then",
    "unknown_symbols": "unknown symbols:",
}


def param_phrase(name: str, value: Any, info: ParamInfo | None = None) -> str:
    """``max_loss`` 500 → ``max loss $500``; ``count_open_pnl`` False → ``open P&L not counted``."""
    if isinstance(value, bool):
        on, off = SWITCH_PHRASES.get(name, (f"{words(name)} on", f"{words(name)} off"))
        return on if value else off
    label = PHRASE_LABELS.get(name, words(name))
    shown = value_text(value, info)
    unit_word = shown.rpartition(" ")[2]
    if isinstance(value, (int, float)) and unit_word.rstrip("s") and label.endswith(unit_word.rstrip("s") + "s"):
        shown = shown.rpartition(" ")[0]  # "trigger ticks 10", not "trigger ticks 10 ticks"
    return f"{label} {shown}"


def params_summary_of(params: Any, *, lowercase_first: bool = False) -> str:
    """All of a rule's (or a sub-setting's) parameters in one line of words, ``enabled`` left out."""
    phrases = []
    for f in dataclasses.fields(params):
        if f.name == "enabled" and not lowercase_first:
            continue
        phrases.append(param_phrase(f.name, getattr(params, f.name), param_info(f)))
    text = ", ".join(phrases) or "no settings"
    return text if lowercase_first else capital(text)


def params_summary(key: str, params: Any) -> str:
    """``Max loss $500, open P&L not counted, warn at 80 %`` (the rule's own switch left out)."""
    return params_summary_of(params)


def _param_info(key: str, name: str) -> ParamInfo | None:
    rule = RULES_BY_KEY.get(key)
    if rule is None:
        return None
    field = next((f for f in dataclasses.fields(rule.Params) if f.name == name), None)
    return param_info(field) if field is not None else None


def _change_value(text: Any, info: ParamInfo | None) -> str:
    """A changed value as the file wrote it (``500.0``, ``true``, ``30m``), said in words."""
    if text is None:
        return "—"
    raw = str(text)
    if raw in ("true", "True"):
        return "on"
    if raw in ("false", "False"):
        return "off"
    try:
        value = float(raw)
    except ValueError:
        return value_text(raw, info)
    return value_text(value, info)


def change_sentence(key: str, old: Any, new: Any, tail: str = "") -> str:
    """One changed setting of a rule (``daily_realized_loss.max_loss``, 500 → 800) in words:
    ``Max loss $500 → $800 at the reset``; the rule switched: ``Rule on → off``."""
    account = ""
    if key.startswith("accounts."):  # one account's own value: accounts.NAME.rule[.param]
        parts = key.split(".")[1:]
        cut = len(parts) - 1 if parts[-1] in RULES_BY_KEY else len(parts) - 2
        account = ".".join(parts[:cut]).strip('"') + ": "
        key = ".".join(parts[cut:])
    rule, _, name = key.partition(".")
    if not name:
        head = f"{account}Rule {_plain_value(old, None)} → {_plain_value(new, None)}"
    else:
        info = _param_info(rule, name)
        head = f"{account}{field_label(name)} {_plain_value(old, info)} → {_plain_value(new, info)}"
    return f"{head} {tail}".rstrip()


_CHANGE_TAIL = re.compile(r"(\((?:tighter|looser|rule was off)\))?\s*((?:applied now|takes effect|at ).*)?$")


def config_change_sentence(change: Any) -> str:
    """A planned config change (``deskguard.config.ConfigChange``) in words, with when it applies:
    ``Max loss $500 → $800 (looser) takes effect at 17:00 CT``."""
    text = str(getattr(change, "text", ""))
    found = _CHANGE_TAIL.search(text)
    tail = " ".join(g for g in (found.groups() if found else ()) if g)
    return change_sentence(change.key, change.old, change.new, tail)


def _plain_value(value: Any, info: ParamInfo | None) -> str:
    if isinstance(value, str):
        return _change_value(value, info)
    return value_text(value, info)


# --- decisions and locks -------------------------------------------------------------------------

def _symbol(d: Decision) -> str:
    return symbol_of(d.contract_id) if d.contract_id else "the position"


def _stop_of(d: Decision) -> str:
    net = "safety-net " if d.rule == "safety_net" else ""
    return f"{symbol_of(d.contract_id)} {net}stop" if d.contract_id else f"{net}stop"


def _a_stop(d: Decision) -> str:
    return "a safety-net stop" if d.rule == "safety_net" else "a stop"


def _price(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def action_done(d: Decision) -> str:
    """What was done, as a trader would say it: ``Reduced MNQ to 3 (limit 3)``, ``Flattened``."""
    sym = _symbol(d)
    if d.action == Action.FLATTEN:
        return "Flattened the account"
    if d.action == Action.CLOSE_POSITION:
        return f"Closed {sym}"
    if d.action == Action.REDUCE_POSITION:
        return f"Reduced {sym} to {d.size} (limit {d.size})"
    if d.action == Action.CANCEL_ORDERS:
        return f"Cancelled the {sym} working orders" if d.contract_id else "Cancelled the working orders"
    if d.action == Action.PLACE_STOP:
        return f"Placed {_a_stop(d)} on {sym} at {_price(d.stop_price)} (size {d.size})"
    if d.action == Action.MOVE_STOP:
        return f"Moved the {_stop_of(d)} to {_price(d.stop_price)}"
    if d.action == Action.CANCEL_STOP:
        return f"Cancelled the {_stop_of(d)} (order {d.order_id}): it protects no position"
    if d.action == Action.LOCK and d.lock is not None:
        return f"Locked {lock_span(d.lock)}"
    return "Warning"


def action_to_do(d: Decision) -> str:
    """What a decision asks for, as an instruction: ``flatten the account``, ``reduce MNQ to 3``."""
    sym = _symbol(d)
    return {
        Action.FLATTEN: "flatten the account",
        Action.CLOSE_POSITION: f"close {sym}",
        Action.REDUCE_POSITION: f"reduce {sym} to {d.size}",
        Action.CANCEL_ORDERS: f"cancel the {sym} working orders" if d.contract_id else "cancel the working orders",
        Action.PLACE_STOP: f"place {_a_stop(d)} on {sym} at {_price(d.stop_price)}",
        Action.MOVE_STOP: f"move the {_stop_of(d)} to {_price(d.stop_price)}",
        Action.CANCEL_STOP: f"cancel the {_stop_of(d)} (order {d.order_id})",
        Action.LOCK: "lock " + (d.lock.symbol if d.lock is not None and d.lock.symbol else "the account"),
        Action.WARN: "warn",
    }[d.action]


def enforcement_done(d: Decision, detail: str) -> str:
    """The notice after an enforcement worked: ``Reduced MNQ to 3 (limit 3): 5 MNQ contracts
    open, limit 3``. A stop's notice is the stop itself."""
    if d.action in STOP_ACTIONS:
        return action_done(d)
    if d.action == Action.CANCEL_ORDERS and detail:
        return f"{action_done(d)} ({plain(detail)}): {plain(d.reason)}"
    return f"{action_done(d)}: {plain(d.reason)}"


def enforcement_failed(d: Decision, detail: str) -> str:
    """The red alert when an enforcement did not work (it is retried)."""
    return f"ENFORCEMENT FAILED: could not {action_to_do(d)}: {plain(detail)}"


def decision_sentence(d: Decision) -> str:
    """A decision for the audit log, before it is carried out: ``Close MNQ: open loss …``."""
    if d.action == Action.WARN:
        return plain(d.reason)
    return f"{capital(action_to_do(d))}: {plain(d.reason)}"


def warning_sentence(d: Decision) -> str:
    return capital(plain(d.reason))


LOCK_KIND_WORDS = {
    LockKind.COOLDOWN: "cooldown",
    LockKind.UNTIL_RESET: "until the trading-day reset",
    LockKind.UNTIL_SESSION: "until the next session",
    LockKind.UNTIL_CAN_TRADE: "until the broker allows trading",
    LockKind.PERMANENT: "while the rule stays",
}


def lock_span(lock: Lock) -> str:
    """How long a lock lasts: ``MNQ until 17:00:00 CDT (the trading-day reset)``."""
    scope = f"{lock.symbol} " if lock.symbol else ""
    if lock.kind == LockKind.UNTIL_CAN_TRADE:
        return f"{scope}until the broker allows trading again"
    if lock.kind == LockKind.PERMANENT:
        return f"{scope}permanently (while the rule stays)"
    if lock.until is None:
        return f"{scope}until the next session"
    why = {LockKind.COOLDOWN: "cooldown", LockKind.UNTIL_RESET: "the trading-day reset",
           LockKind.UNTIL_SESSION: "the next session"}.get(lock.kind, words(str(lock.kind)))
    return f"{scope}until {lock.until.astimezone():%H:%M:%S %Z} ({why})"


def lock_notice(lock: Lock) -> str:
    """``LOCKED until 17:00:00 CDT (the trading-day reset): day's P&L …`` (the word LOCKED first:
    the soak counts lock notices by it)."""
    return f"LOCKED {lock_span(lock)}: {plain(lock.reason)}"


def lock_ended(lock: Lock) -> str:
    scope = f"{lock.symbol}: " if lock.symbol else ""
    return f"{scope}lock ended ({rule_title(lock.rule)}): trading allowed again"


def connection_lost(detail: str | None) -> str:
    return f"NOT GUARDING: connection lost ({plain(detail) if detail else 'user hub down'})"


CONNECTION_RESTORED = "Connection restored: guarding again"


# --- an account's status -------------------------------------------------------------------------

STATUS_LABEL = {
    AccountStatus.OK: "OK",
    AccountStatus.WARNING: "WARNING",
    AccountStatus.ENFORCING: "ENFORCING",
    AccountStatus.LOCKED: "LOCKED",
    AccountStatus.NOT_GUARDING: "NOT GUARDING",
}


def status_why(status: AccountStatus, *, connected: bool = True, detail: str | None = None,
               lock: Lock | None = None, storing: Lock | None = None, warned: tuple[str, ...] = ()) -> str:
    """Why an account has ``status``, in words (the facts come from the guardian)."""
    if status == AccountStatus.NOT_GUARDING:
        if not connected:
            return f"no connection to the gateway ({plain(detail) if detail else 'user hub down'}): rules not enforced"
        return "waiting for a fresh read of the account after (re)connecting: rules not enforced"
    if status == AccountStatus.LOCKED and lock is not None:
        return f"{rule_name(lock.rule)}, {lock_span(lock)}: {plain(lock.reason)}"
    if status == AccountStatus.ENFORCING:
        if storing is not None:
            return f"{rule_name(storing.rule)} triggered: enforcing at the broker and storing its lock"
        return "a rule's enforcement is being carried out at the broker"
    if status == AccountStatus.WARNING:
        return "past the warning level of " + ", ".join(rule_name(r) for r in warned)
    return "trading allowed: no lock, no warning, nothing being enforced"


def status_changed(name: str, old: AccountStatus, new: AccountStatus, why: str) -> str:
    """The audit row of a status change: ``50KTC-1: OK → LOCKED — 003 Daily loss limit LOCKED …``."""
    return f"{name}: {STATUS_LABEL[old]} → {STATUS_LABEL[new]} — {why}"


# --- a safety net for texts written elsewhere ---------------------------------------------------

_CODE_WORDS: dict[str, str] = {
    **{a.value: a.value.replace("_", " ") for a in Action},
    **{k.value: LOCK_KIND_WORDS[k] for k in LockKind},
    **{key: rule_title(key) for key in RULES_BY_KEY},
}
_SNAKE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def plain(text: str | None) -> str:
    """A sentence from elsewhere (a rule's reason, an old audit row) with any code word left in
    it (``until_reset``, ``reduce_position``, a rule key) said in words."""
    if not text:
        return ""
    return _SNAKE.sub(lambda m: _CODE_WORDS.get(m.group(0), words(m.group(0))), text)
