"""Reading the past for the Rules lab: ``Trade/search`` over a range, ``History/retrieveBars``.

Both go through the broker's REST plumbing (``ProjectXBroker._post``): the same SDK client, the same
``RequestBudget`` at routine priority (``History/*`` also within its own 50 per 30 s), the same
error mapping. The replay reads one trading day per request, so a long range never asks the
gateway for an unbounded answer and the caller can show progress between days.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .projectx import ProjectXBroker

#: One-minute bars (``unit`` 2 = minute, ``unitNumber`` 1).
MINUTE_UNIT = 2


async def search_trades(broker: ProjectXBroker, account_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The account's trades in [start, end), as the gateway's ``Trade/search`` records."""
    reply = await broker._post(
        "/Trade/search",
        {"accountId": account_id, "startTimestamp": start.isoformat(), "endTimestamp": end.isoformat()},
        what=f"Trade/search account {account_id}",
        mutating=False,
    )
    return [t for t in broker._items(reply, "trades") if t.get("accountId") in (None, account_id)]


async def retrieve_bars(broker: ProjectXBroker, contract_id: str, start: datetime, end: datetime,
                        limit: int = 20_000) -> list[dict[str, Any]]:
    """One-minute bars of a contract opening in [start, end), as ``History/retrieveBars`` gives them."""
    reply = await broker._post(
        "/History/retrieveBars",
        {"contractId": contract_id, "live": False, "startTime": start.isoformat(), "endTime": end.isoformat(),
         "unit": MINUTE_UNIT, "unitNumber": 1, "limit": limit, "includePartialBar": False},
        what=f"History/retrieveBars {contract_id}",
        mutating=False,
    )
    bars = reply.get("bars")
    return [b for b in bars if isinstance(b, dict)] if isinstance(bars, list) else []
