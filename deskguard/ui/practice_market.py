"""Demo only: the practice ticket's market controls, on the built-in simulator's control API.

Without them a newcomer who buys 3 MNQ can only wait for the random walk to lose $500 before the
daily loss rule shows what it does. With them: "Drop 100 pts" (3 MNQ × 100 points × $2 = $600, past
the default $500 limit), or "move to a loss of $X on the open position".

The control client is blocking (urllib): every call runs in a worker thread, so the Qt loop (and the
guard running on it, and the simulator when it runs in this process) never waits on it.
"""

from __future__ import annotations

import asyncio
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

LONG, SHORT = 1, 2  # the gateway's position types


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """One open position as the simulator holds it, with the contract's tick figures."""

    contract_id: str
    long: bool
    size: int
    average_price: float
    tick_size: float
    tick_value: float

    @property
    def point_value(self) -> float:
        """Dollars per point per contract (MNQ: $0.50 a 0.25 tick = $2 a point)."""
        return self.tick_value / self.tick_size


def price_for_open_loss(pos: OpenPosition, loss: float) -> float:
    """The price at which ``pos`` shows an open loss of at least ``loss`` dollars, on the tick grid
    (rounded away from the entry, so the loss reached is never short of the one asked for)."""
    points = abs(loss) / (pos.size * pos.point_value)
    ticks = math.ceil(round(points / pos.tick_size, 9))
    move = ticks * pos.tick_size
    price = pos.average_price - move if pos.long else pos.average_price + move
    return round(max(pos.tick_size, price), 10)


def loss_of_move(pos: OpenPosition, points: float) -> float:
    """What a move of ``points`` (negative: down) does to ``pos``, in dollars (negative: a loss)."""
    direction = 1 if pos.long else -1
    return direction * points * pos.size * pos.point_value


class SimulatorMarket:
    """Moves the simulator's prices for the practice ticket (``deskguard.ui.port.PracticeMarket``)."""

    def __init__(self, base_url: str, *, control: Any = None) -> None:
        if control is None:
            from ..simulator.client import SimulatorControl

            control = SimulatorControl(base_url)
        self.control = control
        # A plain Python worker of its own (not the loop's default executor, a QThread pool under
        # qasync): one at a time, so two quick clicks move the price in the order they were made.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="practice-market")

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    # -- blocking calls, each run in a thread -------------------------------------------------

    def _price_now(self, symbol: str) -> float:
        return float(self.control.step_walk(symbol, 0))  # zero steps: the price as it is

    def _move_by(self, symbol: str, points: float) -> float:
        return float(self.control.set_price(symbol, self._price_now(symbol) + points))

    def _position(self, account_id: int, symbol: str) -> OpenPosition | None:
        contract = self.control.contract(symbol)
        found = next((p for p in self.control.state(["positions"])["positions"]
                      if p["accountId"] == account_id and p["contractId"] == contract["id"]), None)
        if found is None:
            return None
        return OpenPosition(contract["id"], found["type"] == LONG, int(found["size"]), float(found["averagePrice"]),
                            float(contract["tickSize"]), float(contract["tickValue"]))

    def _move_to_loss(self, account_id: int, symbol: str, loss: float) -> float:
        pos = self._position(account_id, symbol)
        if pos is None:
            raise LookupError(f"no open {symbol} position: buy or sell first")
        return float(self.control.set_price(symbol, price_for_open_loss(pos, loss)))

    # -- what the ticket awaits ---------------------------------------------------------------

    async def price(self, symbol: str) -> float:
        return float(await self._in_thread(self._price_now, symbol))

    async def move_price(self, symbol: str, points: float) -> float:
        """Move ``symbol``'s last price by ``points`` (negative: down); returns the new price."""
        return float(await self._in_thread(self._move_by, symbol, points))

    async def move_to_open_loss(self, account_id: int, symbol: str, loss: float) -> float:
        """Set the price where the account's open ``symbol`` position loses ``loss`` dollars."""
        return float(await self._in_thread(self._move_to_loss, account_id, symbol, loss))

    async def position(self, account_id: int, symbol: str) -> OpenPosition | None:
        found: OpenPosition | None = await self._in_thread(self._position, account_id, symbol)
        return found
