"""One account's effective rules: its own table, its firm profile, the shared rules and the defaults,
combined parameter by parameter as rules.md ("Accounts, per-account rules and firm profiles") says.

For an account with a profile:

1. the account's own ``[accounts."NAME".rules.*]`` value — the only place that can loosen or switch
   off what the profile sets;
2. where both the user's top-level ``[rules.*]`` and the profile give an amount or count limit, the
   tighter of the two; for choices (``mode``, ``action``, ``count``…) the user's top-level value;
3. for lists and tables (``windows``, ``tiers``, ``scaling``, ``limits``…): the profile's, else the
   top-level, else the default;
4. otherwise the profile's value, then the top-level one, then the rule's default.

A profile switches on the rules it sets; a top-level ``enabled = false`` does not switch them off.
Without a profile: the account's own table > top-level > default. Every value says where it came
from (``account``, ``profile``, ``top-level``, ``default``) for ``check-config`` and the rule editor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from .profiles import STARTING_BALANCE, Profile
from .rules import ALL_RULES
from .schema import Looser, param_info
from .settings import AccountSettings

ACCOUNT, PROFILE, TOP_LEVEL, DEFAULT = "account", "profile", "top-level", "default"


@dataclass(frozen=True)
class Effective:
    """An account's resolved rules and where each value came from."""

    settings: AccountSettings
    #: ``"rule.param"`` → ``account`` / ``profile`` / ``top-level`` / ``default``.
    sources: dict[str, str] = field(default_factory=dict)
    starting_balance_source: str = DEFAULT


def _is_collection(value: Any) -> bool:
    return isinstance(value, (tuple, list, dict, frozenset, set))


def _rank_stop_trailing(cap: float) -> float:
    # 0 means the floor never stops rising: the strictest setting (see config.pending).
    return float("inf") if cap == 0 else cap


def tighter(rule: str, name: str, looser: Looser, top: Any, prof: Any) -> tuple[Any, str]:
    """The tighter of a top-level and a profile amount (a tie goes to the profile, the firm's line)."""
    if (rule, name) == ("trailing_drawdown", "stop_trailing_at"):
        return (top, TOP_LEVEL) if _rank_stop_trailing(top) > _rank_stop_trailing(prof) else (prof, PROFILE)
    if looser is Looser.HIGHER:
        return (top, TOP_LEVEL) if top < prof else (prof, PROFILE)
    return (top, TOP_LEVEL) if top > prof else (prof, PROFILE)


def resolve(
    top: Mapping[str, Any],
    top_written: Collection[tuple[str, str]],
    profile: Profile | None = None,
    account: Mapping[str, Mapping[str, Any]] | None = None,
    starting_balance: float | None = None,
) -> Effective:
    """Combine the layers. ``top``: the top-level rules (each rule's Params); ``top_written``: the
    (rule, param) pairs the user wrote at the top level; ``account``: the account's own values by
    rule and param; ``starting_balance``: the account's own (None: the profile's, else the first
    balance seen)."""
    account = account or {}
    sources: dict[str, str] = {}
    start, start_source = starting_balance, ACCOUNT
    if start is None and profile is not None and profile.starting_balance is not None:
        start, start_source = profile.starting_balance, PROFILE
    if start is None:
        start_source = DEFAULT  # the first balance seen
    trail_to_start = False
    rules: dict[str, Any] = {}
    for rule in ALL_RULES:
        key = rule.key
        defaults = rule.Params()
        shared = top[key]
        own = account.get(key, {})
        prof = profile.params_of(key) if profile is not None else {}
        values: dict[str, Any] = {}
        for f in dataclasses.fields(shared):
            name = f.name
            written = (key, name) in top_written
            top_value = getattr(shared, name)
            if name in own:
                value, source = own[name], ACCOUNT
            elif name in prof and prof[name] == STARTING_BALANCE:
                value, source = (start if start is not None else 0.0), PROFILE
                trail_to_start = trail_to_start or start is None
            elif name in prof and written and name != "enabled":
                value, source = _combine(key, name, param_info(f).looser, top_value, prof[name])
            elif name in prof:
                value, source = prof[name], PROFILE
            else:
                value = top_value
                source = TOP_LEVEL if written or top_value != getattr(defaults, name) else DEFAULT
            values[name] = value
            sources[f"{key}.{name}"] = source
        if key == "trailing_drawdown" and prof and "high_water_mark" not in own:
            # rules.md: the mark is never below the starting balance when a profile sets one.
            mark = values["high_water_mark"]
            if start is not None and mark < start:
                values["high_water_mark"] = start
                sources[f"{key}.high_water_mark"] = PROFILE
        rules[key] = dataclasses.replace(shared, **values)
    settings = AccountSettings(rules, profile.key if profile is not None else "", start, trail_to_start)
    return Effective(settings, sources, start_source)


def _combine(rule: str, name: str, looser: Looser, top: Any, prof: Any) -> tuple[Any, str]:
    """Rule 2 and 3 of the precedence, where both the top level and the profile give a value."""
    if _is_collection(prof) or _is_collection(top):
        return prof, PROFILE
    is_amount = isinstance(prof, (int, float)) and not isinstance(prof, bool) and looser is not Looser.ANY
    if is_amount or (rule, name) == ("trailing_drawdown", "stop_trailing_at"):
        return tighter(rule, name, looser, top, prof)
    return top, TOP_LEVEL  # a choice: the user's
