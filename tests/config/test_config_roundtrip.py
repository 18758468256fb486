"""Any valid settings survive a trip through config.toml text, whether written fresh or merged."""

from __future__ import annotations

import dataclasses
import typing
from datetime import date, time, timedelta
from typing import Any, Literal, get_args, get_origin

from hypothesis import given, settings
from hypothesis import strategies as st

from deskguard.config import config_from_data, default_config_text, dumps_config, loads_config
from deskguard.config.codec import to_toml
from deskguard.engine.rules import ALL_RULES
from deskguard.engine.rules.session_block import Window
from deskguard.engine.schema import UNTIL_RESET, Duration, ParamInfo, format_duration, param_info, parse_duration


def _number(info: ParamInfo, integer: bool) -> st.SearchStrategy[Any]:
    low = info.ge if info.ge is not None else (info.gt if info.gt is not None else 0)
    high = info.le if info.le is not None else 100_000
    if integer:
        return st.integers(int(low) + (1 if info.gt is not None else 0), int(min(high, 500)))
    return st.floats(low, high, exclude_min=info.gt is not None, allow_nan=False, allow_infinity=False)


def _durations(allow_until_reset: bool) -> st.SearchStrategy[Any]:
    spans = st.integers(1, 48 * 3600).map(lambda s: timedelta(seconds=s))
    return st.one_of(spans, st.just(UNTIL_RESET)) if allow_until_reset else spans


_times = st.builds(time, st.integers(0, 23), st.integers(0, 59))
_dates = st.dates(date(2025, 1, 1), date(2030, 12, 31))
_symbols = st.sampled_from(["MNQ", "ES", "nq", "CL*", "RTY", "M?S"])


def _windows() -> st.SearchStrategy[Window]:
    # Window refuses start == end in __post_init__, so filter before building it.
    return st.tuples(
        st.sampled_from(["Mon-Fri", "Sun-Thu", "Mon,Wed,Fri", "Fri-Mon", "Sat"]),
        _times,
        _times,
        st.sampled_from(["America/Chicago", "America/New_York", "UTC", "Europe/London"]),
    ).filter(lambda t: t[1] != t[2]).map(lambda t: Window(*t))


def strategy_for(hint: Any, info: ParamInfo) -> st.SearchStrategy[Any]:
    if info.choices:
        return st.sampled_from(info.choices)
    if hint == Duration:
        return _durations(info.allow_until_reset)
    if hint is bool:
        return st.booleans()
    if hint in (int, float):
        return _number(info, hint is int)
    if hint is time:
        return _times
    if hint is date:
        return _dates
    if hint is Window:
        return _windows()
    if get_origin(hint) is Literal:
        return st.sampled_from(get_args(hint))
    if dataclasses.is_dataclass(hint):
        return dataclass_strategy(hint)  # type: ignore[arg-type]
    origin, args = get_origin(hint), get_args(hint)
    if origin is tuple:
        item = _symbols if args[0] is str else strategy_for(args[0], info)
        return st.lists(item, max_size=3).map(tuple)
    if origin is dict:
        keys = st.sampled_from(["MNQ", "ES", "NQ", "MES"]) if args[0] is str else strategy_for(args[0], ParamInfo(help=""))
        return st.dictionaries(keys, strategy_for(args[1], info), max_size=3)
    raise TypeError(hint)


def dataclass_strategy(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: strategy_for(hints[f.name], param_info(f)) for f in dataclasses.fields(cls)})


configs = st.fixed_dictionaries({r.key: dataclass_strategy(r.Params) for r in ALL_RULES})


@settings(max_examples=40, deadline=None)
@given(rules=configs)
def test_any_valid_rules_round_trip_through_text(rules: dict[str, Any]):
    cfg = config_from_data({"rules": {key: to_toml(params) for key, params in rules.items()}})
    assert cfg.rule_params() == rules
    fresh = dumps_config(cfg)
    assert loads_config(fresh) == cfg
    # Saved again over its own text, nothing changes; saved over the defaults, same meaning.
    assert dumps_config(cfg, fresh) == fresh
    assert loads_config(dumps_config(cfg, default_config_text())) == cfg
    assert loads_config(default_config_text(cfg)) == cfg


@given(st.integers(1, 10 * 86400).map(lambda s: timedelta(seconds=s)))
def test_durations_round_trip(value: timedelta):
    assert parse_duration(format_duration(value)) == value
