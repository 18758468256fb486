"""The hub stream: SignalR callbacks in, engine events out to the guardian's ``BrokerListener``.

Where to look:

- The raw callbacks the realtime client calls: ``HubStream.on_user_raw`` (account, position,
  order and trade updates) and ``HubStream.on_quote_raw``. Each unwraps the payload
  (``parsing.unwrap``; no copy: it is parsed before the callback returns to the SDK, which may
  change its dicts afterwards), parses it tolerantly (a bad one is skipped with a rate-limited warning)
  and never awaits anything, so it can never deadlock the SDK or block its reader.
- Hub events are de-duplicated in ``HubStream.deliver``, against the ``parsing.Deduplicator``
  (whose baseline is each Resync the adapter emits); an unchanged quote is dropped in
  ``on_quote_raw``.
- While an account is being re-read (a Resync after a reconnect, or ``request_resync``), its hub
  events are held (``HubStream.hold``) and replayed on top of the snapshot (``HubStream.release``),
  so a read that started before an update never overrides it.
- Delivery to the listener (``emit``, ``emit_health``): a listener that raises is logged, never
  propagated into the SDK.

When the events are re-read (scheduling, retries) is the supervisor's job (``supervisor.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from ..engine.events import AccountUpdated, Event, OrderUpdated, PositionUpdated, QuoteUpdated, Resync, TradeFilled
from ..engine.models import Quote
from . import parsing
from .base import BrokerListener, ConnectionHealth
from .contracts import ContractBook

log = logging.getLogger(__name__)


class HubStream:
    """Payloads from the hubs to events for the listener, for the guarded accounts only.

    Args:
        health: the broker's ``ConnectionHealth``; the stream stamps its last-event times.
        contracts: the broker's ``ContractBook`` (which contract a quote is for).
        on_quote: called with the contract id of every well-formed quote (the supervisor's
            market-silence watch counts them).
    """

    def __init__(
        self, health: ConnectionHealth, contracts: ContractBook, on_quote: Callable[[str], None] = lambda c: None
    ) -> None:
        self.health = health
        self.contracts = contracts
        self.on_quote = on_quote
        self.account_ids: list[int] = []
        self.listener: BrokerListener | None = None
        self.stopping = False
        self._quotes: dict[str, Quote] = {}
        self._dedupe = parsing.Deduplicator()
        self._held: dict[int, list[Event]] = {}  # account being re-read -> its hub events meanwhile
        self._skipped = parsing.SkipLog(log)

    def guard(self, account_ids: list[int], listener: BrokerListener) -> None:
        """Deliver these accounts' events (and quotes) to ``listener`` from now on."""
        self.account_ids = list(account_ids)
        self.listener = listener
        self.stopping = False

    def stop(self) -> None:
        """Deliver nothing more (callbacks of a client being torn down are ignored)."""
        self.stopping = True

    # ------------------------------------------------------------------ user hub (never await)

    def on_user_raw(self, kind: str, data: Any) -> None:
        """A raw user-hub callback (``kind``: account, position, order, trade): unwrap,
        parse tolerantly, hand on. O(1), no awaits."""
        if self.stopping:
            return
        self.health.last_user_event = time.monotonic()
        try:
            payloads = parsing.unwrap(data, copy=False)  # parsed before this returns to the SDK
            if not payloads:
                self._skipped.warn(f"hub-{kind}-shape", "skipped a %s update that is not an object", kind)
                return
            for payload in payloads:
                try:
                    event = self._parse_user(kind, payload)
                except parsing.PayloadError as exc:
                    self._skipped.warn(f"hub-{kind}", "skipped a malformed %s update: %s", kind, exc)
                    continue
                if event is not None:
                    self.deliver(event)
        except Exception:  # never let anything escape into the SDK
            log.exception("unexpected error handling a %s update", kind)

    def _parse_user(self, kind: str, payload: dict[str, Any]) -> Event | None:
        if kind == "account":
            account = parsing.parse_account(payload)
            return AccountUpdated(account) if account.id in self.account_ids else None
        if kind == "position":
            account_id = parsing.req_int(payload, "accountId")
            if account_id not in self.account_ids:
                return None
            previous = self._dedupe.previous_position_type(account_id, str(payload.get("contractId") or ""))
            return PositionUpdated(parsing.parse_position(payload, previous))
        if kind == "order":
            order = parsing.parse_order(payload)
            return OrderUpdated(order) if order.account_id in self.account_ids else None
        if kind == "trade":
            trade = parsing.parse_trade(payload)
            return TradeFilled(trade) if trade.account_id in self.account_ids else None
        return None

    # ------------------------------------------------------------------ market hub (never await)

    def on_quote_raw(self, data: Any) -> None:
        """A raw market-hub quote callback (``{"contract_id": …, "data": …}``): an unchanged quote
        is dropped, a changed one delivered."""
        if self.stopping:
            return
        self.health.last_market_event = time.monotonic()
        try:
            if not isinstance(data, Mapping):
                self._skipped.warn("hub-quote-shape", "skipped a quote that is not an object")
                return
            for payload in parsing.unwrap(data.get("data"), copy=False):  # parsed before returning
                contract_id = self.contracts.contract_of_quote(data.get("contract_id"), payload)
                if contract_id is None:
                    self._skipped.warn("hub-quote-contract", "skipped a quote for an unknown contract")
                    continue
                try:
                    quote = parsing.parse_quote(
                        contract_id, payload, self._quotes.get(contract_id), datetime.now(UTC)
                    )
                except parsing.PayloadError as exc:
                    self._skipped.warn("hub-quote", "skipped a malformed quote for %s: %s", contract_id, exc)
                    continue
                self.on_quote(contract_id)
                if self._quotes.get(contract_id) == quote:
                    continue
                self._quotes[contract_id] = quote
                self.emit(QuoteUpdated(quote))
        except Exception:
            log.exception("unexpected error handling a quote")

    # ------------------------------------------------------------------ de-duplication and delivery

    def deliver(self, event: Event) -> None:
        """De-duplicate and emit; while the event's account is being re-read, hold it back."""
        account_id = getattr(event, "account_id", None)
        if account_id is not None and account_id in self._held:
            self._held[account_id].append(event)
            return
        if isinstance(event, PositionUpdated):
            fresh = self._dedupe.position_is_new(event.position)
        elif isinstance(event, OrderUpdated):
            fresh = self._dedupe.order_is_new(event.order)
        elif isinstance(event, TradeFilled):
            fresh = self._dedupe.trade_is_new(event.trade)
        elif isinstance(event, AccountUpdated):
            fresh = self._dedupe.account_is_new(event.account)
        else:
            fresh = True
        if fresh:
            self.emit(event)

    def hold(self, account_ids: list[int]) -> None:
        """These accounts are being re-read: hold their hub events until ``release``."""
        for account_id in account_ids:
            self._held.setdefault(account_id, [])

    @property
    def holding(self) -> bool:
        """Some account is being re-read."""
        return bool(self._held)

    def release(self, account_id: int, resync: Resync | None) -> None:
        """The read is over: emit its Resync (when it succeeded; it becomes the de-duplication
        baseline), then replay the events held meanwhile on top of it."""
        held = self._held.pop(account_id, [])
        if resync is not None:
            self._dedupe.baseline(resync.account, resync.positions, resync.orders, resync.trades)
            self.emit(resync)
        for event in held:
            self.deliver(event)

    def emit(self, event: Event) -> None:
        listener = self.listener
        if listener is None or self.stopping:
            return
        try:
            listener.on_event(event)
        except Exception:
            log.exception("the broker listener failed on %s", type(event).__name__)

    def emit_health(self, health: ConnectionHealth) -> None:
        listener = self.listener
        if listener is None:
            return
        try:
            listener.on_health(health)
        except Exception:
            log.exception("the broker listener failed on a health update")

    # ------------------------------------------------------------------ what the hub said

    def hub_view(self, account_id: int) -> tuple[dict[str, tuple[Any, Any]], set[int]]:
        """What the user hub told us of an account: open positions (contract -> (type, size)) and
        working order ids. The supervisor compares it with REST to catch a silent hub."""
        positions = {c: (fp[0], fp[1]) for c, fp in self._dedupe.known_open_positions(account_id).items()}
        return positions, self._dedupe.known_working_orders(account_id)
