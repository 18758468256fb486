"""The enforcer: carries out the engine's decisions against the broker, and checks they worked.

Broker calls go out first, bookkeeping after, so disk latency never delays a close. Every call is
retried with backoff (bounded), every try is audited, and a flatten is verified by reading the
broker's positions and orders again — an uncertain result is reconciled by reading, never by blind
repetition. A reduce or a close the gateway accepted is confirmed by the hub's position update that
follows it (``position_seen``, called by the guardian once the engine has applied the update); only
when none comes within ``HUB_CONFIRM_S``, or it shows the position still over the limit (still
open), are the positions read (``Position/searchOpen``). The usual breach so costs one request, not
two: half the gateway's budget, and a quarter less CPU on the way to the next breach. (A flatten is
still verified by reading, as the rule book says.)

At most one flatten runs per account; decisions that arrive meanwhile are absorbed — and once
nothing is in flight for the account any more, the enforcer says so (``on_idle``) so the guardian
re-evaluates it: a position opened after the flatten's last read is not forgotten.

When a call fails but the read shows there was nothing to act on (a position already gone, an order
no longer working), the decision came from a stale picture — e.g. hub events that arrived out of
order. The enforcer then says so (``on_stale``), and the guardian re-syncs the account from the broker,
rather than acting on the phantom again at every quote.

A call the gateway refuses outright (``Refused``) is not retried in a tight loop: the cycle ends
after one read that confirms the refusal, and the same enforcement (account, action, target) is
not tried again before a pause that doubles with every failed cycle, capped at 30 s
(``retry_delay``), so a stuck position takes a small share of the gateway's request budget. A 429
(``RateLimited``) is the budget's signal to wait, never a failure. Every call runs at the broker's
enforcement priority: ahead of routine reads, polls and reconciles.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..broker.base import Broker, BrokerError, RateLimited, Refused, enforcement_priority
from ..engine.decisions import ENFORCEMENT_ACTIONS, STOP_ACTIONS, Action, Decision
from ..engine.instruments import symbol_of
from ..engine.models import SAFETY_NET_TAG
from ..engine.state import AccountState

log = logging.getLogger(__name__)

#: Waits between tries of one broker call (so a call is tried len+1 times).
CALL_BACKOFF = (0.05, 0.2, 0.5, 1.0)
#: How long an accepted reduce or close waits for the hub's position update to confirm it before
#: it reads the positions instead: a late or lost update costs this long and one read, never the
#: enforcement. (The update follows the fill's trade push at once in the simulator.)
HUB_CONFIRM_S = 1.0
#: Rounds of a flatten (cancel, close, verify) before the account is declared not flat.
FLATTEN_ROUNDS = 5
ROUND_PAUSE = 0.25
#: A reduce's cuts (a close's closes) that the gateway accepted but whose read-back found the
#: position over the limit (open) again, the trader adding as fast as the guard cuts: they are not
#: failed rounds, but after this many it is judged failed all the same (a gateway that says yes and
#: never cuts).
ACCEPTED_CUTS = 10
#: The outcome detail of an enforcement that found nothing left to do (audited, not announced).
NOTHING_TO_DO = "nothing left to do"
#: Pauses before trying a failed enforcement again: FIRST_RETRY_S doubling per failed cycle, capped.
FIRST_RETRY_S = 0.5
MAX_RETRY_S = 30.0
#: How long one call may keep waiting out 429s before it counts as failed (the budget paces it).
RATE_LIMITED_FOR_S = 30.0


class CallResult(NamedTuple):
    ok: bool
    value: Any
    error: str
    refused: bool = False  # the gateway said no outright (not a time-out, not a 5xx)


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One broker call of an enforcement, for the audit log."""

    account_id: int
    rule: str
    call: str
    target: str
    ok: bool
    latency_ms: float
    attempt: int
    error: str = ""


@dataclass(slots=True)
class EnforcerListener:
    """What the enforcer tells its owner (the guardian), like the broker's ``BrokerListener``.
    Called on the event loop; each must return at once."""

    #: Every try of every broker call, for the audit log.
    on_call: Callable[[CallRecord], None]
    #: (account, decision, succeeded, detail) once a decision is finished.
    on_outcome: Callable[[int, Decision, bool, str], None]
    #: (account): the broker had nothing where the decision saw something — read it again.
    on_stale: Callable[[int], None] = field(default=lambda account_id: None)
    #: (account): nothing in flight any more, and decisions were absorbed meanwhile — evaluate again.
    on_idle: Callable[[int], None] = field(default=lambda account_id: None)
    #: (decision, order id): a tagged safety-net stop the gateway accepted (rule 018).
    on_placed: Callable[[Decision, int], None] = field(default=lambda decision, order_id: None)
    #: (account): its last enforcement in flight ended (the account's status may change).
    on_settled: Callable[[int], None] = field(default=lambda account_id: None)


class Enforcer:
    def __init__(
        self,
        broker: Broker,
        state_of: Callable[[int], AccountState],
        listener: EnforcerListener,
        backoff: tuple[float, ...] = CALL_BACKOFF,
        rounds: int = FLATTEN_ROUNDS,
        hub_confirm_s: float = HUB_CONFIRM_S,
    ) -> None:
        self.broker = broker
        self.hub_confirm_s = hub_confirm_s  # 0: always read back
        # account -> (contract, future of its size) of each reduce or close awaiting the hub's word
        self._awaiting: dict[int, list[tuple[str, asyncio.Future[int]]]] = {}
        self.state_of = state_of
        self.listener = listener
        self._absorbed: set[int] = set()
        self.backoff = backoff
        self.rounds = rounds
        self._flattening: dict[int, asyncio.Task] = {}
        self._busy: dict[tuple[int, str, str], asyncio.Task] = {}  # (account, action, target)
        self._tasks: set[asyncio.Task] = set()
        self._strikes: dict[tuple[int, str, str], tuple[int, float]] = {}  # key -> (failed cycles, not before)
        self._next: dict[tuple[int, str, str], Decision] = {}  # a reduce waiting for its key's task

    # ----- submitting ------------------------------------------------------------------------

    @staticmethod
    def _key(d: Decision) -> tuple[int, str, str]:
        target = d.contract_id or "*"
        if d.action in STOP_ACTIONS:  # 012's and 018's stops of one contract are different orders
            target = f"{target}/{d.rule}/{d.order_id if d.action == Action.CANCEL_STOP else ''}"
        return (d.account_id, d.action.value, target)

    def retry_delay(self, d: Decision) -> float:
        """How long to wait before this enforcement may run again (0 unless its last cycles failed)."""
        strikes = self._strikes.get(self._key(d))
        return 0.0 if strikes is None else max(0.0, strikes[1] - time.monotonic())

    def _outcome(self, d: Decision, ok: bool, detail: str) -> None:
        """Every decision ends here: a failed cycle makes the next one wait longer."""
        key = self._key(d)
        if ok:
            self._strikes.pop(key, None)
        else:
            n = self._strikes.get(key, (0, 0.0))[0] + 1
            self._strikes[key] = (n, time.monotonic() + min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** (n - 1)))
        self.listener.on_outcome(d.account_id, d, ok, detail)

    def in_flight(self, account_id: int) -> bool:
        return account_id in self._flattening or any(k[0] == account_id for k in self._busy)

    def submit(self, decision: Decision) -> bool:
        """Start carrying out a decision; False when it is already covered by one in flight."""
        acct = decision.account_id
        if self.retry_delay(decision) > 0:
            return False  # failed recently: the guardian reads and decides again after the pause
        if decision.action == Action.FLATTEN:
            if acct in self._flattening:
                self._absorbed.add(acct)
                return False
            task = self._spawn(self._flatten(decision))
            self._flattening[acct] = task
            task.add_done_callback(lambda _t: self._finished(acct, self._flattening.pop(acct, None)))
            return True
        if acct in self._flattening and decision.action in ENFORCEMENT_ACTIONS | STOP_ACTIONS:
            self._absorbed.add(acct)
            return False  # the flatten in flight covers it (and cancels every stop: none is placed meanwhile)
        key = self._key(decision)
        if key in self._busy:
            if decision.action == Action.REDUCE_POSITION:
                # The same limit breached again while the last reduce still verifies: it runs
                # right after that one, from a fresh read of the positions (not a re-read of the
                # whole account, which takes the week's trades and hundreds of ms on a busy PC).
                self._next[key] = decision
                return False
            self._absorbed.add(acct)
            return False
        runner = {
            Action.CLOSE_POSITION: self._close,
            Action.REDUCE_POSITION: self._reduce,
            Action.CANCEL_ORDERS: self._cancel,
            Action.PLACE_STOP: self._place_stop,
            Action.MOVE_STOP: self._move_stop,
            Action.CANCEL_STOP: self._cancel_stop,
        }.get(decision.action)
        if runner is None:
            return False
        self._start(key, runner(decision))
        return True

    def _start(self, key: tuple[int, str, str], coro: Awaitable) -> None:
        task = self._spawn(coro)
        self._busy[key] = task
        task.add_done_callback(lambda _t: self._finished(key[0], self._busy.pop(key, None), key))

    def _finished(self, acct: int, _task: object, key: tuple[int, str, str] | None = None) -> None:
        """An enforcement ended: a reduce waiting for it starts now (reading first); else, once
        nothing runs for the account, its status is settled and, if it absorbed decisions, it is
        evaluated again (what it absorbed may have come after its last read)."""
        follow_up = self._next.pop(key, None) if key is not None else None
        if follow_up is not None and key is not None:
            if self.retry_delay(follow_up) > 0 or acct in self._flattening:
                self._absorbed.add(acct)  # not now: read and decide again once idle
            else:
                self._start(key, self._reduce(follow_up, read_first=True))
        if self.in_flight(acct):
            return
        self.listener.on_settled(acct)
        if acct in self._absorbed:
            self._absorbed.discard(acct)
            self.listener.on_idle(acct)

    def _spawn(self, coro: Awaitable) -> asyncio.Task:
        task = asyncio.ensure_future(_at_enforcement_priority(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for every enforcement in flight (shutdown, tests)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def cancel_all(self) -> None:
        self._next.clear()  # nothing waiting starts while stopping
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # ----- the hub's word on a position ---------------------------------------------------------

    def position_seen(self, account_id: int, contract_id: str | None = None) -> None:
        """The engine has applied the hub's update of this position (None: a re-read of the
        account's positions): a reduce or close awaiting its word gets the size it now has."""
        awaiting = self._awaiting.get(account_id)
        if not awaiting:
            return
        positions = self.state_of(account_id).positions
        for contract, size in awaiting:
            if (contract_id is None or contract == contract_id) and not size.done():
                position = positions.get(contract)
                size.set_result(position.size if position is not None else 0)

    @contextlib.contextmanager
    def _hub_word(self, account_id: int, contract_id: str) -> Iterator[asyncio.Future[int]]:
        """The size of the next update of this position the engine applies, from now on. Set up
        before the call leaves, as the hub's update may come before the call's answer; an update
        applied while the call is retried counts too (a size within the limit is within it,
        whoever cut it; one over it is read again)."""
        entry = (contract_id, asyncio.get_running_loop().create_future())
        self._awaiting.setdefault(account_id, []).append(entry)
        try:
            yield entry[1]
        finally:
            awaiting = self._awaiting[account_id]
            awaiting.remove(entry)
            if not awaiting:
                del self._awaiting[account_id]

    async def _confirmed(self, size: asyncio.Future[int], accepted: bool) -> int | None:
        """The size the hub reported after an accepted call, or None: the call was not accepted, or
        no update came within ``hub_confirm_s`` (then the positions are read)."""
        if not accepted or self.hub_confirm_s <= 0:
            return None
        try:
            async with asyncio.timeout(self.hub_confirm_s):
                return await size
        except TimeoutError:
            return None

    # ----- one broker call, retried ------------------------------------------------------------

    async def _call(self, d: Decision, name: str, target: str, fn: Callable[[], Awaitable[Any]]) -> CallResult:
        error = ""
        attempt = 0
        limited_until = time.monotonic() + RATE_LIMITED_FOR_S
        while attempt <= len(self.backoff):
            attempt += 1
            started = time.perf_counter()
            try:
                result = await fn()
            except RateLimited as exc:
                # Not carried out, and not a failure: the budget has paused; wait and go again.
                error = str(exc)
                self.listener.on_call(CallRecord(d.account_id, d.rule, name, target, False, _ms(started), attempt, error))
                if time.monotonic() < limited_until:
                    attempt -= 1
                    await asyncio.sleep(min(exc.retry_after or 1.0, MAX_RETRY_S))
                    continue
            except Refused as exc:
                error = str(exc)
                self.listener.on_call(CallRecord(d.account_id, d.rule, name, target, False, _ms(started), attempt, error))
                return CallResult(False, None, error, refused=True)  # a definite no: settle it by reading
            except BrokerError as exc:
                error = str(exc)
                self.listener.on_call(CallRecord(d.account_id, d.rule, name, target, False, _ms(started), attempt, error))
            except Exception as exc:  # the SDK can raise anything; the guard must not die of it
                error = f"{type(exc).__name__}: {exc}"
                log.exception("unexpected error from broker call %s", name)
                self.listener.on_call(CallRecord(d.account_id, d.rule, name, target, False, _ms(started), attempt, error))
            else:
                self.listener.on_call(CallRecord(d.account_id, d.rule, name, target, True, _ms(started), attempt))
                return CallResult(True, result, "")
            if attempt <= len(self.backoff):
                await asyncio.sleep(self.backoff[attempt - 1])
        return CallResult(False, None, error)

    # ----- the actions ------------------------------------------------------------------------

    async def _flatten(self, d: Decision) -> None:
        acct = d.account_id
        state = self.state_of(acct)
        orders = list(state.orders.values())
        positions = list(state.positions.values())
        for round_no in range(1, self.rounds + 1):
            # Cancel first so a resting stop cannot fill against the close; then close by contract.
            cancels = await asyncio.gather(*(
                self._call(d, "Order/cancel", f"order {o.id} ({symbol_of(o.contract_id)})",
                           functools.partial(self.broker.cancel_order, acct, o.id))
                for o in orders
            ))
            closes = await asyncio.gather(*(
                self._call(d, "Position/closeContract", symbol_of(p.contract_id),
                           functools.partial(self.broker.close_position, acct, p.contract_id))
                for p in positions
            ))
            # The two verifying reads do not depend on each other: one round trip, not two.
            (ok_p, fresh_positions, _, _), (ok_o, fresh_orders, _, _) = await asyncio.gather(
                self._call(d, "Position/searchOpen", "verify flat", lambda: self.broker.open_positions(acct)),
                self._call(d, "Order/searchOpen", "verify no working orders", lambda: self.broker.open_orders(acct)),
            )
            if ok_p and ok_o and not fresh_positions and not fresh_orders:
                self._outcome(d, True, f"flat after {round_no} round(s)")
                if not all(r.ok for r in (*cancels, *closes)):
                    self.listener.on_stale(acct)  # a call failed on something that was not there
                return
            refused: set[str | int] = {p.contract_id for p, r in zip(positions, closes, strict=True) if r.refused}
            refused |= {o.id for o, r in zip(orders, cancels, strict=True) if r.refused}
            positions = list(fresh_positions) if ok_p else positions
            orders = list(fresh_orders) if ok_o else orders
            if refused and {p.contract_id for p in positions} | {o.id for o in orders} <= refused:
                break  # only what the gateway refused outright is left: try again after a pause
            await asyncio.sleep(ROUND_PAUSE * round_no)
        left = [f"{p.size} {symbol_of(p.contract_id)}" for p in positions]
        if orders:
            left.append(f"{len(orders)} working order(s)")
        what = ", ".join(left) or "could not read the positions and orders"
        self._outcome(d, False, f"still not flat after {round_no} round(s): {what}")

    async def _close(self, d: Decision) -> None:
        acct, contract = d.account_id, d.contract_id
        assert contract is not None
        rounds = _Rounds(self.rounds)
        while rounds.left():
            with self._hub_word(acct, contract) as hub_size:
                close = await self._call(d, "Position/closeContract", symbol_of(contract),
                                         lambda: self.broker.close_position(acct, contract))
                if await self._confirmed(hub_size, close.ok) == 0:
                    self._outcome(d, True, f"{symbol_of(contract)} closed")
                    return
            ok_p, fresh, _, _ = await self._call(d, "Position/searchOpen", f"verify {symbol_of(contract)} closed",
                                                 lambda: self.broker.open_positions(acct))
            if ok_p and not any(p.contract_id == contract for p in fresh):
                if close.ok:
                    self._outcome(d, True, f"{symbol_of(contract)} closed")
                else:  # the close failed, yet the broker has no such position (any more)
                    self._outcome(d, True, f"{symbol_of(contract)} no longer open")
                    self.listener.on_stale(acct)
                return
            if close.refused and ok_p:
                break  # refused outright and still open: try again after a pause, not now
            rounds.count(accepted=close.ok and ok_p)  # open again after an accepted close: re-opened
            await asyncio.sleep(ROUND_PAUSE)
        self._outcome(d, False, f"{symbol_of(contract)} position still open")

    async def _reduce(self, d: Decision, read_first: bool = False) -> None:
        """Partial close down to the target size. The size comes from the event that triggered the
        decision (the broker's latest word), so the close leaves first; the result is then confirmed
        by the hub's position update, or read back, and any remaining excess closed in the next
        round. ``read_first``: a reduce that waited for another of the same position reads the size
        first (the engine's picture may predate it)."""
        acct, contract, target = d.account_id, d.contract_id, d.size or 0
        assert contract is not None
        current = self.state_of(acct).positions.get(contract)
        size = current.size if current is not None else 0
        if read_first:
            ok_p, fresh, err, _ = await self._call(d, "Position/searchOpen", f"read {symbol_of(contract)} size",
                                                   lambda: self.broker.open_positions(acct))
            if not ok_p:
                self._outcome(d, False, err)
                return
            pos = next((p for p in fresh if p.contract_id == contract), None)
            size = pos.size if pos is not None else 0
        rounds = _Rounds(self.rounds)
        while rounds.left():
            if size <= target:
                self._outcome(d, True, f"{symbol_of(contract)} at {size}, limit {target}")
                return
            excess = size - target
            with self._hub_word(acct, contract) as hub_size:
                cut = await self._call(d, "Position/partialCloseContract", f"{excess} {symbol_of(contract)}",
                                       functools.partial(self.broker.partial_close, acct, contract, excess))
                seen = await self._confirmed(hub_size, cut.ok)
            if seen is not None and seen <= target:
                size = seen  # the hub's update after the accepted cut: within the limit, no read needed
                continue
            ok_p, fresh, _, _ = await self._call(d, "Position/searchOpen", f"verify {symbol_of(contract)} size",
                                                 lambda: self.broker.open_positions(acct))
            if ok_p:
                pos = next((p for p in fresh if p.contract_id == contract), None)
                size = pos.size if pos is not None else 0
                if not cut.ok and size <= target:
                    self.listener.on_stale(acct)  # the position was already within the limit at the broker
                if cut.refused and size > target:
                    break  # refused outright: try again after a pause
                rounds.count(accepted=cut.ok)  # over the limit after an accepted cut: the trader added
            else:
                rounds.count(accepted=False)
                await asyncio.sleep(ROUND_PAUSE)
        self._outcome(d, size <= target, f"{symbol_of(contract)} still at {size}, limit {target}")

    async def _cancel(self, d: Decision) -> None:
        acct = d.account_id
        orders = [o for o in self.state_of(acct).orders.values() if d.contract_id in (None, o.contract_id)]
        results = await asyncio.gather(*(
            self._call(d, "Order/cancel", f"order {o.id} ({symbol_of(o.contract_id)})",
                       functools.partial(self.broker.cancel_order, acct, o.id))
            for o in orders
        ))
        if not orders:
            self._outcome(d, True, NOTHING_TO_DO)  # filled or gone before the cancel ran
            return
        failed = {o.id for o, r in zip(orders, results, strict=True) if not r.ok}
        if not failed:
            self._outcome(d, True, f"{len(orders)} order(s) cancelled")
            return
        # Reconcile by reading: an order that is no longer working needed no cancel.
        ok_o, fresh, _, _ = await self._call(d, "Order/searchOpen", "verify cancelled",
                                             lambda: self.broker.open_orders(acct))
        still = {o.id for o in fresh if o.is_working} & failed if ok_o else failed
        if still:
            self._outcome(d, False, f"{len(still)} order(s) could not be cancelled")
            return
        done = len(orders) - len(failed)
        gone = f"{len(failed)} no longer working"
        self._outcome(d, True, f"{done} order(s) cancelled, {gone}" if done else f"order(s) {gone}")
        self.listener.on_stale(acct)

    async def _place_stop(self, d: Decision) -> None:
        assert d.contract_id and d.stop_price is not None and d.side is not None and d.size
        # The safety net's stops carry a tag (unique, as the gateway wants customTags) that tells
        # them from the trader's own when they come back in order updates and reads.
        tag = f"{SAFETY_NET_TAG}-{uuid.uuid4().hex[:16]}" if d.rule == SAFETY_NET_RULE else None
        ok, order_id, err, _ = await self._call(
            d, "Order/place", f"stop {symbol_of(d.contract_id)} @ {d.stop_price}" + (f" tagged {tag}" if tag else ""),
            functools.partial(self.broker.place_stop, d.account_id, d.contract_id, d.side, d.size, d.stop_price,
                              **({"tag": tag} if tag else {})),
        )
        if ok and tag and isinstance(order_id, int):
            self.listener.on_placed(d, order_id)
        self._outcome(d, ok, d.reason if ok else err)

    async def _move_stop(self, d: Decision) -> None:
        assert d.order_id is not None and d.stop_price is not None
        # The safety net keeps its stop the position's size; 012 moves the trader's stop's price only.
        size = d.size if d.rule == SAFETY_NET_RULE else None
        ok, _, err, _ = await self._call(
            d, "Order/modify", f"stop order {d.order_id} → {d.stop_price}" + (f" size {size}" if size else ""),
            functools.partial(self.broker.modify_stop, d.account_id, d.order_id, d.stop_price,
                              **({"size": size} if size else {})),
        )
        self._outcome(d, ok, d.reason if ok else err)

    async def _cancel_stop(self, d: Decision) -> None:
        """One of the app's own stops that protects nothing any more; gone already is as good."""
        assert d.order_id is not None and d.contract_id is not None
        acct, order_id = d.account_id, d.order_id
        ok, _, err, _ = await self._call(d, "Order/cancel", f"order {order_id} ({symbol_of(d.contract_id)})",
                                         functools.partial(self.broker.cancel_order, acct, order_id))
        if not ok:
            ok_o, fresh, _, _ = await self._call(d, "Order/searchOpen", "verify cancelled",
                                                 lambda: self.broker.open_orders(acct))
            ok = ok_o and not any(o.id == order_id and o.is_working for o in fresh)
        self._outcome(d, ok, d.reason if ok else err)


#: The rule whose stops are tagged at the gateway (rules.md 018).
SAFETY_NET_RULE = "safety_net"


async def _at_enforcement_priority(coro: Awaitable) -> Any:
    """Run an enforcement with the broker's enforcement priority (its reads too)."""
    with enforcement_priority():
        return await coro


@dataclass
class _Rounds:
    """The rounds of a reduce or a close. A round whose call the gateway accepted but whose
    read-back still finds work (the trader added or re-opened meanwhile) is not a failed one: it
    counts apart, up to ACCEPTED_CUTS; any other round counts against ``limit``."""

    limit: int
    failed: int = 0
    accepted: int = 0

    def left(self) -> bool:
        return self.failed < self.limit and self.accepted < ACCEPTED_CUTS

    def count(self, accepted: bool) -> None:
        if accepted:
            self.accepted += 1
        else:
            self.failed += 1


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
