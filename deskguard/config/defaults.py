"""The commented default ``config.toml`` written on first run, and the demo's config.

The text is generated from the same schemas that validate the file, so every rule and key appears
with its help text, and loading it gives exactly the defaults (a test holds that)."""

from __future__ import annotations

import dataclasses
import textwrap
import typing
from typing import Any, get_args, get_origin

import tomlkit
from pydantic import BaseModel
from tomlkit.items import Table

from ..engine.rules import ALL_RULES
from ..engine.schema import ParamInfo, Unit, param_info
from .accounts import AccountConfig
from .codec import render, to_toml
from .model import DeskGuardConfig

_HEADER = """\
DeskGuard configuration.

Every key shows its default; a key or rule left out keeps its default, and an unknown key is an
error. Amounts are in account currency and positive ("max_loss = 500" stops at a $500 loss).
Durations are "45s", "10m", "2h" or "1h30m", and "until_reset" where a key allows it. Times are
"HH:MM", dates "YYYY-MM-DD".

Tightening a limit or enabling a rule takes effect at once; loosening a limit or disabling a rule
takes effect at the next trading-day reset. Rule changes never lift an active lock."""

#: Optional keys with no default, shown commented out with an example value.
_EXAMPLES = {
    ("connection", "username"): "trader@example.com",
    ("connection", "api_url"): "https://api.topstepx.com/api",
    ("connection", "user_hub_url"): "https://rtc.topstepx.com/hubs/user",
    ("connection", "market_hub_url"): "https://rtc.topstepx.com/hubs/market",
}

_WIDTH = 98


def _comment_lines(text: str) -> list[Any]:
    return [tomlkit.comment(line) for line in textwrap.wrap(text, _WIDTH - 2) or [""]]


def _hint(info: ParamInfo) -> str:
    """Unit, bounds and choices in brackets after the help text."""
    parts: list[str] = []
    if info.choices:
        parts.append("one of " + ", ".join(f'"{c}"' for c in info.choices))
    if info.unit is Unit.DURATION:
        parts.append('a duration or "until_reset"' if info.allow_until_reset else "a duration")
    elif info.unit is not Unit.NONE:
        parts.append(str(info.unit))
    if info.gt is not None:
        parts.append(f"> {render(float(info.gt))}")
    if info.ge is not None:
        parts.append(f">= {render(float(info.ge))}")
    if info.le is not None:
        parts.append(f"<= {render(float(info.le))}")
    return f" [{', '.join(parts)}]" if parts else ""


def toml_value(value: Any) -> Any:
    """Plain data as a tomlkit item in the compact form people write: inline tables and arrays."""
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        for k, v in value.items():
            table.append(k, toml_value(v))
        return table
    if isinstance(value, list):
        array = tomlkit.array()
        for v in value:
            array.append(toml_value(v))
        if len(value) > 1 and any(isinstance(v, dict) for v in value):
            array.multiline(True)
        return array
    return tomlkit.item(value)


def _item_help(cls: type) -> list[str]:
    return [f"  {f.name}: {param_info(f).help}{_hint(param_info(f))}" for f in dataclasses.fields(cls)]


def _add_dataclass_fields(table: Table, cls: type, value: Any) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        info = param_info(f)
        hint = hints[f.name]
        current = getattr(value, f.name)
        if dataclasses.is_dataclass(hint):
            continue  # sub-tables follow the plain keys (TOML wants them after)
        for line in _comment_lines(info.help + _hint(info)):
            table.add(line)
        args = get_args(hint)
        if get_origin(hint) is tuple and args and isinstance(args[0], type) and dataclasses.is_dataclass(args[0]):
            table.add(tomlkit.comment("each item has:"))
            for line in _item_help(args[0]):
                table.add(tomlkit.comment(line))
        table.add(f.name, toml_value(to_toml(current)))
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            sub = tomlkit.table()
            for line in _comment_lines(param_info(f).help):
                sub.add(line)
            _add_dataclass_fields(sub, hint, getattr(value, f.name))  # type: ignore[arg-type]  # a hint is a class
            table.add(f.name, sub)


def _section(model: BaseModel, name: str) -> Table:
    table = tomlkit.table()
    data = to_toml(model.model_dump(mode="python"))
    for key, field in type(model).model_fields.items():
        for line in _comment_lines(field.description or ""):
            table.add(line)
        value = data.get(key)
        if value is None:
            example = _EXAMPLES.get((name, key), "")
            table.add(tomlkit.comment(f"{key} = {tomlkit.item(example).as_string()}"))
        else:
            table.add(key, toml_value(value))
    return table


def default_config_text(config: DeskGuardConfig | None = None) -> str:
    """A complete, commented ``config.toml`` (of ``config``, by default of the defaults)."""
    cfg = config or DeskGuardConfig()
    doc = tomlkit.document()
    for line in _HEADER.splitlines():
        doc.add(tomlkit.comment(line) if line else tomlkit.comment(""))
    doc.add(tomlkit.nl())
    for name in ("connection", "trading_day", "pnl", "notifications", "ui"):
        doc.add(name, _section(getattr(cfg, name), name))
    rules = tomlkit.table(is_super_table=True)
    for rule in ALL_RULES:
        table = tomlkit.table()
        heading = f"{rule.number} {rule.key}: {rule.title}. {rule.summary}"
        for line in _comment_lines(heading):
            table.add(line)
        _add_dataclass_fields(table, rule.Params, cfg.rule(rule.key))
        rules.add(rule.key, table)
    doc.add("rules", rules)
    return tomlkit.dumps(doc)


#: The demo's accounts (the simulator's ``demo_accounts``) and the firm profile each one shows.
DEMO_PROFILES = {
    "50KTC-V2-123456-1001": ("topstep_combine_50k", None),
    "XFA-50K-123456-1002": ("topstep_xfa_50k", 50_000.0),
    "100KTC-V2-123456-1003": ("topstep_combine_100k", None),
}


def demo_config() -> DeskGuardConfig:
    """The demo's rules: the defaults without session_block, so the demo can be tried at any hour,
    and its three accounts under three firm profiles (each with the profile's session rule switched
    off in its own table: a profile switches it on, and only the account's table can say otherwise)."""
    config = DeskGuardConfig().with_rule("session_block", enabled=False)
    for name, (profile, start) in DEMO_PROFILES.items():
        data: dict[str, Any] = {"profile": profile, "rules": {"session_block": {"enabled": False}}}
        if start is not None:
            data["starting_balance"] = start
        config = config.with_account(name, AccountConfig.model_validate(data))
    return config
