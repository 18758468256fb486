"""What the engine is configured with: every rule's params, the trading day, P&L options."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .calendar import TradingCalendar
from .rules import ALL_RULES


def default_rules() -> dict[str, Any]:
    return {r.key: r.Params() for r in ALL_RULES}


@dataclass(frozen=True)
class EngineSettings:
    rules: dict[str, Any] = field(default_factory=default_rules)  # rule key -> that rule's Params
    calendar: TradingCalendar = field(default_factory=TradingCalendar)
    include_fees: bool = True
    stale_quote_seconds: float = 5.0

    def with_rule(self, key: str, **changes: Any) -> EngineSettings:
        rules = dict(self.rules)
        rules[key] = replace(rules[key], **changes)
        return replace(self, rules=rules)

    def enabled_keys(self) -> list[str]:
        return [r.key for r in ALL_RULES if self.rules[r.key].enabled]
