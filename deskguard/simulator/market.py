"""Prices: a seeded random walk per contract on its tick grid, quotes and history bars.

Each contract has its own ``random.Random`` seeded from the simulator seed and the contract id, so
a contract's walk does not depend on which other contracts happen to be active.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from deskguard.simulator.contracts import Contract

# Rough late-2026 price levels; only plausibility matters.
BASE_PRICES: dict[str, float] = {
    "ES": 6000.0, "MES": 6000.0, "NQ": 21000.0, "MNQ": 21000.0, "YM": 44000.0, "MYM": 44000.0,
    "RTY": 2200.0, "M2K": 2200.0, "NKD": 40000.0,
    "CL": 70.0, "MCL": 70.0, "QM": 70.0, "NG": 3.5, "MNG": 3.5, "QG": 3.5, "RB": 2.2, "HO": 2.4,
    "GC": 3300.0, "MGC": 3300.0, "SI": 36.0, "SIL": 36.0, "HG": 4.8, "MHG": 4.8, "PL": 1000.0,
    "ZT": 103.0, "ZF": 107.0, "ZN": 111.0, "TN": 113.0, "ZB": 115.0, "UB": 118.0,
    "6E": 1.10, "M6E": 1.10, "6B": 1.30, "M6B": 1.30, "6J": 0.0068, "6A": 0.66, "M6A": 0.66,
    "6C": 0.73, "6S": 1.20, "6N": 0.60, "6M": 0.055,
    "ZC": 450.0, "ZW": 550.0, "ZS": 1050.0, "ZM": 300.0, "ZL": 50.0, "HE": 90.0, "LE": 200.0,
    "MBT": 100000.0, "MET": 2500.0,
}  # fmt: skip

# Standard deviation of one walk step, as a fraction of the price (at least one tick).
_STEP_VOLATILITY = 0.00004

_BAR_UNITS: dict[int, timedelta] = {
    1: timedelta(seconds=1),
    2: timedelta(minutes=1),
    3: timedelta(hours=1),
    4: timedelta(days=1),
    5: timedelta(weeks=1),
    6: timedelta(days=30),
}
MAX_BARS = 20_000


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat()


@dataclass(slots=True)
class PriceState:
    contract: Contract
    rng: random.Random
    last: float
    open: float
    high: float
    low: float
    volume: int = 0
    updated: datetime = field(default_factory=utc_now)


class Market:
    """Current prices and the walk that moves them."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._states: dict[str, PriceState] = {}

    def _state(self, contract: Contract) -> PriceState:
        state = self._states.get(contract.id)
        if state is None:
            rng = random.Random(f"{self._seed}/{contract.id}")
            base = BASE_PRICES.get(contract.symbol, 100.0)
            start = max(contract.tick_size, contract.round_price(base * (1 + rng.uniform(-0.01, 0.01))))
            state = PriceState(contract, rng, start, start, start, start)
            self._states[contract.id] = state
        return state

    def price(self, contract: Contract) -> float:
        return self._state(contract).last

    def known_prices(self) -> dict[str, float]:
        return {cid: s.last for cid, s in self._states.items()}

    def set_price(self, contract: Contract, price: float, volume: int = 1) -> float:
        state = self._state(contract)
        state.last = max(contract.tick_size, contract.round_price(price))
        state.high = max(state.high, state.last)
        state.low = min(state.low, state.last)
        state.volume += volume
        state.updated = utc_now()
        return state.last

    def step(self, contract: Contract) -> float:
        """Move the price a random number of ticks; returns the new price."""
        state = self._state(contract)
        sigma_ticks = max(1.0, state.last * _STEP_VOLATILITY / contract.tick_size)
        ticks = round(state.rng.gauss(0.0, sigma_ticks))
        return self.set_price(contract, state.last + ticks * contract.tick_size, state.rng.randint(1, 20))

    def quote(self, contract: Contract) -> dict[str, Any]:
        """A GatewayQuote payload; ``symbol`` is the contract's symbolId, as the SDK requires."""
        s = self._state(contract)
        change = round(s.last - s.open, 10)
        return {
            "symbol": contract.symbol_id,
            "symbolName": contract.name,
            "lastPrice": s.last,
            "bestBid": s.last,
            "bestAsk": contract.round_price(s.last + contract.tick_size),
            "change": change,
            "changePercent": round(change / s.open * 100, 4) if s.open else 0.0,
            "open": s.open,
            "high": s.high,
            "low": s.low,
            "volume": s.volume,
            "lastUpdated": iso(s.updated),
            "timestamp": iso(s.updated),
        }

    def market_trade(self, contract: Contract, size: int, buyer_initiated: bool) -> list[dict[str, Any]]:
        """A GatewayTrade payload (a list of prints) at the current price."""
        s = self._state(contract)
        return [
            {
                "symbolId": contract.symbol_id,
                "price": s.last,
                "timestamp": iso(s.updated),
                "type": 0 if buyer_initiated else 1,
                "volume": size,
            }
        ]

    def depth(self, contract: Contract, levels: int = 5) -> list[dict[str, Any]]:
        """A GatewayDepth payload: a few bid (type 2) and ask (type 1) levels around the price."""
        s = self._state(contract)
        ts = iso(s.updated)
        entries: list[dict[str, Any]] = []
        for i in range(levels):
            size = 10 + 5 * i
            bid = contract.round_price(s.last - i * contract.tick_size)
            ask = contract.round_price(s.last + (i + 1) * contract.tick_size)
            entries.append({"price": bid, "volume": size, "currentVolume": size, "type": 2, "timestamp": ts})
            entries.append({"price": ask, "volume": size, "currentVolume": size, "type": 1, "timestamp": ts})
        return entries

    def bars(
        self,
        contract: Contract,
        start: datetime,
        end: datetime,
        unit: int,
        unit_number: int,
        limit: int,
        include_partial: bool,
    ) -> list[dict[str, Any]]:
        """Plausible OHLCV bars for [start, end], newest first (as the gateway's documented
        ``History/retrieveBars`` reply lists them); ``limit`` keeps the newest.

        The newest bar closes at the current price and the walk is replayed backwards from it with
        a generator seeded by the request's shape, so the same request gives the same bars while
        the price stands still."""
        span = _BAR_UNITS.get(unit, timedelta(minutes=1)) * max(1, unit_number)
        now = utc_now()
        end = min(end, now)
        if end <= start:
            return []
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        last_open = epoch + span * ((end - epoch) // span)
        if not include_partial and last_open + span > now:
            last_open -= span  # that bucket is still forming
        first_open = epoch + span * -(-(start - epoch) // span)
        if last_open < first_open:
            return []
        count = min((last_open - first_open) // span + 1, max(1, min(limit, MAX_BARS)))
        state = self._state(contract)
        rng = random.Random(f"{self._seed}/{contract.id}/bars/{unit}/{unit_number}/{last_open.timestamp()}")
        scale = max(1.0, (span.total_seconds() / 0.5) ** 0.5)
        sigma_ticks = max(1.0, state.last * _STEP_VOLATILITY / contract.tick_size) * scale
        tick = contract.tick_size
        bars: list[dict[str, Any]] = []
        close = state.last
        for i in range(count):
            open_ = max(tick, contract.round_price(close - round(rng.gauss(0.0, sigma_ticks)) * tick))
            wick_up = abs(round(rng.gauss(0.0, sigma_ticks / 2))) * tick
            wick_down = abs(round(rng.gauss(0.0, sigma_ticks / 2))) * tick
            bars.append(
                {
                    "t": iso(last_open - span * i),
                    "o": open_,
                    "h": contract.round_price(max(open_, close) + wick_up),
                    "l": max(tick, contract.round_price(min(open_, close) - wick_down)),
                    "c": close,
                    "v": rng.randint(1, 500) * max(1, unit_number),
                }
            )
            close = open_
        return bars
