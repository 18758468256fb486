"""The simulator's contract list: one front-month contract per catalog instrument.

Ids follow TopstepX: ``CON.F.US.<root>.<month><yy>`` where ``<root>`` is the instrument's first
TopstepX root (``EP`` for ES, ``ENQ`` for NQ) or its symbol, and ``symbolId`` is ``F.US.<root>``.
The contract ``name`` uses the common symbol and a one-digit year (``ESZ6``), which is what the
SDK's ``_select_best_contract`` groups by when it picks the front month.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from deskguard.engine.instruments import CATALOG, Instrument

MONTH_CODES = "FGHJKMNQUVXZ"

# Contracts roll about a week before their (roughly third-Friday) expiry.
_ROLL_DAY = 10

# Round-turn fees per contract, by size class. Micros cost $0.74 and minis/full-size $2.80 at
# TopstepX for the index products; the same two tiers are a plausible default for the rest.
MICRO_ROUND_TURN_FEE = 0.74
STANDARD_ROUND_TURN_FEE = 2.80


@dataclass(frozen=True, slots=True)
class Contract:
    id: str  # CON.F.US.EP.Z26
    name: str  # ESZ6
    description: str
    symbol: str  # common name, ES
    root: str  # exchange root used in ids, EP
    symbol_id: str  # F.US.EP
    tick_size: float
    tick_value: float
    round_turn_fee: float

    def half_turn_fees(self, size: int) -> float:
        """Fees of one fill of ``size`` contracts: the gateway charges half the round-turn fee on
        each side (its documented opening fill of one ES: ``"fees": 1.40`` of $2.80)."""
        return round(self.round_turn_fee / 2 * size, 2)

    @property
    def point_value(self) -> float:
        """Dollars per 1.0 price move per contract."""
        return self.tick_value / self.tick_size

    def round_price(self, price: float) -> float:
        return round(round(price / self.tick_size) * self.tick_size, 10)

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "tickSize": self.tick_size,
            "tickValue": self.tick_value,
            "activeContract": True,
            "symbolId": self.symbol_id,
        }


def front_month(instrument: Instrument, today: date) -> tuple[str, int]:
    """The listed month (code, year) a trader would trade on ``today``."""
    for offset in range(25):
        month_index = today.month - 1 + offset
        year = today.year + month_index // 12
        month = month_index % 12 + 1
        code = MONTH_CODES[month - 1]
        if code in instrument.month_codes and today < date(year, month, _ROLL_DAY):
            return code, year
    raise ValueError(f"{instrument.symbol} lists no month codes")


def default_round_turn_fee(instrument: Instrument) -> float:
    return MICRO_ROUND_TURN_FEE if "micro" in instrument.name.lower() else STANDARD_ROUND_TURN_FEE


def make_contract(instrument: Instrument, today: date, fee: float | None = None) -> Contract:
    code, year = front_month(instrument, today)
    root = instrument.roots[0] if instrument.roots else instrument.symbol
    return Contract(
        id=f"CON.F.US.{root}.{code}{year % 100:02d}",
        name=f"{instrument.symbol}{code}{year % 10}",
        description=f"{instrument.name}: {calendar.month_name[MONTH_CODES.index(code) + 1]} {year}",
        symbol=instrument.symbol,
        root=root,
        symbol_id=f"F.US.{root}",
        tick_size=instrument.tick_size,
        tick_value=instrument.tick_value,
        round_turn_fee=default_round_turn_fee(instrument) if fee is None else fee,
    )


class ContractCatalog:
    """Front-month contracts for every instrument in ``deskguard.engine.instruments.CATALOG``."""

    def __init__(self, today: date, fees: dict[str, float] | None = None) -> None:
        fees = {k.upper(): v for k, v in (fees or {}).items()}
        self._by_id: dict[str, Contract] = {}
        self._by_key: dict[str, Contract] = {}
        for instrument in CATALOG.values():
            contract = make_contract(instrument, today, fees.get(instrument.symbol))
            self._by_id[contract.id] = contract
            for key in (contract.id, contract.name, instrument.symbol, *instrument.all_roots):
                self._by_key.setdefault(key.upper(), contract)

    def __iter__(self) -> Iterator[Contract]:
        return iter(self._by_id.values())

    def by_id(self, contract_id: str) -> Contract | None:
        return self._by_id.get(contract_id)

    def resolve(self, text: str) -> Contract | None:
        """A contract from its id, name (``MNQZ6``), common symbol (``MNQ``) or root (``ENQ``)."""
        return self._by_key.get(text.strip().upper())

    def search(self, text: str, limit: int = 20) -> list[Contract]:
        """Exact matches first (symbol, root, name, id), then contracts whose symbol, name or
        description contains the text, like the gateway's fuzzy ``Contract/search``."""
        needle = text.strip().upper()
        if not needle:
            return []
        found: list[Contract] = []
        exact = self._by_key.get(needle)
        if exact is not None:
            found.append(exact)
        for contract in self._by_id.values():
            if contract in found:
                continue
            haystacks = (contract.symbol, contract.name, contract.description.upper())
            if any(needle in h for h in haystacks):
                found.append(contract)
        return found[:limit]
