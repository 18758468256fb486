"""``[accounts."NAME"]``: one guarded account's profile, starting balance and own rule values.

Only the keys the user wrote in an account's ``rules`` tables are the account's own (they beat the
profile and the shared rules); the model keeps them as ``overrides`` and writes back exactly those.
How the layers combine is :mod:`deskguard.engine.effective`.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictFloat,
    model_serializer,
    model_validator,
)

from ..engine.profiles import PROFILES
from ..engine.rules import ALL_RULES
from ..engine.schema import ParamInfo, Unit
from .codec import render
from .rules_schema import KNOWN_KEYS, AccountRulesSection, bounds_check, config_error

if TYPE_CHECKING:
    AccountRulesModel = BaseModel
else:
    AccountRulesModel = AccountRulesSection


def _check_profile(value: Any) -> str:
    if not isinstance(value, str):
        raise config_error(f'must be a profile name in quotes, or "" for none (got {render(value)})')
    name = value.strip()
    if name and name not in PROFILES:
        close = difflib.get_close_matches(name.lower(), list(PROFILES), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]}?" if close else f"; valid profiles: {', '.join(PROFILES)}"
        raise config_error(f"unknown profile {render(value)}{hint}")
    return name


_BALANCE_INFO = ParamInfo(help="", unit=Unit.USD, gt=0)

ProfileName = Annotated[Any, AfterValidator(_check_profile)]


def _as_float(value: Any) -> Any:
    # TOML writes 50000 as an integer; a balance is an amount of money.
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


class AccountConfig(BaseModel):
    """One ``[accounts."NAME"]`` table (name or numeric id, as text)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: ProfileName = Field(default="", description='The firm\'s rules for this account ("" = none).')
    starting_balance: Annotated[StrictFloat, AfterValidator(bounds_check(_BALANCE_INFO))] | None = Field(
        default=None, description="Default: the profile's; without one, the first balance seen.")
    rules: AccountRulesModel = Field(default_factory=AccountRulesSection,
                                     description="This account's own rule values (they beat the profile).")

    _overrides: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _money(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "starting_balance" in data:
            data = {**data, "starting_balance": _as_float(data["starting_balance"])}
        return data

    @model_validator(mode="wrap")
    @classmethod
    def _note_overrides(cls, data: Any, handler: Any) -> Any:
        account = handler(data)
        if isinstance(data, Mapping):
            raw = data.get("rules")
            written: dict[str, dict[str, Any]] = {}
            if isinstance(raw, Mapping):
                for key, table in raw.items():
                    if isinstance(table, Mapping):
                        params = getattr(account.rules, key)
                        written[key] = {name: getattr(params, name) for name in table}
            account._overrides = written
        return account

    @property
    def overrides(self) -> dict[str, dict[str, Any]]:
        """The values the user wrote for this account, by rule and parameter."""
        return {k: dict(v) for k, v in self._overrides.items()}

    @model_serializer(mode="wrap")
    def _only_written(self, handler: Any) -> Any:
        data = handler(self)
        rules = {k: {n: v for n, v in data["rules"][k].items() if n in names}
                 for k, names in self._overrides.items()}
        data["rules"] = {k: v for k, v in rules.items() if v}
        if not data["rules"]:
            del data["rules"]  # nothing of its own: the file needs no rules table for it
        return data

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> AccountConfig:
        """A copy whose own rule values are ``overrides`` (engine values), validated like the file."""
        from .codec import to_toml

        data: dict[str, Any] = {"profile": self.profile, "rules": {
            rule: {name: to_toml(value) for name, value in params.items()} for rule, params in overrides.items() if params
        }}
        if self.starting_balance is not None:
            data["starting_balance"] = self.starting_balance
        return AccountConfig.model_validate(data)


KNOWN_KEYS["accounts.*"] = tuple(AccountConfig.model_fields)


def written_top_level(raw_rules: Any, rules: Any) -> frozenset[tuple[str, str]]:
    """The (rule, parameter) pairs the user wrote in ``[rules.*]``.

    A table that lists every parameter of its rule is the shape the app itself writes (the first-run
    file, saves): there only the values that differ from the default count as the user's choice, so a
    commented default file does not outvote every profile."""
    if not isinstance(raw_rules, Mapping):
        return frozenset()
    out: set[tuple[str, str]] = set()
    by_key = {r.key: r for r in ALL_RULES}
    for key, table in raw_rules.items():
        rule = by_key.get(key)
        if rule is None or not isinstance(table, Mapping):
            continue
        names = {f.name for f in dataclasses.fields(rule.Params)}
        full = names <= set(table)
        params, default = getattr(rules, key), rule.Params()
        for name in table:
            if name in names and (not full or getattr(params, name) != getattr(default, name)):
                out.add((key, name))
    return frozenset(out)


def account_key(name_or_id: str | int) -> str:
    """How accounts are matched: case-insensitive names, ids as text."""
    return str(name_or_id).strip().lower()
