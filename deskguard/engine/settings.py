"""What the engine is configured with: every rule's params, the trading day, P&L options, and each
account's own rule set (rules.md, "Accounts, per-account rules and firm profiles")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .calendar import TradingCalendar
from .rules import ALL_RULES


def default_rules() -> dict[str, Any]:
    return {r.key: r.Params() for r in ALL_RULES}


@dataclass(frozen=True)
class AccountSettings:
    """One account's effective rules, already resolved (account > profile > top-level > default)."""

    rules: dict[str, Any]  # rule key -> that rule's Params
    profile: str = ""
    starting_balance: float | None = None  # None: the first balance seen
    #: 014 stops trailing at (and its mark never falls below) the starting balance, which is only
    #: known at run time (a funded account's first balance seen).
    trail_to_start: bool = False

    def enabled_keys(self) -> list[str]:
        return [r.key for r in ALL_RULES if self.rules[r.key].enabled]


@dataclass(frozen=True)
class EngineSettings:
    rules: dict[str, Any] = field(default_factory=default_rules)  # rule key -> that rule's Params
    calendar: TradingCalendar = field(default_factory=TradingCalendar)
    include_fees: bool = True
    stale_quote_seconds: float = 5.0
    #: Accounts with rules of their own, by lower-case name or by id (as text); others use ``rules``.
    accounts: Mapping[str, AccountSettings] = field(default_factory=dict)

    def with_rule(self, key: str, **changes: Any) -> EngineSettings:
        rules = dict(self.rules)
        rules[key] = replace(rules[key], **changes)
        return replace(self, rules=rules)

    def enabled_keys(self) -> list[str]:
        return [r.key for r in ALL_RULES if self.rules[r.key].enabled]

    def for_account(self, account_id: int, name: str | None = None) -> AccountSettings:
        """The rules of one account: its own table (by id, then by name), else the shared rules."""
        own = self.accounts.get(str(account_id))
        if own is None and name is not None:
            own = self.accounts.get(name.strip().lower())
        return own if own is not None else self.shared

    def unmatched(self, accounts: list[tuple[int, str]]) -> list[str]:
        """The account tables (as keyed) that name none of ``accounts`` (id, name): most likely a
        misspelt name, which would leave that account under the shared rules."""
        known = {str(i) for i, _ in accounts} | {n.strip().lower() for _, n in accounts}
        return [key for key in self.accounts if key not in known]

    @property
    def shared(self) -> AccountSettings:
        """The shared rules as an account's settings (for accounts without a table of their own)."""
        cached: AccountSettings | None = self.__dict__.get("_shared")
        if cached is None:
            cached = AccountSettings(self.rules)
            object.__setattr__(self, "_shared", cached)
        return cached
