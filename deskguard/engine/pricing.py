"""Unrealized P&L from the latest quotes and each contract's tick metadata."""

from __future__ import annotations

from datetime import datetime

from .instruments import instrument_for
from .models import ContractSpec, Position, Quote, money


class Pricing:
    """Latest quote per contract, tick metadata (broker's first, the catalog as fallback)."""

    __slots__ = ("quotes", "specs", "stale_after", "_tick_cache")

    def __init__(self, stale_quote_seconds: float = 5.0) -> None:
        self.quotes: dict[str, Quote] = {}
        self.specs: dict[str, ContractSpec] = {}
        self.stale_after = stale_quote_seconds
        self._tick_cache: dict[str, tuple[float, float] | None] = {}

    def add_spec(self, spec: ContractSpec) -> None:
        self.specs[spec.contract_id] = spec
        self._tick_cache.pop(spec.contract_id, None)

    def tick(self, contract_id: str) -> tuple[float, float] | None:
        """(tick size, tick value) of a contract, or None if nothing is known about it."""
        try:
            return self._tick_cache[contract_id]
        except KeyError:
            pass
        spec = self.specs.get(contract_id)
        if spec is not None and spec.tick_size > 0:
            found: tuple[float, float] | None = (spec.tick_size, spec.tick_value)
        else:
            inst = instrument_for(contract_id)
            found = (inst.tick_size, inst.tick_value) if inst else None
        self._tick_cache[contract_id] = found
        return found

    def update(self, quote: Quote) -> None:
        self.quotes[quote.contract_id] = quote

    def price(self, contract_id: str, now: datetime) -> tuple[float | None, bool]:
        """The contract's current price and whether it is stale (older than the limit, or missing)."""
        q = self.quotes.get(contract_id)
        if q is None:
            return None, True
        p = q.price
        stale = p is None or (now - q.time).total_seconds() > self.stale_after
        return p, stale

    def unrealized(self, position: Position, now: datetime) -> tuple[float, bool]:
        """(price − average) / tick size × tick value × size, signed by side; and staleness.

        With no price or no tick metadata the figure is 0 and stale: it is shown greyed and never
        triggers a rule."""
        contract = position.contract_id
        q = self.quotes.get(contract)
        if q is None:
            return 0.0, True
        price = q.last
        if price is None:
            if q.bid is None or q.ask is None:
                return 0.0, True
            price = (q.bid + q.ask) / 2
        tick = self._tick_cache.get(contract) or self.tick(contract)
        if tick is None:
            return 0.0, True
        stale = (now - q.time).total_seconds() > self.stale_after
        signed = position.size if position.type == 1 else -position.size
        return money(_ticks(price - position.average_price, tick[0]) * tick[1] * signed), stale

    def ticks_in_profit(self, position: Position, now: datetime) -> tuple[float | None, bool]:
        price, stale = self.price(position.contract_id, now)
        tick = self.tick(position.contract_id)
        if price is None or tick is None:
            return None, True
        return _ticks(price - position.average_price, tick[0]) * position.direction, stale


def _ticks(move: float, tick_size: float) -> float:
    """A price move in ticks, cleaned of binary noise: (69.70 - 70.00) / 0.01 is -29.999999999999716
    in floats, and a 30-tick move must count as 30 ticks at a limit."""
    return round(move / tick_size, 6)
