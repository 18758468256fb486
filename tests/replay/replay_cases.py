"""Builders for the replay tests: gateway-shaped fills at hand-picked times, rule sets with only some
rules on. MNQ: tick 0.25 = $0.50, so a point is $2 per contract; MES: a point is $5."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from deskguard.engine.models import Side, Trade
from deskguard.engine.rules import ALL_RULES
from deskguard.engine.settings import EngineSettings

CT = ZoneInfo("America/Chicago")
MNQ = "CON.F.US.MNQ.Z26"
MES = "CON.F.US.MES.Z26"
ACCOUNT = 1001
#: Tuesday 24 Nov 2026, 09:00 CT, inside the default session (trading day 2026-11-24).
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=CT)


def only(*keys: str, **changes: dict[str, Any]) -> EngineSettings:
    wanted = set(keys) | set(changes)
    settings = EngineSettings()
    for rule in ALL_RULES:
        settings = settings.with_rule(rule.key, enabled=rule.key in wanted)
    for key, params in changes.items():
        settings = settings.with_rule(key, **params)
    return settings


class Tape:
    """Fills in order, with ids counting up: ``tape.round_trip(at, minutes, pnl)``."""

    def __init__(self) -> None:
        self.trades: list[Trade] = []
        self._id = 100

    def fill(self, at: datetime, side: Side, size: int = 1, price: float = 21_000.0, pnl: float | None = None,
             fees: float = 1.0, contract: str = MNQ) -> Trade:
        self._id += 1
        t = Trade(self._id, ACCOUNT, contract, at.astimezone(UTC), price, pnl, fees, side, size, order_id=self._id)
        self.trades.append(t)
        return t

    def round_trip(self, at: datetime, pnl: float, minutes: float = 1, contract: str = MNQ,
                   price: float = 21_000.0) -> None:
        """Buy 1, sell 1 ``minutes`` later for ``pnl`` (fees 1.00 a fill: net pnl - 2)."""
        point = 2.0 if contract == MNQ else 5.0
        self.fill(at, Side.BUY, price=price, contract=contract)
        self.fill(at + timedelta(minutes=minutes), Side.SELL, price=price + pnl / point, pnl=pnl, contract=contract)

    def payload(self) -> dict[str, Any]:
        return {"success": True, "errorCode": 0, "errorMessage": None, "trades": [
            {"id": t.id, "accountId": t.account_id, "contractId": t.contract_id,
             "creationTimestamp": t.time.isoformat(), "price": t.price, "profitAndLoss": t.pnl,
             "fees": t.fees, "side": int(t.side), "size": t.size, "voided": t.voided, "orderId": t.id}
            for t in self.trades]}
