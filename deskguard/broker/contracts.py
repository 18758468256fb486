"""The contracts one broker knows: tick metadata, the gateway's symbol ids, the quoted contracts.

Filled from the SDK's ``get_instrument`` (``Session.instrument``) at start and when the guardian
asks for a contract it has not seen. The stream uses it to name a quote's contract, the actions
to put a stop price on the tick grid, the supervisor to re-subscribe the quoted contracts.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from ..engine.models import ContractSpec
from . import parsing

log = logging.getLogger(__name__)


class ContractBook:
    def __init__(self) -> None:
        self.specs: dict[str, ContractSpec] = {}
        self.symbol_ids: dict[str, str] = {}  # symbolId (F.US.MNQ) -> contract id
        self.quoted: list[str] = []  # contract ids whose quotes are (to be) subscribed, in order

    def add(self, symbol: str, instrument: Any) -> ContractSpec | None:
        """Remember the SDK's instrument (a dataclass) found for ``symbol``; None if unusable."""
        try:
            spec, symbol_id = parsing.parse_contract(dataclasses.asdict(instrument))
        except (parsing.PayloadError, TypeError) as exc:
            log.warning("contract for %r is unusable: %s", symbol, exc)
            return None
        self.specs[spec.contract_id] = spec
        if symbol_id:
            self.symbol_ids[symbol_id] = spec.contract_id
        return spec

    def quote(self, contract_id: str) -> bool:
        """Add a contract to the quoted ones; False if it was already there."""
        if contract_id in self.quoted:
            return False
        self.quoted.append(contract_id)
        return True

    def contract_of_quote(self, given: Any, payload: Mapping[str, Any]) -> str | None:
        """The contract id a market-hub quote is for: the id the SDK passed along (a contract id
        or a symbol id), else one named in the payload; None if none is known."""
        if isinstance(given, str) and given:
            if given in self.specs or given.startswith("CON."):
                return given
            if given in self.symbol_ids:
                return self.symbol_ids[given]
        for key in ("symbol", "symbolId", "contractId"):
            value = payload.get(key)
            if isinstance(value, str):
                if value in self.symbol_ids:
                    return self.symbol_ids[value]
                if value.startswith("CON."):
                    return value
        return None

    def on_tick(self, contract_id: str | None, price: float) -> float:
        """The price with float noise removed (nearest tick when the contract is known)."""
        spec = self.specs.get(contract_id) if contract_id else None
        if spec is None or spec.tick_size <= 0:
            return round(float(price), 10)
        return round(round(float(price) / spec.tick_size) * spec.tick_size, 10)
