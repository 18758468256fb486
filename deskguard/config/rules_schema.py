"""Pydantic models of the ``[rules.<key>]`` tables, generated from the engine's rule schemas.

Each rule's ``Params`` dataclass, with the :class:`~deskguard.engine.schema.ParamInfo` of its fields,
is the one declaration of that rule's settings. This module turns it into a strict pydantic model
(unknown keys refused, bounds and choices from the ParamInfo, durations/times/dates parsed from
their text forms) that validates straight into the engine's dataclass. Adding a rule to the engine
therefore needs no change here.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable
from datetime import date, time
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    create_model,
)
from pydantic_core import PydanticCustomError

from ..engine.calendar import parse_days
from ..engine.instruments import normalize_symbol
from ..engine.rules import ALL_RULES
from ..engine.rules.session_block import Window
from ..engine.schema import Duration, ParamInfo, Unit, param_info, parse_duration
from .codec import check_timezone, parse_hhmm, parse_iso_date, render, to_toml

#: Valid key names of every table of the file, by dotted path; list items are written ``*``
#: (``rules.session_block.windows.*``). Used to suggest the closest name for an unknown key.
KNOWN_KEYS: dict[str, tuple[str, ...]] = {}

#: Checks the engine's dataclasses make only as a whole (in ``__post_init__``), repeated per field so
#: the error names the exact key (``windows[0].days``) rather than the whole window.
_FIELD_CHECKS: dict[tuple[type, str], Callable[[str], object]] = {
    (Window, "days"): parse_days,
    (Window, "timezone"): check_timezone,
}

#: Counts of things are never negative, even where the schema gives no lower bound.
_COUNT_UNITS = {Unit.CONTRACTS, Unit.TRADES, Unit.TICKS}

_STRICT = ConfigDict(extra="forbid", frozen=True)


def config_error(message: str) -> PydanticCustomError:
    """A validation error whose message is shown to the user as it is."""
    return PydanticCustomError("config", message)


def _describe_range(info: ParamInfo, ge: float | None) -> str:
    parts = []
    if info.gt is not None:
        parts.append(f"more than {render(float(info.gt))}")
    if ge is not None:
        parts.append(f"at least {render(float(ge))}")
    if info.le is not None:
        parts.append(f"at most {render(float(info.le))}")
    return " and ".join(parts)


def bounds_check(info: ParamInfo) -> Callable[[Any], Any]:
    """A validator enforcing a field's bounds with a message in the trader's words."""
    ge = info.ge
    if ge is None and info.gt is None and info.unit in _COUNT_UNITS:
        ge = 0

    def check(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise config_error(f"must be a finite number (got {render(value)})")
        too_low = (info.gt is not None and value <= info.gt) or (ge is not None and value < ge)
        too_high = info.le is not None and value > info.le
        if not (too_low or too_high):
            return value
        if info.unit is Unit.USD and too_low and info.gt == 0:
            raise config_error(f"must be a positive amount (got {render(value)})")
        if info.unit is Unit.USD and too_low and ge == 0:
            raise config_error(f"must be a positive amount or 0 (got {render(value)})")
        raise config_error(f"must be {_describe_range(info, ge)} (got {render(value)})")

    return check


def _non_empty(value: str) -> str:
    if not value.strip():
        raise config_error("must not be empty")
    return value.strip()


#: Free text that must say something (symbols, account names).
Text = Annotated[StrictStr, AfterValidator(_non_empty)]


def _distinct_symbols(mapping: dict[str, Any]) -> dict[str, Any]:
    # The engine looks symbols up by their common name: "MNQ" and "mnq" (or "ES" and its exchange
    # root "EP") would silently overwrite each other.
    seen: dict[str, str] = {}
    for key in mapping:
        common = normalize_symbol(key)
        if common in seen:
            raise config_error(f"{seen[common]} and {key} name the same symbol ({common}); keep one")
        seen[common] = key
    return mapping


def _duration(allow_until_reset: bool) -> Any:
    def parse(value: Any) -> Duration:
        if not isinstance(value, str):
            hint = ' or "until_reset"' if allow_until_reset else ""
            raise config_error(f'must be a duration like "30m", "45s" or "1h30m"{hint} (got {render(value)})')
        try:
            return parse_duration(value, allow_until_reset=allow_until_reset)
        except ValueError as exc:
            raise config_error(str(exc)) from None

    return Annotated[Any, PlainValidator(parse)]


_HHMM = Annotated[time, PlainValidator(parse_hhmm)]
_ISO_DATE = Annotated[date, PlainValidator(parse_iso_date)]


def _checked(check: Callable[[str], object]) -> Callable[[str], str]:
    def run(value: str) -> str:
        try:
            check(value)
        except ValueError as exc:
            raise config_error(str(exc)) from None
        return value

    return run


def _annotation(hint: Any, info: ParamInfo, owner: type, name: str, path: str) -> Any:
    """The pydantic type of one dataclass field of the engine."""
    if info.choices:
        return Literal[info.choices]
    if hint == Duration:
        return _duration(info.allow_until_reset)
    if hint is bool:
        return StrictBool
    if hint is int:
        return Annotated[StrictInt, AfterValidator(bounds_check(info))]
    if hint is float:
        return Annotated[StrictFloat, AfterValidator(bounds_check(info))]
    if hint is str:
        extra = _FIELD_CHECKS.get((owner, name))
        return Annotated[Text, AfterValidator(_checked(extra))] if extra else Text
    if hint is time:
        return _HHMM
    if hint is date:
        return _ISO_DATE
    if get_origin(hint) is Literal:
        return hint
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return dataclass_model(hint, path)
    origin, args = get_origin(hint), get_args(hint)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _annotation(args[0], info, owner, name, f"{path}.*")
        # TOML has arrays, the engine wants immutable tuples.
        return Annotated[list[item], AfterValidator(tuple)]  # type: ignore[valid-type]  # built at runtime
    if origin is dict and len(args) == 2:
        # A map's ParamInfo describes its values (e.g. the contracts of each symbol's limit).
        key = _annotation(args[0], ParamInfo(help=""), owner, name, path)
        value = _annotation(args[1], info, owner, name, path)
        if args[0] is str:
            return Annotated[dict[key, value], AfterValidator(_distinct_symbols)]  # type: ignore[valid-type]  # runtime
        return dict[key, value]  # type: ignore[valid-type]  # built at runtime
    raise TypeError(f"{owner.__name__}.{name}: no config type for {hint!r}")


def dataclass_model(cls: type, path: str) -> Any:
    """A strict model of an engine dataclass that validates into an instance of it.

    The model's defaults are the dataclass's own, so a table that names only some keys keeps the
    engine's defaults for the rest. Values serialize back to their TOML text forms."""
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        info = param_info(f)
        annotation = _annotation(hints[f.name], info, cls, f.name, f"{path}.{f.name}")
        if f.default is not dataclasses.MISSING:
            default = Field(default=f.default, description=info.help)
        elif f.default_factory is not dataclasses.MISSING:
            default = Field(default_factory=f.default_factory, description=info.help)
        else:
            default = Field(description=info.help)
        fields[f.name] = (annotation, default)
    KNOWN_KEYS[path] = tuple(fields)
    model = create_model(f"{cls.__module__.rsplit('.', 1)[-1]}_{cls.__name__}", __config__=_STRICT, **fields)

    def build(values: BaseModel) -> Any:
        # A dataclass's own __post_init__ checks (e.g. an empty session window) become errors at
        # this table's key.
        try:
            return cls(**{name: getattr(values, name) for name in fields})
        except ValueError as exc:
            raise config_error(str(exc)) from None

    return Annotated[model, AfterValidator(build), PlainSerializer(to_toml)]


def _rules_section(path: str = "rules", name: str = "RulesSection") -> type[BaseModel]:
    fields: dict[str, Any] = {
        rule.key: (dataclass_model(rule.Params, f"{path}.{rule.key}"),
                   Field(default_factory=rule.Params, description=rule.summary))
        for rule in ALL_RULES
    }
    KNOWN_KEYS[path] = tuple(fields)
    return create_model(name, __config__=_STRICT, **fields)


#: The ``[rules]`` table: one attribute per rule key holding that rule's engine ``Params``.
RulesSection: type[BaseModel] = _rules_section()
#: An account's ``[accounts."NAME".rules]`` table, validated key by key like ``[rules]``; only the
#: keys the user wrote count as the account's own (see ``config.accounts``).
AccountRulesSection: type[BaseModel] = _rules_section("accounts.*.rules", "AccountRulesSection")
