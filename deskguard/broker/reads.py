"""REST reads, parsed tolerantly: accounts, open positions, working orders, the week's trades, and
the ``Resync`` snapshot made of them.

Each read is one ``Session.post`` (at the context's priority: ``enforcement_priority`` lets the
enforcer's verification reads go first); a malformed item in a reply is skipped with a rate-limited
warning, an item of another account is dropped. The adapter answers ``open_positions``,
``open_orders`` and ``resync`` from here; the supervisor reads its Resyncs and reconciles from here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ..engine.events import Resync
from ..engine.models import Account, Order, Position, Trade
from . import parsing
from .base import BrokerError
from .session import Session

log = logging.getLogger(__name__)


class RestReads:
    """Args:
    session: the gateway session the reads are posted through.
    week_start: returns the start of the current trading week (aware); a Resync's trades are
        read from it.
    """

    def __init__(self, session: Session, week_start: Callable[[], datetime]) -> None:
        self._session = session
        self._week_start = week_start
        #: The accounts last read from ``Account/search`` (``connect`` fills it with the active ones).
        self.accounts: dict[int, Account] = {}
        self._skipped = parsing.SkipLog(log)

    async def search_accounts(self, only_active: bool) -> list[Account]:
        reply = await self._session.post(
            "/Account/search", {"onlyActiveAccounts": only_active}, what="Account/search", mutating=False
        )
        accounts: list[Account] = []
        raw = reply.get("accounts")
        for item in raw if isinstance(raw, list) else []:
            for payload in parsing.unwrap(item):
                try:
                    accounts.append(parsing.parse_account(payload))
                except parsing.PayloadError as exc:
                    self._skipped.warn("rest-account", "skipped an account in Account/search: %s", exc)
        return accounts

    async def account(self, account_id: int, active: list[Account] | None = None) -> Account:
        """The account from ``Account/search`` (``active``: an answer already read)."""
        for only_active in (True, False):
            if only_active and active is not None:
                accounts = active
            else:
                accounts = await self.search_accounts(only_active)
            for account in accounts:
                if account.id == account_id:
                    self.accounts[account_id] = account
                    return account
        raise BrokerError(f"Account/search: account {account_id} not found")

    async def open_positions(self, account_id: int) -> list[Position]:
        positions = await self._search_open(account_id, "Position", "positions", parsing.parse_position)
        return [p for p in positions if p.size > 0]

    async def open_orders(self, account_id: int) -> list[Order]:
        return await self._search_open(account_id, "Order", "orders", parsing.parse_order)

    async def open_positions_and_orders(self, account_id: int) -> tuple[list[Position], list[Order]]:
        positions, orders = await asyncio.gather(self.open_positions(account_id), self.open_orders(account_id))
        return positions, orders

    async def _search_open(self, account_id: int, area: str, key: str, parse: Any) -> list[Any]:
        """``<area>/searchOpen`` for one account, parsed tolerantly: a malformed item is skipped."""
        endpoint = f"{area}/searchOpen"
        reply = await self._session.post(f"/{endpoint}", {"accountId": account_id},
                                         what=f"{endpoint} account {account_id}", mutating=False)
        out: list[Any] = []
        for payload in _items(reply, key):
            try:
                item = parse(payload)
            except parsing.PayloadError as exc:
                self._skipped.warn(f"rest-{area.lower()}", "skipped an item in %s: %s", endpoint, exc)
                continue
            if item.account_id == account_id:
                out.append(item)
        return out

    async def trades_since(self, account_id: int, start: datetime) -> list[Trade]:
        end = datetime.now(UTC) + timedelta(minutes=10)
        reply = await self._session.post(
            "/Trade/search",
            {"accountId": account_id, "startTimestamp": start.isoformat(), "endTimestamp": end.isoformat()},
            what=f"Trade/search account {account_id}",
            mutating=False,
        )
        out: list[Trade] = []
        for payload in _items(reply, "trades"):
            try:
                trade = parsing.parse_trade(payload)
            except parsing.PayloadError as exc:
                self._skipped.warn("rest-trade", "skipped a trade in Trade/search: %s", exc)
                continue
            if trade.account_id == account_id:
                out.append(trade)
        out.sort(key=lambda t: (t.time, t.id))
        return out

    async def raw_trades(self, account_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """The account's trades in [start, end] as the gateway's ``Trade/search`` records (the Rules
        lab replays them; one trading day per call so a long range never asks for an unbounded answer)."""
        reply = await self._session.post(
            "/Trade/search",
            {"accountId": account_id, "startTimestamp": start.isoformat(), "endTimestamp": end.isoformat()},
            what=f"Trade/search account {account_id}",
            mutating=False,
        )
        return [t for t in _items(reply, "trades") if t.get("accountId") in (None, account_id)]

    async def minute_bars(self, contract_id: str, start: datetime, end: datetime,
                          limit: int = 20_000) -> list[dict[str, Any]]:
        """One-minute bars (``unit`` 2, ``unitNumber`` 1) of a contract opening in [start, end), as
        ``History/retrieveBars`` gives them; the session paces ``History/*`` within its own budget."""
        reply = await self._session.post(
            "/History/retrieveBars",
            {"contractId": contract_id, "live": False, "startTime": start.isoformat(), "endTime": end.isoformat(),
             "unit": 2, "unitNumber": 1, "limit": limit, "includePartialBar": False},
            what=f"History/retrieveBars {contract_id}",
            mutating=False,
        )
        bars = reply.get("bars")
        return [b for b in bars if isinstance(b, dict)] if isinstance(bars, list) else []

    async def resync(self, account_id: int, active: list[Account] | None = None) -> Resync:
        """The account, its open positions, working orders and the trading week's trades (from the
        Sunday reset, so weekly figures include days the app did not run)."""
        start = self._week_start()
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        account, positions, orders, trades = await asyncio.gather(
            self.account(account_id, active),
            self.open_positions(account_id),
            self.open_orders(account_id),
            self.trades_since(account_id, start),
        )
        return Resync(account=account, positions=tuple(positions), orders=tuple(orders), trades=tuple(trades),
                      trades_since=start)

    async def resyncs(self, account_ids: list[int]) -> list[Resync | BaseException]:
        """One Resync per account, read together (one ``Account/search`` for all); a failed read
        is its exception, in its place."""
        try:
            active: list[Account] | None = await self.search_accounts(only_active=True)
        except BrokerError:
            active = None  # each account's read tries again
        return await asyncio.gather(*(self.resync(a, active) for a in account_ids), return_exceptions=True)


def _items(reply: dict[str, Any], key: str) -> list[dict[str, Any]]:
    raw = reply.get(key)
    out: list[dict[str, Any]] = []
    for item in raw if isinstance(raw, list) else []:
        out.extend(parsing.unwrap(item))
    return out
