"""De-duplication of order events whose ``updateTimestamp`` is null.

The gateway sends ``updateTimestamp: null`` for an order never updated since its creation (its
documented order payloads and ``Order/searchOpen`` results), and the simulator now does the same.
``Deduplicator.order_is_new`` must then neither drop a genuine later update nor deliver a true
duplicate twice. The payloads here are the simulator book's own pushes, parsed as the broker
parses hub payloads (``parsing.parse_order``).

A null stamp ranks older than any stamp of the same order, so a late duplicate of the creation push
(a hub replay, or the copy each instrument's manager delivers) is stale, not news.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from deskguard.broker import parsing
from deskguard.engine.models import Order, OrderStatus
from deskguard.simulator.book import Account, Book
from deskguard.simulator.contracts import ContractCatalog
from deskguard.simulator.enums import OrderSide, OrderType, UserEvent

CATALOG = ContractCatalog(date(2026, 11, 25))
MNQ = CATALOG.resolve("MNQ")
assert MNQ is not None


class Gateway:
    """The simulator's book, recording every GatewayUserOrder payload it publishes."""

    def __init__(self) -> None:
        self.prices = {MNQ.id: 21_000.0}
        self.pushes: list[dict[str, Any]] = []
        self.book = Book(
            [Account(1001, "A-1001")],
            lambda c: self.prices[c.id],
            lambda target, _, payload: self.pushes.append(dict(payload)) if target is UserEvent.ORDER else None,
        )

    def stop_order(self) -> int:
        result = self.book.place_order(1001, MNQ, OrderType.STOP, OrderSide.SELL, 1, stop_price=20_990.0)
        assert result.success and result.order_id is not None
        return result.order_id

    def search_open(self) -> list[Order]:
        """``Order/searchOpen`` as the broker parses it at a resync."""
        return [parsing.parse_order(o.to_api()) for o in self.book.working_orders(1001)]


def deliver(dedupe: parsing.Deduplicator, payloads: list[dict[str, Any]]) -> list[tuple[OrderStatus, bool]]:
    """Feed hub payloads in turn; the (status, delivered?) of each."""
    out = []
    for payload in payloads:
        order = parsing.parse_order(payload)
        out.append((order.status, dedupe.order_is_new(order)))
    return out


def test_the_simulator_sends_a_null_stamp_only_before_the_first_update() -> None:
    gateway = Gateway()
    order_id = gateway.stop_order()
    assert gateway.book.modify_order(1001, order_id, stop_price=20_995.0).success
    assert gateway.book.cancel_order(1001, order_id).success
    stamps = [p["updateTimestamp"] for p in gateway.pushes]
    assert stamps[0] is None and all(isinstance(s, str) for s in stamps[1:])
    assert parsing.parse_order(gateway.pushes[0]).updated_at is None


def test_genuine_updates_after_a_null_stamped_creation_are_all_delivered() -> None:
    gateway = Gateway()
    order_id = gateway.stop_order()
    assert gateway.book.modify_order(1001, order_id, stop_price=20_995.0).success
    assert gateway.book.modify_order(1001, order_id, size=2).success
    assert gateway.book.cancel_order(1001, order_id).success
    delivered = deliver(parsing.Deduplicator(), gateway.pushes)
    assert delivered == [
        (OrderStatus.OPEN, True),  # created, updateTimestamp null
        (OrderStatus.OPEN, True),  # stop moved
        (OrderStatus.OPEN, True),  # size changed
        (OrderStatus.CANCELLED, True),
    ]


def test_a_market_order_created_then_filled_is_delivered_twice_and_only_twice() -> None:
    gateway = Gateway()
    assert gateway.book.place_order(1001, MNQ, OrderType.MARKET, OrderSide.BUY, 1).success
    created, filled = gateway.pushes
    assert created["updateTimestamp"] is None and filled["updateTimestamp"] is not None
    dedupe = parsing.Deduplicator()
    # Each instrument's manager in the SDK delivers every account event: copies back to back.
    assert deliver(dedupe, [created, created, filled, filled]) == [
        (OrderStatus.OPEN, True),
        (OrderStatus.OPEN, False),
        (OrderStatus.FILLED, True),
        (OrderStatus.FILLED, False),
    ]


def test_a_resync_baseline_with_a_null_stamp_drops_its_repeat_and_keeps_the_update() -> None:
    gateway = Gateway()
    order_id = gateway.stop_order()
    dedupe = parsing.Deduplicator()
    account = parsing.parse_account(gateway.book.accounts[1001].to_api())
    (working,) = gateway.search_open()
    assert working.updated_at is None  # Order/searchOpen: never updated
    dedupe.baseline(account, [], [working], [])
    created = gateway.pushes[-1]
    assert gateway.book.modify_order(1001, order_id, stop_price=20_995.0).success
    assert deliver(dedupe, [created, gateway.pushes[-1]]) == [(OrderStatus.OPEN, False), (OrderStatus.OPEN, True)]


def test_a_late_duplicate_of_the_null_stamped_creation_is_not_delivered_again() -> None:
    gateway = Gateway()
    order_id = gateway.stop_order()
    assert gateway.book.cancel_order(1001, order_id).success
    created, cancelled = gateway.pushes
    dedupe = parsing.Deduplicator()
    assert deliver(dedupe, [created, cancelled]) == [(OrderStatus.OPEN, True), (OrderStatus.CANCELLED, True)]
    # The creation again (a replayed push): a true duplicate. Delivered, it would make a cancelled
    # stop look working again, i.e. a position look protected when it is not.
    assert deliver(dedupe, [created]) == [(OrderStatus.OPEN, False)]
    assert order_id not in dedupe.known_working_orders(1001)


def test_a_replayed_sequence_delivers_nothing_twice() -> None:
    gateway = Gateway()
    assert gateway.book.place_order(1001, MNQ, OrderType.MARKET, OrderSide.BUY, 1).success
    created, filled = gateway.pushes
    dedupe = parsing.Deduplicator()
    deliver(dedupe, [created, filled])
    # The gateway's last two order pushes sent again, oldest first (Simulator.replay_user_pushes).
    assert deliver(dedupe, [created, filled]) == [(OrderStatus.OPEN, False), (OrderStatus.FILLED, False)]


def test_a_null_stamped_creation_arriving_after_a_resync_that_saw_an_update_is_stale() -> None:
    gateway = Gateway()
    order_id = gateway.stop_order()
    created = gateway.pushes[-1]
    assert gateway.book.modify_order(1001, order_id, stop_price=20_995.0).success
    dedupe = parsing.Deduplicator()
    account = parsing.parse_account(gateway.book.accounts[1001].to_api())
    (working,) = gateway.search_open()
    assert working.updated_at is not None and working.stop_price == 20_995.0
    dedupe.baseline(account, [], [working], [])
    # The creation push, delayed past the resync: older than what the resync said.
    assert deliver(dedupe, [created]) == [(OrderStatus.OPEN, False)]
