"""The broker boundary: what the guardian may ask of a broker, and what a broker tells it.

The adapter never decides anything: it turns gateway payloads into engine events and carries out
single, explicit actions. Retrying, verifying and flattening are the guardian's job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from ..engine.events import Event, Resync
from ..engine.models import Account, ContractSpec, Order, Position
from .budget import Priority


class BrokerError(Exception):
    """A broker call failed or its outcome is unknown (reconcile by reading, never by repeating blindly)."""


class RateLimited(BrokerError):
    """The gateway answered HTTP 429: it did not carry the call out. A signal to back off (the
    broker's request budget already pauses), never a failure to report."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # the gateway's Retry-After in seconds, if it named one


class Refused(BrokerError):
    """The gateway answered and refused the call (HTTP 200, ``success: false``, an errorCode):
    a definite no, not worth retrying in a tight loop."""

    def __init__(self, message: str, error_code: int | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code


class AuthenticationError(BrokerError):
    """The credentials were refused (exit code 3)."""


class GatewayUnreachable(BrokerError):
    """No answer from the gateway at all (no network, wrong URL, firewall), as opposed to an error
    the gateway answered with. The sign-in dialog tells the two apart."""


#: The priority of the broker calls made in this context (asyncio tasks inherit it). Actions
#: (close, partial close, cancel, place, modify) are ENFORCEMENT whatever it says.
REQUEST_PRIORITY: ContextVar[Priority] = ContextVar("deskguard_request_priority", default=Priority.ROUTINE)


def current_priority() -> Priority:
    return REQUEST_PRIORITY.get()


@contextmanager
def enforcement_priority() -> Iterator[None]:
    """Broker calls made inside (reads included, e.g. the enforcer's verification reads) go first
    and may use the request budget's reserve::

        with enforcement_priority():
            await broker.close_position(account_id, contract_id)
            positions = await broker.open_positions(account_id)
    """
    token = REQUEST_PRIORITY.set(Priority.ENFORCEMENT)
    try:
        yield
    finally:
        REQUEST_PRIORITY.reset(token)


class HubState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


@dataclass(slots=True)
class ConnectionHealth:
    """Health of the two SignalR hubs, separately: quotes can flow while the user hub is dead."""

    user_hub: HubState = HubState.CONNECTING
    market_hub: HubState = HubState.CONNECTING
    last_user_event: float | None = None  # time.monotonic() of the last user-hub message
    last_market_event: float | None = None
    detail: str = ""
    reconnects: int = 0

    @property
    def guarding(self) -> bool:
        """Enforcement needs the user hub; without quotes only the open-P&L rules are blind."""
        return self.user_hub == HubState.CONNECTED


@dataclass(slots=True)
class BrokerListener:
    """Callbacks a broker calls from its event handlers. They must return at once (O(1))."""

    on_event: Callable[[Event], None]
    on_health: Callable[[ConnectionHealth], None] = field(default=lambda h: None)


class Broker(Protocol):
    health: ConnectionHealth

    async def connect(self) -> list[Account]:
        """Authenticate and list the active accounts. Raises AuthenticationError or BrokerError."""
        ...

    async def start(self, account_ids: list[int], symbols: list[str], listener: BrokerListener) -> None:
        """Subscribe to the accounts' user events and the symbols' quotes, emit one Resync per
        account, and keep watching: after every reconnect emit a fresh Resync per account."""
        ...

    async def stop(self) -> None: ...

    def request_resync(self, account_id: int) -> None:
        """Read the account again soon and deliver the Resync through the listener, with the
        events that arrive during the read replayed after it."""
        ...

    async def resync(self, account_id: int) -> Resync:
        """Read the account, its open positions, working orders and the trading week's trades
        (from the Sunday reset)."""
        ...

    async def contract_specs(self, contract_ids: list[str]) -> list[ContractSpec]: ...

    async def watch_contract(self, contract_id: str) -> None:
        """Stream quotes for a contract (an open position's symbol not in the instruments list)."""
        ...

    async def open_positions(self, account_id: int) -> list[Position]: ...

    async def open_orders(self, account_id: int) -> list[Order]: ...

    async def close_position(self, account_id: int, contract_id: str) -> None: ...

    async def partial_close(self, account_id: int, contract_id: str, size: int) -> None:
        """Close ``size`` contracts of the position."""
        ...

    async def cancel_order(self, account_id: int, order_id: int) -> None: ...

    async def place_stop(self, account_id: int, contract_id: str, side: int, size: int, stop_price: float,
                         tag: str | None = None) -> int:
        """A stop order; ``tag`` is sent as the gateway's ``customTag`` (the app's own stops, rule 018)."""
        ...

    async def modify_stop(self, account_id: int, order_id: int, stop_price: float, size: int | None = None) -> None: ...
