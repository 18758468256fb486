"""The broker boundary: what the guardian may ask of a broker, and what a broker tells it.

The adapter never decides anything: it turns gateway payloads into engine events and carries out
single, explicit actions. Retrying, verifying and flattening are the guardian's job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from ..engine.events import Event, Resync
from ..engine.models import Account, ContractSpec, Order, Position


class BrokerError(Exception):
    """A broker call failed or its outcome is unknown (reconcile by reading, never by repeating blindly)."""


class AuthenticationError(BrokerError):
    """The credentials were refused (exit code 3)."""


class GatewayUnreachable(BrokerError):
    """No answer from the gateway at all (no network, wrong URL, firewall), as opposed to an error
    the gateway answered with. The sign-in dialog tells the two apart."""


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

    async def resync(self, account_id: int) -> Resync:
        """Read the account, its open positions, working orders and the trading day's trades."""
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

    async def place_stop(self, account_id: int, contract_id: str, side: int, size: int, stop_price: float) -> int: ...

    async def modify_stop(self, account_id: int, order_id: int, stop_price: float) -> None: ...
