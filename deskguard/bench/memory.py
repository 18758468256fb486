"""Memory: the guardian's RSS after warm-up and after one simulated hour of quotes and trades.

An hour of a busy session, time compressed: 10 instruments quoted 10 times a second (360,000
quotes on the market hub; DeskGuard subscribes quotes only) and, across three accounts, 120 round
trips (240 fills) each protected by a stop that is cancelled at the close. The guard is a process
of its own (``guard`` mode of this module):
config, store, real broker and guardian assembled by :func:`~deskguard.runtime.prepare_runtime`,
as the headless guard does, logging to its file. The simulator is another process
(:mod:`.simulator_process`) that feeds the quotes round-robin once the guard subscribed; the driver
(the benchmark's process) places the trades through the control API as the hour progresses,
following the guard's own count of the quotes its SDK received.

The feed rate, 2,000 quotes/s (as the storm's), is about what the stack takes on two cores with
the guard's engine still seeing most quotes. The SDK (project-x-py 4.4.1) forwards only the latest
quote of a contract when several arrived in one read of the socket, and pysignalr handles a whole
read before anything else runs; its per-message cost (websocket inflate, JSON, and a
``run_coroutine_threadsafe`` future for every GatewayTrade) is most of the guard's CPU. Faster feeds
reach the guard's SDK in full but its engine only in part (``memory_quotes_to_guard`` says how
many got there): at 3,000-6,000/s that fell to 15-70 % here.

RSS is VmRSS from the guard's own ``/proc/self/status``: ``rss_start_mb`` once the first 10 % of
the hour went through (imports, connections, caches and the first trades are warm), ``rss_end_mb``
when all of it has and the engine went quiet. Compressed time exercises what grows with events;
what grows with wall-clock time (e.g. the P&L chart's points, one per account every 2 s, capped)
grows less than in a real hour.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from typing import Any

from .probes import rss_mb
from .simulator_process import SYMBOLS, LineReader, SimulatorProcess, stop_process

QUOTES_PER_S = 10  # per instrument, over the simulated hour
HOUR_S = 3600
HOUR_QUOTES = QUOTES_PER_S * HOUR_S * len(SYMBOLS)
FEED_QUOTES_PER_S = 2000
ROUND_TRIPS = 120
ACCOUNTS = ((1001, "MNQ"), (1002, "ES"), (1003, "CL"))
WARMUP_FRACTION = 0.10
STATUS_EVERY_S = 0.05
SETTLE_TIMEOUT_S = 30.0


class _GuardStatus:
    """The guard's ``STATUS`` lines: quotes received, quotes handed to the guard, events, RSS."""

    def __init__(self, reader: LineReader) -> None:
        self.reader = reader
        self.last: dict[str, Any] = {}

    def refresh(self, timeout: float) -> dict[str, Any]:
        """The newest status (waiting up to ``timeout`` for one if none came since the last look)."""
        line = self.reader.latest("STATUS ") or self.reader.wait_for("STATUS ", timeout)
        self.last = json.loads(line.split(" ", 1)[1])
        return self.last

    def wait(self, predicate: Any, timeout: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not (self.last and predicate(self.last)):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the guard did not {what} within {timeout:.0f} s (last status {self.last})")
            self.refresh(remaining)
        return self.last


def bench(quotes: int = HOUR_QUOTES, feed_quotes_per_s: float = FEED_QUOTES_PER_S) -> dict[str, float]:
    """One simulated hour by default; fewer ``quotes`` scale the trades down with them."""
    quotes = max(len(SYMBOLS), quotes - quotes % len(SYMBOLS))  # whole rounds
    round_trips = max(1, round(ROUND_TRIPS * quotes / HOUR_QUOTES))
    with tempfile.TemporaryDirectory(prefix="deskguard-memory-") as home, \
            SimulatorProcess(quotes_per_s=feed_quotes_per_s, total_quotes=quotes) as sim:
        env = {**sim.env(), "DESKGUARD_HOME": home}
        guard = subprocess.Popen([sys.executable, "-m", "deskguard.bench.memory", "guard"], env=env,
                                 stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        try:
            assert guard.stdout is not None
            status = _GuardStatus(LineReader(guard.stdout))
            status.wait(lambda s: s["guarding"], 60.0, "start guarding")
            return _drive(sim.control, status, quotes, round_trips, quotes / feed_quotes_per_s * 3 + 60)
        finally:
            stop_process(guard)
            if guard.stdout is not None:
                guard.stdout.close()  # the reader thread ends at the closed pipe


def _drive(control: Any, status: _GuardStatus, quotes: int, round_trips: int, timeout: float) -> dict[str, float]:
    # The feed starts as soon as the guard subscribed, before it says it is guarding: counts start
    # at zero (they also hold the one snapshot quote per contract sent on subscribing).
    base = {"quotes": 0, "to_guard": 0}
    every = quotes / round_trips  # quotes between two round trips' openings
    rss_start: float | None = None
    trips = 0
    open_trip: tuple[int, str, int | None] | None = None
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while True:
        now = status.refresh(5.0)
        got = now["quotes"] - base["quotes"]
        if rss_start is None and got >= quotes * WARMUP_FRACTION:
            rss_start = now["rss_mb"]
        if open_trip is not None and got >= (trips - 0.5) * every:
            _close(control, *open_trip)
            open_trip = None
        if trips < round_trips and got >= trips * every:
            open_trip = _open(control, trips)
            trips += 1
        if got >= quotes:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"the guard received {got:,} of {quotes:,} quotes in {timeout:.0f} s")
        time.sleep(0.02)
    fed_s = time.perf_counter() - started
    if open_trip is not None:
        _close(control, *open_trip)
    end = _settled(status)
    return {
        "rss_start_mb": round(rss_start if rss_start is not None else end["rss_mb"], 1),
        "rss_end_mb": round(end["rss_mb"], 1),
        "rss_growth_percent": round(100 * (end["rss_mb"] / (rss_start or end["rss_mb"]) - 1), 1),
        "memory_quotes": end["quotes"] - base["quotes"],
        "memory_quotes_to_guard": end["to_guard"] - base["to_guard"],
        "memory_fills": 2 * trips,
        "memory_quotes_per_s": round(quotes / fed_s),
    }


def _open(control: Any, n: int) -> tuple[int, str, int | None]:
    """A round trip's entry (long or short, 1 or 2 contracts) and its protective stop 40 ticks away."""
    account_id, symbol = ACCOUNTS[n % len(ACCOUNTS)]
    side, stop_side = ("buy", "sell") if n % 2 == 0 else ("sell", "buy")
    size = 1 + n % 2
    control.place_order(account_id, symbol, side, size)
    price = control.step_walk(symbol, 0)  # zero steps: the current price
    tick = control.contract(symbol)["tickSize"]
    stop = price - 40 * tick if side == "buy" else price + 40 * tick
    return account_id, symbol, control.place_order(account_id, symbol, stop_side, size, "stop",
                                                   stop_price=stop).get("orderId")


def _close(control: Any, account_id: int, symbol: str, stop_id: int | None) -> None:
    control.close_position(account_id, symbol)
    if stop_id is not None:
        control.cancel_order(account_id, stop_id)  # a stop already hit answers success=false


def _settled(status: _GuardStatus) -> dict[str, Any]:
    """The guard's status once its engine went quiet for a moment."""
    events = status.refresh(5.0)["events"]
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        time.sleep(0.3)
        now = status.refresh(5.0)
        if now["events"] == events or time.monotonic() > deadline:
            return now
        events = now["events"]


# --------------------------------------------------------------------- the guard


def _run_guard() -> int:
    import asyncio
    import signal

    from ..config import config_path, log_dir, save_config
    from ..logs import setup_logging
    from .guard_config import bench_config
    from .storm import QuoteCounter

    save_config(bench_config(SYMBOLS), config_path())
    setup_logging(log_dir())
    quotes = QuoteCounter()
    quotes.install()

    async def main() -> int:
        from ..runtime import prepare_runtime

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        runtime = await prepare_runtime()
        quotes.wrap_broker(runtime.guardian.broker)
        try:
            await runtime.guardian.start()
        except BaseException:
            await runtime.close()
            raise
        guardian = runtime.guardian
        try:
            while not stop.is_set():
                status = {"guarding": guardian.health.guarding, "quotes": quotes.wire, "to_guard": quotes.to_guard,
                          "events": guardian.events_processed, "rss_mb": round(rss_mb(), 2)}
                print("STATUS " + json.dumps(status), flush=True)
                try:
                    await asyncio.wait_for(stop.wait(), STATUS_EVERY_S)
                except TimeoutError:
                    pass
        finally:
            await runtime.stop()
        return 0

    return asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the memory benchmark (guard mode is its child process)")
    parser.add_argument("mode", nargs="?", default="bench", choices=("bench", "guard"))
    parser.add_argument("--quotes", type=int, default=HOUR_QUOTES)
    parser.add_argument("--rate", type=float, default=FEED_QUOTES_PER_S, help="quotes fed per second")
    args = parser.parse_args(argv)
    if args.mode == "guard":
        return _run_guard()
    print(json.dumps(bench(args.quotes, args.rate), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
