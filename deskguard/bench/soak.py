"""``python -m deskguard.bench.soak [--minutes N] [--accounts N] [--seed S]``: one compressed hour of
random trading on several accounts through the simulator, with faults injected, checking the
guard's invariants all the way. Prints its counts; exits 1 on any invariant violation.

Shape of the run:

- The simulator is a process of its own (the benchmarks' :class:`~.simulator_process.SimulatorProcess`,
  its market walking by itself), driven through its control API, as the gateway is another
  machine: its matching, its hub writes and its random walk do not share the guard's event loop,
  nor count in its memory. The guard — store, the real ``ProjectXBroker`` over the unmodified SDK,
  the ``Guardian`` — runs in this process next to the driver, which reads the guard's state
  directly for the invariants.
- Compression: an hour's worth of trader actions (``--actions-per-hour`` per account, default 240:
  market entries, adds, reversals, oversize orders, closes, limit and stop orders, cancels) is
  played in ``--minutes`` (default 4), while the market walks ~10 steps a second per instrument
  (ES, NQ, CL: swings big enough for the loss rules). Durations in the rules are compressed too
  (cooldowns of seconds, not minutes), so locks start *and end* many times, and the REST budget
  (the gateway's ~200 requests a minute, which the SDK's limiter enforces) is scaled by the same
  factor. The trading day is set to have started an hour ago, so no reset falls inside the run.
- Faults, one every ``--fault-every`` seconds on average: hub drops (one hub or both, clean or
  abrupt, with reconnects refused up to 3 s), HTTP 5xx or ``success: false`` on the enforcement
  and re-sync endpoints (at most 3 in a row), slow replies (at most 0.6 s), malformed hub messages
  of every kind, user events replayed (duplicates, out of order, with unknown fields), and one
  account's closes refused outright for 1–4 s. The simulator enforces the gateway's request budget
  (200 per 60 s per user) and answers 429 past it.

Invariants, checked all the way (every 0.3 s unless said otherwise):

- **Locks are enforced within one enforcement cycle**: while the guard is guarding an account
  (connected and re-synced since the last reconnect — otherwise it says NOT GUARDING, loudly), no
  position covered by one of its active locks stays open at the gateway longer than
  :data:`ENFORCEMENT_CYCLE_S`: the enforcer's worst case for one close (a close call and a
  verifying read, each with every retry of ``CALL_BACKOFF`` spent and each try as slow as the
  slowest injected reply) plus a round pause and the event's way to the guard: 12.75 s with the
  soak's limits on faults. (A loopback close takes about a millisecond: most positions opened
  under a lock are gone before the 0.3 s monitor ever sees them.)
- **Realized P&L equals the gateway's**, per account and trade for trade, at quiet points (every
  ``--quiet-every`` seconds and at the end trading and faults pause until the guard has caught up).
- **No lock is lost**: every active (committed) lock is in the store (every second), and still in
  the store when the guard is stopped and the store opened again at the end.
- **Memory stays flat**: the process's RSS at the end is within :data:`RSS_GROWTH_LIMIT_MB` of its
  value after the warm-up (the first quarter of the run). The driver reads only what it needs from
  the gateway (positions, working orders, prices; the day's trades only at quiet points), so what
  grows with the session in this process is the guard's.
- **Nothing fails unexpectedly**: no ERROR record from DeskGuard's own loggers.
- **The request budget holds**: in no 60 s window did the guard send the gateway more than its
  budget, and the gateway never had to answer 429 (checked at the end over every request of the
  run). The budget is the gateway's 200 a minute scaled like the hour (``--minutes 1``: 12,000), so
  that compressing time does not starve the guard; the simulator enforces the same figure. While an
  account's closes are refused its positions are not timed (the gateway is the one refusing); the
  clock starts again when the refusal ends.

At about 630 lines this is one cohesive thing: one run (``Soak``) whose trader, fault injector and
invariant checks share its state (the guard, the refusal windows, the report); a development tool,
not part of the guard.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..broker.projectx import ProjectXBroker
from ..config import loads_config
from ..engine.instruments import instrument_for, symbol_of
from ..engine.state import AccountStatus
from ..guardian import Guardian
from ..guardian.enforcer import CALL_BACKOFF, ROUND_PAUSE
from ..simulator import DEMO_API_KEY, DEMO_USERNAME, GatewayUrls, SimulatorControl, SimulatorControlError
from ..store import Store
from .probes import rss_mb
from .simulator_process import SimulatorProcess

log = logging.getLogger("deskguard.soak")

SYMBOLS = ("ES", "NQ", "CL")
FIRST_ACCOUNT = 1001
MAX_FAILS_IN_A_ROW = 3  # injected failures per endpoint before a call gets through (retries: 4)
MAX_DELAY_S = 0.6  # the slowest injected reply
CALL_SLACK_S = 0.25  # a loopback round trip and the SDK's own overhead, per try, generously
#: The bound on a position's life under a lock (see the module's docstring).
PER_CALL_S = sum(CALL_BACKOFF) + (len(CALL_BACKOFF) + 1) * (MAX_DELAY_S + CALL_SLACK_S)
ENFORCEMENT_CYCLE_S = 2 * PER_CALL_S + ROUND_PAUSE + 0.5
RSS_GROWTH_LIMIT_MB = 25.0
GATEWAY_REQUESTS_PER_MINUTE = 200
FAULTED_ENDPOINTS = ("Position/closeContract", "Order/cancel", "Position/searchOpen", "Order/searchOpen",
                     "Trade/search")
MALFORMED_KINDS = ("invalid_json", "unknown_fields", "missing_fields", "unknown_target", "close_with_error")
MONITOR_EVERY_S = 0.3
MONITORED = ("positions", "openOrders", "prices")  # the gateway's state the monitor and trader read

SOAK_RULES = """\
[trading_day]
reset_time = "{reset}"
timezone = "UTC"

[pnl]
stale_quote_seconds = 5

[rules.session_block]
enabled = false

[rules.max_contracts]
limit = 5

[rules.max_contracts_per_instrument]
default_limit = 3

[rules.daily_realized_loss]
max_loss = 2500

[rules.daily_unrealized_loss]
max_loss = 300

[rules.trade_frequency]
per_minute = 20
minute_cooldown = "5s"
per_hour = 2000
per_day = 10000

[rules.cooldown_after_loss]
tiers = [{{ loss = 150, cooldown = "6s" }}, {{ loss = 400, cooldown = "15s" }}]

[rules.losing_streak]
enabled = true
max_losses = 4
cooldown = "10s"
"""


@dataclass
class SoakOptions:
    minutes: float = 4.0
    accounts: int = 3
    seed: int = 1
    actions_per_hour: int = 240
    fault_every_s: float = 6.0
    quiet_every_s: float = 30.0
    walk_interval_s: float = 0.1
    verbose: bool = False

    @property
    def request_budget(self) -> int:
        """The gateway's 200 requests a minute, scaled like the hour: the same budget per trader
        action, or the compression alone would starve the guard. The simulator enforces it (429)."""
        return int(GATEWAY_REQUESTS_PER_MINUTE * 60 / self.minutes)


@dataclass
class SoakReport:
    options: SoakOptions
    counts: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    lifetimes: list[float] = field(default_factory=list)  # seconds a covered position lived under a lock
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (elapsed s, MB)
    rss_start_mb: float | None = None
    rss_end_mb: float | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.violations

    def lines(self) -> list[str]:
        c, o = self.counts, self.options
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        lifetimes = (f"{len(self.lifetimes)}, longest {max(self.lifetimes):.2f} s, median "
                     f"{statistics.median(self.lifetimes):.2f} s" if self.lifetimes else "none")
        rss = "not measured"
        if self.rss_start_mb is not None and self.rss_end_mb is not None:
            quarters = [mb for at, mb in self.rss_mb if at >= 0.25 * self.seconds]
            marks = [quarters[round(i * (len(quarters) - 1) / 3)] for i in range(4)]
            rss = (f"{self.rss_start_mb:.1f} MB after warm-up -> {self.rss_end_mb:.1f} MB at the end "
                   f"({self.rss_end_mb - self.rss_start_mb:+.1f} MB, limit +{RSS_GROWTH_LIMIT_MB:.0f}; "
                   f"along the way {' / '.join(f'{mb:.1f}' for mb in marks)})")
        out = [
            f"DeskGuard soak: one compressed hour in {self.seconds / 60:.1f} min, {o.accounts} accounts, seed {o.seed}",
            f"  events               {c['events']:>8}   (guard events processed, quotes included)",
            f"  trader actions       {c['actions']:>8}   (trades at the gateway {c['trades']})",
            f"  breaches             {c['enforced'] + c['locks']:>8}   "
            f"(enforcements carried out {c['enforced']}, locks {c['locks']}; decisions audited {c['decisions']})",
            f"  faults               {sum(self.faults.values()):>8}   ({faults})",
            f"  enforcement retries  {c['retries']:>8}   (failed broker calls {c['failed_calls']})",
            f"  reconnects           {c['reconnects']:>8}",
            f"  gateway requests     {c['requests_to_gateway']:>8}   (most in any 60 s: {c['most_requests_in_60s']}, "
            f"budget {o.request_budget}: the gateway's {GATEWAY_REQUESTS_PER_MINUTE} scaled like the hour)",
            f"  quiet points         {c['quiet_points']:>8}   (P&L compared per account: {c['pnl_checks']})",
            f"  lock checks          {c['lock_checks']:>8}   (position checks under a lock: {c['position_checks']})",
            f"  positions seen open under a lock (sampled every {MONITOR_EVERY_S:g} s): {lifetimes}; "
            f"bound {ENFORCEMENT_CYCLE_S:.2f} s",
            f"  RSS: {rss}",
            f"  invariant violations {len(self.violations):>8}",
        ]
        out.extend(f"    ! {v}" for v in self.violations[:50])
        return out


class _ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("deskguard"):
            self.messages.append(f"{record.name}: {record.getMessage()}")


class Soak:
    def __init__(self, options: SoakOptions, report: SoakReport) -> None:
        self.o = options
        self.report = report
        self.rng = random.Random(options.seed)
        self.accounts = [FIRST_ACCOUNT + i for i in range(options.accounts)]
        self.control: SimulatorControl | None = None
        self.guardian: Guardian | None = None
        self.store: Store | None = None
        self.state: dict[str, Any] = {}  # the gateway's state, as last read
        self.trading = asyncio.Event()  # cleared at quiet points
        self.stopping = False
        self._tracked: dict[tuple[Any, ...], float] = {}
        self._refused_until: dict[int, float] = {}  # account -> when its injected close refusal ends
        self._reported: set[tuple[Any, ...]] = set()
        self.started = time.monotonic()

    # ----- plumbing ------------------------------------------------------------------------

    async def act(self, method: str, *args: Any, **kwargs: Any) -> Any:
        assert self.control is not None
        return await asyncio.to_thread(getattr(self.control, method), *args, **kwargs)

    def violation(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        self.report.violations.append(f"[{elapsed:6.1f}s] {text}")
        log.error("invariant violated: %s", text)

    async def every(self, seconds: float, step: Callable[[], Awaitable[None]], jitter: bool = False) -> None:
        while not self.stopping:
            await asyncio.sleep(self.rng.expovariate(1 / seconds) if jitter else seconds)
            if self.stopping:
                return
            try:
                await step()
            except (SimulatorControlError, OSError) as exc:  # the control API is busy or refused: next time
                log.debug("soak step skipped: %s", exc)

    # ----- the run -------------------------------------------------------------------------

    async def run(self, workdir: Path, base_url: str) -> None:
        try:
            self.control = SimulatorControl(base_url, timeout_s=10.0)
            await self.act("pause_walk")
            await self.start_guard(workdir, base_url)
            await self.act("resume_walk")
            self.trading.set()
            self.started = time.monotonic()
            tasks = [asyncio.ensure_future(self.trader(a)) for a in self.accounts]
            tasks += [
                asyncio.ensure_future(self.every(self.o.fault_every_s, self.inject_fault, jitter=True)),
                asyncio.ensure_future(self.every(MONITOR_EVERY_S, self.check_positions)),
                asyncio.ensure_future(self.every(1.0, self.check_locks_stored)),
                asyncio.ensure_future(self.every(2.0, self.sample_rss)),
            ]
            total = self.o.minutes * 60
            next_quiet = self.o.quiet_every_s
            while (elapsed := time.monotonic() - self.started) < total:
                await asyncio.sleep(min(0.5, total - elapsed))
                if time.monotonic() - self.started >= next_quiet and next_quiet < total - 5:
                    await self.quiet_point()
                    next_quiet += self.o.quiet_every_s
            self.report.seconds = time.monotonic() - self.started
            await self.quiet_point()
            await self.sample_rss()
            await self.check_request_budget()
            self.stopping = True
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.finish()
        finally:
            self.stopping = True
            if self.guardian is not None and self.guardian.running:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.guardian.stop(), 20)
            if self.store is not None:
                self.store.close()

    async def start_guard(self, workdir: Path, base_url: str) -> None:
        reset = (datetime.now(UTC) - timedelta(hours=1)).strftime("%H:%M")  # the day began an hour ago
        config = loads_config(SOAK_RULES.format(reset=reset), "soak rules")
        settings = config.engine_settings()
        calendar = settings.calendar
        urls = GatewayUrls(base_url)
        self.store = Store(workdir / "state.db", redact=[DEMO_API_KEY])
        broker = ProjectXBroker(
            DEMO_USERNAME, DEMO_API_KEY, api_url=urls.api_url, user_hub_url=urls.user_hub_url,
            market_hub_url=urls.market_hub_url, day_start=lambda: calendar.day_start(datetime.now(UTC)),
            request_timeout=3.0, hub_connect_timeout=5.0, max_rebuild_backoff=2.0, market_silence=0.0,
            reconcile_interval=15.0,  # compressed from a minute
            # The gateway allows ~200 requests a minute; an hour played in a few minutes gets the
            # same budget per trader action, or the compression alone would starve the guard.
            requests_per_minute=self.o.request_budget,
        )
        self.guardian = Guardian(broker, self.store, settings, symbols=list(SYMBOLS))
        await asyncio.wait_for(self.guardian.start(), 30)
        await self.wait_caught_up(15)

    async def finish(self) -> None:
        """Counts, then the lock persistence check across a stop and a fresh open of the store."""
        guardian, store = self.guardian, self.store
        assert guardian is not None and store is not None and self.control is not None
        c = self.report.counts
        c["events"] = guardian.events_processed
        c["reconnects"] = guardian.health.reconnects
        state = await self.act("state", ("trades",))
        c["trades"] = len(state["trades"])
        active = {a: {_lock_key(lock) for lock in guardian.snapshot(a).locks} for a in self.accounts}
        await asyncio.wait_for(guardian.stop(), 20)
        rows = store.audit_entries()
        c["decisions"] = sum(1 for r in rows if r.event == "decision")  # audited, absorbed ones too
        c["locks"] = sum(1 for r in rows if r.event == "enforcement" and r.detail.startswith("LOCKED"))
        c["enforced"] = sum(1 for r in rows if r.event == "enforcement" and not r.detail.startswith("LOCKED"))
        calls = [r for r in rows if r.broker_call]
        c["retries"] = sum(1 for r in calls if "(try 1)" not in r.detail)
        c["failed_calls"] = sum(1 for r in calls if r.result == "failed")
        path = store.path
        assert path is not None  # the soak's store is a file
        store.close()
        self.store = None
        with Store(path) as reopened:
            for account, locks in active.items():
                stored = {_lock_key(lock) for lock in reopened.active_locks(account)}
                if locks - stored:
                    self.violation(f"account {account}: lock(s) lost across the restart: {sorted(map(str, locks - stored))}")
        rss = [mb for at, mb in self.report.rss_mb if at >= 0.25 * self.report.seconds]
        if len(rss) >= 2:
            self.report.rss_start_mb, self.report.rss_end_mb = rss[0], rss[-1]
            growth = rss[-1] - rss[0]
            if growth > RSS_GROWTH_LIMIT_MB:
                self.violation(f"RSS grew {growth:.1f} MB after the warm-up (limit {RSS_GROWTH_LIMIT_MB:.0f} MB)")

    # ----- the trader ----------------------------------------------------------------------

    async def trader(self, account: int) -> None:
        rng = random.Random(f"{self.o.seed}/{account}")
        mean_gap = self.o.minutes * 60 / max(1, self.o.actions_per_hour)
        while not self.stopping:
            await asyncio.sleep(rng.expovariate(1 / mean_gap))
            await self.trading.wait()
            try:
                await self.trade_once(account, rng)
                self.report.counts["actions"] += 1
            except SimulatorControlError as exc:  # e.g. a stop through the market: the gateway says no
                self.report.counts["refused_actions"] += 1
                log.debug("trader %s: %s", account, exc)
            except OSError as exc:
                log.debug("trader %s: control API: %s", account, exc)

    async def trade_once(self, account: int, rng: random.Random) -> None:
        positions = [p for p in self.state.get("positions", []) if p["accountId"] == account and p["size"] > 0]
        orders = [o for o in self.state.get("openOrders", []) if o["accountId"] == account]
        prices = self.state.get("prices", {})
        roll = rng.random()
        if positions and roll < 0.30:
            p = rng.choice(positions)
            await self.act("close_position", account, p["contractId"])
        elif positions and roll < 0.40:  # add to it (may pass the size limits)
            p = rng.choice(positions)
            await self.act("place_order", account, p["contractId"], "buy" if p["type"] == 1 else "sell", rng.randint(1, 2))
        elif positions and roll < 0.48:  # a protective stop, some distance away
            p = rng.choice(positions)
            price = prices.get(p["contractId"])
            if price:
                tick = _tick(p["contractId"])
                away = rng.randint(8, 30) * tick
                side, stop = ("sell", price - away) if p["type"] == 1 else ("buy", price + away)
                await self.act("place_order", account, p["contractId"], side, p["size"], "stop", stop_price=stop)
        elif orders and roll < 0.55:
            await self.act("cancel_order", account, rng.choice(orders)["id"])
        elif roll < 0.62:  # a resting limit entry
            symbol = rng.choice(SYMBOLS)
            contract = await self.contract_id(symbol)
            price = prices.get(contract)
            if price:
                side = rng.choice(("buy", "sell"))
                offset = rng.randint(2, 12) * _tick(contract)
                limit = price - offset if side == "buy" else price + offset
                await self.act("place_order", account, symbol, side, rng.randint(1, 2), "limit", limit_price=limit)
        elif roll < 0.66:  # oversize: the size rules must cut it back
            await self.act("place_order", account, rng.choice(SYMBOLS), rng.choice(("buy", "sell")), rng.randint(4, 7))
        else:
            await self.act("place_order", account, rng.choice(SYMBOLS), rng.choice(("buy", "sell")), rng.randint(1, 2))

    async def contract_id(self, symbol: str) -> str:
        cache = self.__dict__.setdefault("_contracts", {})
        if symbol not in cache:
            cache[symbol] = (await self.act("contract", symbol))["id"]
        return cache[symbol]

    # ----- faults ----------------------------------------------------------------------------

    async def inject_fault(self) -> None:
        if not self.trading.is_set():
            return
        assert self.guardian is not None
        kind = self.rng.choice(("drop", "fail", "delay", "malformed", "replay", "refuse"))
        if kind == "drop":
            if not self.guardian.health.guarding:
                return  # one outage at a time
            hub = self.rng.choice((None, None, "user", "market"))
            await self.act("drop_hub_connections", hub, refuse_s=self.rng.choice((0.0, 0.0, 0.5, 1.5, 3.0)),
                           abrupt=self.rng.random() < 0.5)
        elif kind in ("fail", "delay"):
            pending = (await self.act("state", ("faults",)))["faults"]
            if pending["failures"] or pending["delays"]:
                return  # at most one REST fault queued: the retries' bound holds
            endpoint = self.rng.choice(FAULTED_ENDPOINTS)
            if kind == "fail":
                await self.act("fail_next", endpoint, self.rng.randint(1, MAX_FAILS_IN_A_ROW),
                               self.rng.choice((500, 502, 503, 200)))
            else:
                await self.act("delay_next", endpoint, self.rng.randint(1, 2), round(self.rng.uniform(0.1, MAX_DELAY_S), 2))
        elif kind == "refuse":
            account = self.rng.choice(self.accounts)
            if self._refused_until.get(account, 0.0) > time.monotonic():
                return
            seconds = round(self.rng.uniform(1.0, 4.0), 1)
            await self.act("refuse_closes", account, True)
            self._refused_until[account] = time.monotonic() + seconds
            asyncio.get_running_loop().call_later(seconds, self._end_refusal, account)
        elif kind == "malformed":
            await self.act("send_malformed", self.rng.choice(("user", "market")), self.rng.choice(MALFORMED_KINDS))
        else:
            await self.act("replay_user_pushes", self.rng.randint(3, 20), reverse=self.rng.random() < 0.5,
                           extra_fields=self.rng.random() < 0.3)
        self.report.faults[kind] += 1

    def _end_refusal(self, account: int) -> None:
        if self.control is not None and not self.stopping:
            task = asyncio.ensure_future(self.act("refuse_closes", account, False))
            self.__dict__.setdefault("_refusal_tasks", set()).add(task)
            task.add_done_callback(self.__dict__["_refusal_tasks"].discard)

    # ----- invariants --------------------------------------------------------------------------

    def guarding(self, account: int) -> bool:
        assert self.guardian is not None
        return self.guardian.snapshot(account).status != AccountStatus.NOT_GUARDING

    async def check_positions(self) -> None:
        """No position covered by an active lock lives longer than one enforcement cycle."""
        assert self.guardian is not None
        self.state = await self.act("state", MONITORED)  # not every order and trade: the driver stays small
        now = time.monotonic()
        for account in self.accounts:
            snap = self.guardian.snapshot(account)
            mine = {k: v for k, v in self._tracked.items() if k[0] == account}
            if snap.status == AccountStatus.NOT_GUARDING or self._refused_until.get(account, 0.0) > now:
                for key in mine:  # it says so, loudly (or the gateway refuses the closes): the clock
                    del self._tracked[key]  # starts again when it guards again
                continue
            seen = set()
            for p in self.state["positions"]:
                if p["accountId"] != account or p["size"] <= 0:
                    continue
                if not any(lock.covers(symbol_of(p["contractId"])) for lock in snap.locks):
                    continue
                key = (account, p["contractId"], p.get("id"), p.get("creationTimestamp"))
                seen.add(key)
                first = self._tracked.setdefault(key, now)
                self.report.counts["position_checks"] += 1
                if now - first > ENFORCEMENT_CYCLE_S and key not in self._reported:
                    self._reported.add(key)
                    self.violation(f"account {account}: {p['size']} {symbol_of(p['contractId'])} open "
                                   f"{now - first:.1f}s under a lock (bound {ENFORCEMENT_CYCLE_S:.1f}s)")
            for key, first in mine.items():
                if key not in seen:
                    self.report.lifetimes.append(now - first)
                    del self._tracked[key]

    async def check_locks_stored(self) -> None:
        """Every active, committed lock is in the store."""
        guardian, store = self.guardian, self.store
        assert guardian is not None and store is not None
        for account in self.accounts:
            active = {_lock_key(lock) for lock in guardian.snapshot(account).locks}
            if not active:
                continue
            stored = {_lock_key(lock) for lock in await guardian.store_call(store.active_locks, account)}
            still = {_lock_key(lock) for lock in guardian.snapshot(account).locks}
            missing = (active & still) - stored  # ended meanwhile is not lost
            self.report.counts["lock_checks"] += 1
            if missing:
                self.violation(f"account {account}: active lock(s) not in the store: {sorted(map(str, missing))}")

    async def check_request_budget(self) -> None:
        """No 60 s window above the gateway's budget, and no 429 answered, over the whole run."""
        requests = await self.act("requests")
        times = sorted(r["mono"] for r in requests if r.get("user") == DEMO_USERNAME)
        worst, first = 0, 0
        for last, moment in enumerate(times):
            while moment - times[first] >= 60.0:
                first += 1
            worst = max(worst, last - first + 1)
        limited = sum(1 for r in requests if r.get("status") == 429)
        self.report.counts["requests_to_gateway"] = len(times)
        self.report.counts["most_requests_in_60s"] = worst
        if worst > self.o.request_budget:
            self.violation(f"{worst} requests in 60 s (the gateway's budget, scaled, is {self.o.request_budget})")
        if limited:
            self.violation(f"the gateway answered 429 to {limited} request(s)")

    async def sample_rss(self) -> None:
        self.report.rss_mb.append((time.monotonic() - self.started, rss_mb()))

    async def quiet_point(self) -> None:
        """Pause trading and faults; once the guard has caught up, its P&L must be the gateway's."""
        self.trading.clear()
        try:
            await self.act("clear_faults")
            await asyncio.sleep(0.5)  # let the last actions' events arrive
            await self.wait_caught_up(20)
            assert self.guardian is not None
            for account in self.accounts:
                deadline = time.monotonic() + 10
                while True:
                    state = await self.act("state", ("trades",))
                    theirs = _realized(state, account)
                    ours = self.guardian.snapshot(account).realized_day
                    ids_theirs = {t["id"] for t in state["trades"] if t["accountId"] == account}
                    ids_ours = set(self.guardian.engine.state(account).trades_today)
                    if abs(ours - theirs) < 0.005 and ids_ours == ids_theirs:
                        break
                    if time.monotonic() > deadline:
                        self.violation(f"account {account}: realized P&L {ours:.2f} but the gateway's is {theirs:.2f} "
                                       f"(trades: {len(ids_ours)} vs {len(ids_theirs)})")
                        break
                    await asyncio.sleep(0.2)
                self.report.counts["pnl_checks"] += 1
            self.report.counts["quiet_points"] += 1
        finally:
            self.trading.set()

    async def wait_caught_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not all(self.guarding(a) for a in self.accounts):
            if time.monotonic() > deadline:
                assert self.guardian is not None
                health = self.guardian.health
                lagging = [a for a in self.accounts if not self.guarding(a)]
                self.violation(f"account(s) {lagging} not guarded {timeout:.0f}s after the faults stopped "
                               f"(user hub {health.user_hub}, market hub {health.market_hub}: {health.detail or 'ok'})")
                return
            await asyncio.sleep(0.1)


def _lock_key(lock: Any) -> tuple[Any, ...]:
    return (lock.rule, lock.kind, lock.symbol, lock.until)


def _realized(state: dict[str, Any], account: int) -> float:
    """rules.md "Realized P&L": closing trades' profitAndLoss minus the fees of every fill."""
    return round(sum((t["profitAndLoss"] or 0.0) - t["fees"] for t in state["trades"]
                     if t["accountId"] == account and not t["voided"]), 2)


def _tick(contract_id: str) -> float:
    inst = instrument_for(contract_id)
    return inst.tick_size if inst else 0.25


def run_soak(options: SoakOptions) -> SoakReport:
    """Run the soak against a simulator process of its own; the report says whether every invariant held."""
    with SimulatorProcess(seed=options.seed, accounts=options.accounts, walk_interval_s=options.walk_interval_s,
                          idle_quote_interval_s=1.0, request_budget=options.request_budget) as sim:
        return asyncio.run(_run_soak(options, sim.base_url))


async def _run_soak(options: SoakOptions, base_url: str) -> SoakReport:
    report = SoakReport(options)
    errors = _ErrorCounter()
    logging.getLogger().addHandler(errors)
    try:
        with tempfile.TemporaryDirectory(prefix="deskguard-soak-") as tmp:
            await Soak(options, report).run(Path(tmp), base_url)
    finally:
        logging.getLogger().removeHandler(errors)
    unexpected = [m for m in errors.messages if not m.startswith("deskguard.soak: invariant violated")]
    for message in unexpected[:20]:
        report.violations.append(f"error logged: {message}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deskguard.bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0, help="wall-clock length of the compressed hour (default 4)")
    parser.add_argument("--accounts", type=int, default=3, help="accounts traded and guarded (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the trader, the faults and the market (default 1)")
    parser.add_argument("--actions-per-hour", type=int, default=240, help="trader actions per account per hour")
    parser.add_argument("--fault-every", type=float, default=6.0, help="mean seconds between injected faults")
    parser.add_argument("--quiet-every", type=float, default=30.0, help="seconds between P&L checkpoints")
    parser.add_argument("--verbose", action="store_true", help="log the guard's warnings to stderr")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.accounts < 1:
        parser.error("--minutes must be positive and --accounts at least 1")
    options = SoakOptions(args.minutes, args.accounts, args.seed, args.actions_per_hour, args.fault_every,
                          args.quiet_every, verbose=args.verbose)
    # ERROR records stay on: the soak counts DeskGuard's own as violations, and shows them.
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.ERROR,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ..broker.sdk_logging import quiet_sdk_logging

    quiet_sdk_logging(logging.WARNING if args.verbose else logging.CRITICAL)
    report = run_soak(options)
    print("\n".join(report.lines()), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
