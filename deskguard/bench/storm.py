"""Quote storm: the whole desktop app, fed 2,000 quotes/s for 60 s while breaches are injected.

Three processes, so that no one's work shares another's event loop or CPU accounting:

- the **simulator** (:mod:`.simulator_process`) steps ten instruments' walks at 200/s each; every
  step is a GatewayQuote to every connection subscribed to that contract's quotes;
- the **app** (this module, ``app`` mode): the real :class:`~deskguard.ui.app.DesktopApp`
  (offscreen, no tray) with the real guardian, store and broker assembled by
  :func:`~deskguard.runtime.prepare_runtime` from a config.toml that streams those instruments.
  Inside it, for the measured window (after a warm-up): a task sleeping 10 ms in a loop
  (loop lag = actual − expected sleep); the main window's **repaint passes**, seen by an event
  filter on the window: each ``UpdateRequest`` it handles paints every dirty widget (the chart
  included) and flushes, and the filter delivers it itself to time it (paint time = one pass,
  paint interval = between the starts of successive passes; the window repaints only when
  something on it changed, so intervals also show how often that is); a 16 ms precise ``QTimer``
  (timer interval = between its ticks: how late the loop runs a UI timer, not a paint);
  ``getrusage`` of the process over wall time (CPU, % of one core), and the GatewayQuote messages
  its SDK client received (counted where the SDK's hub dispatches them, before the SDK coalesces
  quotes per contract);
- the **driver** (the benchmark's own process): every 0.18 s (~330 breaches in 60 s), a fill from
  the "web screen" on one of three accounts holding 2 contracts, against ``max_contracts`` = 2.
  Reaction = the simulator's push of that fill (GatewayUserTrade, found by order id) → the first
  enforcement request for the account it receives, both stamped by the simulator with
  ``perf_counter`` (as :mod:`.reaction`). A breach not enforced within 5 s counts as 5,000 ms (and
  in ``storm_breaches_missed``; each miss is printed, with why, and the app's log is kept). A
  breach waits for the previous one's reduction, so a slow guard makes fewer (``storm_breaches``
  says how many).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from .probes import GcPauses, LoopLag
from .reaction import ENFORCEMENT, percentile, push_payload
from .simulator_process import SYMBOLS, LineReader, SimulatorProcess, stop_process

LIMIT = 2
#: Accounts of the simulator's default book, each holding LIMIT contracts of one instrument.
HOLDINGS = ((1001, "MNQ"), (1002, "MES"), (1003, "NQ"))
LAG_SLEEP_S = 0.010
TIMER_INTERVAL_MS = 16  # 60 Hz, as close as a millisecond timer gets
ENFORCE_TIMEOUT_S = 5.0
#: The simulator logs every push (6,000 a second here) in a ring: ~5 s of history is plenty to find
#: a fill's push, and a small ring keeps the simulator's own garbage collections short.
SIM_LOG_LIMIT = 30_000


# --------------------------------------------------------------------- the driver


def bench(duration_s: float = 60.0, quotes_per_s: float = 2000.0, breach_every_s: float = 0.18,
          warmup_s: float = 5.0) -> dict[str, float]:
    """Run the storm once; the figures are percentiles over the run (one 60 s run is thousands of
    lag and timer samples, hundreds of repaints; reaction p99 is over its ~300 breaches)."""
    with tempfile.TemporaryDirectory(prefix="deskguard-storm-") as home, \
            SimulatorProcess(quotes_per_s=quotes_per_s, symbols=SYMBOLS, log_limit=SIM_LOG_LIMIT) as sim:
        control = sim.control
        for account_id, symbol in HOLDINGS:
            control.place_order(account_id, symbol, "buy", LIMIT)
        env = {**sim.env(), "DESKGUARD_HOME": home, "QT_QPA_PLATFORM": "offscreen"}
        cmd = [sys.executable, "-m", "deskguard.bench.storm", "app", "--duration", str(duration_s),
               "--warmup", str(warmup_s)]
        with open(os.path.join(home, "app-stderr.txt"), "w+") as stderr:
            app = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=stderr,
                                   stdin=subprocess.DEVNULL, text=True)
            try:
                assert app.stdout is not None
                lines = LineReader(app.stdout)
                try:
                    lines.wait_for("READY", 90.0)
                    time.sleep(warmup_s)
                    reactions, missed = _inject_breaches(control, duration_s, breach_every_s)
                    measured = json.loads(lines.wait_for("RESULT ", 60.0).split(" ", 1)[1])
                except (TimeoutError, EOFError) as exc:
                    stderr.seek(0)
                    raise RuntimeError(f"storm app: {exc}\n{stderr.read()[-3000:]}") from None
                with contextlib.suppress(subprocess.TimeoutExpired):
                    app.wait(timeout=30.0)  # a clean quit; if it hangs, stop_process ends it
            finally:
                stop_process(app)
                if app.stdout is not None:
                    app.stdout.close()  # the reader thread ends at the closed pipe
        if missed:  # keep the app's log, which says what the guard did with each breach
            kept = os.path.join(tempfile.gettempdir(), f"deskguard-storm-missed-{os.getpid()}.log")
            with contextlib.suppress(OSError):
                shutil.copyfile(os.path.join(home, "logs", "deskguard.log"), kept)
                print(f"storm: {missed} breach(es) missed; the app's log is kept in {kept}", file=sys.stderr)
    pacer = sim.pacer
    out = {
        "storm_loop_lag_p99_ms": measured["loop_lag_p99_ms"],
        "storm_paint_ms_p99": measured["paint_ms_p99"],
        "storm_paint_interval_p99_ms": measured["paint_interval_p99_ms"],
        "storm_reaction_p99_ms": round(percentile(reactions, 99), 3),
        "storm_cpu_percent": measured["cpu_percent"],
        "storm_quotes_per_s": measured["quotes_per_s"],
        "storm_quotes_to_guard_per_s": measured["quotes_to_guard_per_s"],
        "storm_loop_lag_p50_ms": measured["loop_lag_p50_ms"],
        "storm_loop_lag_max_ms": measured["loop_lag_max_ms"],
        "storm_paint_ms_p50": measured["paint_ms_p50"],
        "storm_paint_ms_max": measured["paint_ms_max"],
        "storm_paint_interval_p50_ms": measured["paint_interval_p50_ms"],
        "storm_paint_interval_max_ms": measured["paint_interval_max_ms"],
        "storm_paints_per_s": measured["paints_per_s"],
        "storm_timer_interval_p50_ms": measured["timer_interval_p50_ms"],
        "storm_timer_interval_p99_ms": measured["timer_interval_p99_ms"],
        "storm_timer_interval_max_ms": measured["timer_interval_max_ms"],
        "storm_reaction_p50_ms": round(statistics.median(reactions), 3),
        "storm_reaction_max_ms": round(max(reactions), 3),
        "storm_breaches": len(reactions),
        "storm_breaches_missed": missed,
        "storm_app_gc_max_ms": measured["gc_max_ms"],
    }
    if pacer.get("seconds"):
        out["storm_simulator_quotes_per_s"] = round(pacer["steps"] / pacer["seconds"])
        out["storm_simulator_loop_lag_p99_ms"] = pacer.get("loop_lag_p99_ms", float("nan"))
        out["storm_simulator_gc_max_ms"] = pacer.get("gc_max_ms", float("nan"))
    return out


def _inject_breaches(control: Any, duration_s: float, every_s: float) -> tuple[list[float], int]:
    reactions: list[float] = []
    missed = 0
    marker = 0  # every log record we look for is newer than this sequence number
    started = time.monotonic()
    i = 0
    # Breaches fall inside the app's measured window (which started with this loop): one that
    # could not start by its last half-second (the previous ones ran late) is not made.
    while i * every_s < duration_s and (i == 0 or time.monotonic() - started < duration_s - 0.5):
        time.sleep(max(0.0, started + i * every_s - time.monotonic()))
        account_id, symbol = HOLDINGS[i % len(HOLDINGS)]
        i += 1
        order_id = control.place_order(account_id, symbol, "buy", 1).get("orderId")
        deadline = time.monotonic() + ENFORCE_TIMEOUT_S
        # The fill's push first, while it is surely still in the simulator's (bounded) push log.
        # (_poll calls the lambdas before the loop moves on; the defaults only say so.)
        push = _poll(lambda marker=marker, order_id=order_id: next(
            (p for p in control.pushes(target="GatewayUserTrade", since=marker)
             if push_payload(p["arguments"]).get("orderId") == order_id), None), deadline)
        request = None
        if push is not None:
            request = _poll(lambda push=push, account_id=account_id: next((r for r in control.requests(since=push["seq"])
                                          if r["endpoint"] in ENFORCEMENT and isinstance(r["body"], dict)
                                          and r["body"].get("accountId") == account_id), None), deadline)
        if request is None:
            missed += 1
            reactions.append(ENFORCE_TIMEOUT_S * 1000)
            size = sum(p["size"] for p in control.state(only=("positions",))["positions"] if p["accountId"] == account_id)
            print(f"storm: {time.strftime('%H:%M:%S')} breach {i} on account {account_id} (order {order_id}) missed: "
                  f"{'no enforcement request' if push is not None else 'its push not found'} within "
                  f"{ENFORCE_TIMEOUT_S:g} s; size {size} then", file=sys.stderr)
        else:
            reactions.append((request["mono"] - push["mono"]) * 1000)
        _wait_size(control, account_id, time.monotonic() + ENFORCE_TIMEOUT_S)
        marker = max([marker] + [r["seq"] for r in control.requests(since=marker)])
    return reactions, missed


def _poll(find: Any, deadline: float, every: float = 0.01) -> Any:
    while True:
        found = find()
        if found is not None or time.monotonic() > deadline:
            return found
        time.sleep(every)


def _wait_size(control: Any, account_id: int, deadline: float) -> None:
    """Until the account is back at the limit (the guard reduced it), so breaches stay separate."""
    while time.monotonic() < deadline:
        if sum(p["size"] for p in control.state(only=("positions",))["positions"]
               if p["accountId"] == account_id) <= LIMIT:
            return
        time.sleep(0.01)


# --------------------------------------------------------------------- the app


class QuoteCounter:
    """GatewayQuote messages as the SDK's market hub dispatches them (before its per-contract
    coalescing), and quote callbacks reaching DeskGuard's broker adapter (after it)."""

    def __init__(self) -> None:
        self.wire = 0
        self.to_guard = 0

    def install(self) -> None:
        from ..broker.realtime import GuardRealtimeClient

        original = GuardRealtimeClient._forward_quote_update
        counter = self

        def counted(rt: Any, *args: Any) -> None:
            counter.wire += 1
            original(rt, *args)

        # The hub handler is bound when each realtime client sets up its connections: patching
        # the class (in this benchmark-only process) counts every client the broker builds.
        # A plain function where the SDK's method was: the counting wrapper of this benchmark process only.
        GuardRealtimeClient._forward_quote_update = counted  # type: ignore[method-assign,assignment]  # bench-only patch

    def wrap_broker(self, broker: Any) -> None:
        original = broker._on_quote_raw

        def counted(data: Any) -> None:
            self.to_guard += 1
            original(data)

        broker._on_quote_raw = counted  # bound into the SDK's callbacks when the broker starts


def _run_app(duration_s: float, warmup_s: float) -> int:
    import asyncio
    import resource

    import qasync
    from PySide6.QtCore import Qt, QTimer

    from ..config import config_path, log_dir, save_config
    from ..logs import setup_logging
    from ..ui.app import DesktopApp, Startup
    from .guard_config import bench_config

    save_config(bench_config(SYMBOLS, max_contracts=LIMIT), config_path())
    setup_logging(log_dir())
    quotes = QuoteCounter()
    quotes.install()

    async def startup(args: Any) -> Startup:
        from ..broker.projectx import ProjectXBroker
        from ..runtime import prepare_runtime

        # The gateway's budget (200 requests a minute, the broker's default) is lifted, as in the
        # reaction and flatten benchmarks: ~330 breaches a minute, each a reduce and its check,
        # are over three times that, and from the 100th breach on the closes waited for the budget.
        lifted = functools.partial(ProjectXBroker, requests_per_minute=100_000)
        runtime = await prepare_runtime(broker_factory=lifted)
        quotes.wrap_broker(runtime.guardian.broker)
        # GuardianPort (ui/port.py) declares health and settings as plain attributes; Guardian's are read-only.
        return Startup(runtime.guardian, cleanup=runtime.close)  # type: ignore[arg-type]  # read-only properties

    desk = DesktopApp(argparse.Namespace(demo=False, smoke=False), startup, tray_available=False)
    lag, gc_pauses = LoopLag(LAG_SLEEP_S), GcPauses()
    ticks: list[float] = []
    last_tick: list[float] = []

    def on_tick() -> None:
        now = time.perf_counter()
        if last_tick:
            ticks.append((now - last_tick[0]) * 1000)
            last_tick[0] = now
        else:
            last_tick.append(now)

    paints = _paint_probe(desk.window)

    async def main() -> int:
        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(TIMER_INTERVAL_MS)
        timer.timeout.connect(on_tick)
        timer.start()
        lag.start()
        gc_pauses.install()
        app_task = asyncio.create_task(desk.main())
        try:
            deadline = time.monotonic() + 60.0
            while not (desk.startup is not None and desk.startup.guardian.health.guarding):
                if app_task.done() or time.monotonic() > deadline:
                    print("FAILED the app did not start guarding", flush=True)
                    return 1
                await asyncio.sleep(0.05)
            print("READY", flush=True)
            await _sleep_fully(warmup_s)
            guardian: Any = desk.startup.guardian
            lag.samples.clear()
            gc_pauses.clear()
            ticks.clear()
            last_tick.clear()
            paints.clear()
            wire0, guard0, events0 = quotes.wire, quotes.to_guard, guardian.events_processed
            r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            await _sleep_fully(duration_s)
            r1, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - t0
            cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
            lags = lag.samples
            result = {
                "loop_lag_p50_ms": round(statistics.median(lags), 3),
                "loop_lag_p99_ms": round(percentile(lags, 99), 3),
                "loop_lag_max_ms": round(max(lags), 3),
                "timer_interval_p50_ms": round(statistics.median(ticks), 3),
                "timer_interval_p99_ms": round(percentile(ticks, 99), 3),
                "timer_interval_max_ms": round(max(ticks), 3),
                **paints.summary(wall),
                "cpu_percent": round(100 * cpu / wall, 1),
                "quotes_per_s": round((quotes.wire - wire0) / wall),
                "quotes_to_guard_per_s": round((quotes.to_guard - guard0) / wall),
                "events_per_s": round((guardian.events_processed - events0) / wall),
                **gc_pauses.summary(),
            }
            print("RESULT " + json.dumps(result), flush=True)
            return 0
        finally:
            timer.stop()
            await lag.stop()
            desk.window.quitConfirmed.emit()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(app_task, 30.0)

    return asyncio.run(main(), loop_factory=lambda: qasync.QEventLoop(desk.app))


async def _sleep_fully(seconds: float) -> None:
    """Sleep at least ``seconds`` by the monotonic clock. Under qasync a long ``asyncio.sleep`` is
    a Qt timer, which keeps to 5 % either way (``asyncio.sleep(10)`` returned after 9.6 s): the
    app's 60 s window could end seconds early, and the driver's last breaches, made up to 59.5 s
    into its own window, then met an app that was quitting and counted as missed. A 2026-12-06 run
    missed its 332nd and last breach so, with no trace of it in the app's log; by our reading the
    unexplained miss of 2026-12-05 was the same."""
    import asyncio

    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        await asyncio.sleep(min(left, 0.5))


def _paint_probe(window: Any) -> Any:
    """An event filter on ``window`` timing its repaint passes (see the module's docstring)."""
    from PySide6.QtCore import QEvent, QObject

    class PaintProbe(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.starts: list[float] = []
            self.durations: list[float] = []  # ms
            self._inside = False

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
            if event.type() != QEvent.Type.UpdateRequest or watched is not window or self._inside:
                return False
            self._inside = True
            started = time.perf_counter()
            try:
                window.event(event)  # the pass itself: paint every dirty widget, flush
            finally:
                self._inside = False
            self.starts.append(started)
            self.durations.append((time.perf_counter() - started) * 1000)
            return True  # delivered

        def clear(self) -> None:
            self.starts.clear()
            self.durations.clear()

        def summary(self, wall_s: float) -> dict[str, float]:
            gaps = [(b - a) * 1000 for a, b in zip(self.starts, self.starts[1:], strict=False)] or [float("nan")]
            spans = self.durations or [float("nan")]
            return {
                "paint_ms_p50": round(statistics.median(spans), 3),
                "paint_ms_p99": round(percentile(spans, 99), 3),
                "paint_ms_max": round(max(spans), 3),
                "paint_interval_p50_ms": round(statistics.median(gaps), 3),
                "paint_interval_p99_ms": round(percentile(gaps, 99), 3),
                "paint_interval_max_ms": round(max(gaps), 3),
                "paints_per_s": round(len(self.durations) / wall_s, 1),
            }

    probe = PaintProbe()
    window.installEventFilter(probe)
    return probe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the quote-storm benchmark (app mode is its child process)")
    parser.add_argument("mode", nargs="?", default="bench", choices=("bench", "app"))
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.mode == "app":
        return _run_app(args.duration, args.warmup)
    print(json.dumps(bench(duration_s=args.duration, warmup_s=args.warmup), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
