"""The simulator in a process of its own, so its work never shares the measured app's event loop.

``python -m deskguard.bench.simulator_process --quotes-per-s 2000 --symbols ES,NQ,…`` starts a
:class:`~deskguard.simulator.Simulator` on 127.0.0.1 with its own walk paused and prints
``listening <base_url>``. With a rate, once a market-hub client subscribed every listed contract,
it steps their random walks round-robin at ``quotes-per-s`` in all (one step of each contract per
round: the SDK keeps only the latest of one contract's quotes that arrive back to back, so bursts
of one contract would never reach the guard). The pacer is drift-free: each wake-up makes every
round due since the start (the simulator's own ``walk_interval_s`` loop sleeps *then* works, so it
falls below its nominal rate as soon as a step costs anything). Each step pushes what each
connection subscribed to: DeskGuard subscribes quotes only (a raw SDK client would also get the
GatewayTrade and GatewayDepth the gateway sends with each quote). With
``--total-quotes`` it stops after that many and prints ``fed <json>``. On SIGTERM it prints
``pacer <json>`` (steps, seconds, its own loop lag and GC pauses, RSS) and exits.

For the soak (:mod:`.soak`), the market can walk by itself instead (``--walk-interval``), with
``--accounts``, ``--idle-quotes`` and the gateway's request budget (``--request-budget``, HTTP 429
past it); the benchmarks keep the walk still and the budget off. The flatten benchmark (:mod:`.flatten`)
asks for a modelled network (``--network-delay``, one way, seconds) and accounts numbered from
``--first-account``. With ``--commands`` it reads commands on stdin and answers on stdout: the
reaction benchmark (:mod:`.reaction`) has its breaches made here, ``reaction ACCOUNT N`` → one
``reaction {"ms": [...], "at": [...]}`` line (``at``: each breach's push time), or
``{"error": ...}``, so its driver's polling never runs in the measured process.

:class:`SimulatorProcess` starts and stops one from a benchmark or the soak, with bounded waits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from ..simulator import (
    DEMO_API_KEY,
    DEMO_USERNAME,
    GATEWAY_REQUEST_BUDGET,
    GatewayUrls,
    RequestBudget,
    SimulatorControl,
)

#: The ten instruments the storm and memory benchmarks stream (as the engine benchmark's mix).
SYMBOLS = ("ES", "NQ", "MNQ", "MES", "YM", "RTY", "CL", "GC", "ZN", "6E")
PACER_TICK_S = 0.002
MAX_CATCH_UP_STEPS = 50  # per contract and wake-up: after a long stall, do not flood the hub at once


class LineReader:
    """Lines of a child's stdout, read on a thread, handed out with bounded waits."""

    def __init__(self, stream: Any) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        try:
            for line in stream:
                self.lines.put(line.rstrip("\n"))
        except (OSError, ValueError):
            pass
        finally:
            self.lines.put(None)  # end of stream

    def wait_for(self, prefix: str, timeout: float) -> str:
        """The first line starting with ``prefix`` (earlier lines are skipped); TimeoutError after
        ``timeout`` seconds, EOFError if the child closed its output first."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {prefix!r} line within {timeout:.0f} s")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise EOFError(f"the process ended before printing {prefix!r}")
            if line.startswith(prefix):
                return line

    def latest(self, prefix: str) -> str | None:
        """The newest line starting with ``prefix`` among those already read (without waiting)."""
        found = None
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return found
            if line is None:
                self.lines.put(None)  # keep the end-of-stream mark for later readers
                return found
            if line.startswith(prefix):
                found = line


def gateway_free_env() -> dict[str, str]:
    """``os.environ`` without the gateway and credential variables (``PROJECTX_*``, ``PROJECT_X_*``),
    so a benchmark never reaches the user's real gateway or account."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PROJECTX_", "PROJECT_X_"))}


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; always reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5.0)


class SimulatorProcess:
    """``with SimulatorProcess(quotes_per_s=2000) as sim:`` → ``sim.base_url``, ``sim.control``, ``sim.env()``."""

    def __init__(self, *, quotes_per_s: float = 0.0, symbols: Sequence[str] = SYMBOLS, seed: int = 1,
                 log_limit: int = 100_000, total_quotes: int = 0, start_timeout: float = 30.0, accounts: int = 3,
                 walk_interval_s: float = 0.0, idle_quote_interval_s: float | None = None,
                 request_budget: int = 0, first_account: int = 1001, network_delay_s: float = 0.0,
                 commands: bool = False) -> None:
        """``walk_interval_s`` > 0: the market walks by itself at that interval (0: only the pacer
        moves it). ``idle_quote_interval_s``: re-send standing quotes this often (None: 5 s without a
        pacer, never with one). ``request_budget``: requests per user per 60 s before HTTP 429 (0: off).
        ``network_delay_s``: the simulator's modelled one-way network latency (0: loopback).
        ``commands``: the child takes commands on stdin (:meth:`ask`)."""
        self.commands = commands
        self.quotes_per_s = quotes_per_s
        self.accounts = accounts
        self.first_account = first_account
        self.network_delay_s = network_delay_s
        self.walk_interval_s = walk_interval_s
        self.idle_quote_interval_s = idle_quote_interval_s
        self.request_budget = request_budget
        self.log_limit = log_limit
        self.total_quotes = total_quotes
        self.symbols = tuple(symbols)
        self.seed = seed
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.reader: LineReader | None = None
        self.base_url = ""
        self.pacer: dict[str, Any] = {}

    def __enter__(self) -> SimulatorProcess:
        cmd = [sys.executable, "-m", "deskguard.bench.simulator_process", "--seed", str(self.seed),
               "--quotes-per-s", str(self.quotes_per_s), "--symbols", ",".join(self.symbols),
               "--log-limit", str(self.log_limit), "--total-quotes", str(self.total_quotes),
               "--accounts", str(self.accounts), "--walk-interval", str(self.walk_interval_s),
               "--request-budget", str(self.request_budget), "--first-account", str(self.first_account),
               "--network-delay", str(self.network_delay_s)]
        if self.idle_quote_interval_s is not None:
            cmd += ["--idle-quotes", str(self.idle_quote_interval_s)]
        if self.commands:
            cmd += ["--commands"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stdin=subprocess.PIPE if self.commands else subprocess.DEVNULL, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            self.reader = LineReader(self.proc.stdout)
            self.base_url = self.reader.wait_for("listening ", self.start_timeout).split(" ", 1)[1].strip()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def ask(self, command: str, reply: str, timeout: float) -> str:
        """Send one command line (``commands=True``) and return the rest of the child's answer line,
        the first starting with ``reply`` (blocking: call it in a thread from an event loop)."""
        assert self.proc is not None and self.proc.stdin is not None and self.reader is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.reader.wait_for(reply, timeout)[len(reply):]

    @property
    def urls(self) -> GatewayUrls:
        return GatewayUrls(self.base_url)

    @property
    def control(self) -> SimulatorControl:
        return SimulatorControl(self.base_url, timeout_s=10.0)

    def env(self) -> dict[str, str]:
        """This process's environment, pointing DeskGuard (and the SDK) at this simulator only."""
        return {
            **gateway_free_env(),
            "PYTHONUNBUFFERED": "1",
            "PROJECTX_API_URL": self.urls.api_url,
            "PROJECTX_USER_HUB_URL": self.urls.user_hub_url,
            "PROJECTX_MARKET_HUB_URL": self.urls.market_hub_url,
            "PROJECT_X_USERNAME": DEMO_USERNAME,
            "PROJECT_X_API_KEY": DEMO_API_KEY,
        }

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()
            stop_process(self.proc)
            if self.reader is not None:
                try:
                    self.pacer = json.loads(self.reader.wait_for("pacer ", 2.0).split(" ", 1)[1])
                except (TimeoutError, EOFError, ValueError):
                    pass
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None


# --------------------------------------------------------------------- the child process


async def _pace(sim: Any, contracts: list[Any], quotes_per_s: float, total_quotes: int, stop: asyncio.Event,
                stats: dict[str, Any]) -> None:
    """Once every contract is subscribed on the market hub, step the walks round-robin (one step
    of each contract per round, so one contract's quotes never arrive back to back) at
    ``quotes_per_s``; after ``total_quotes`` (0: no end) print ``fed <json>``."""
    wanted = {c.id for c in contracts}

    def subscribed() -> bool:  # quotes of every contract, on one connection
        return any(wanted <= set(c["subscriptions"]["quotes"]) for c in sim.hubs.describe()["market"])

    while not subscribed():
        if stop.is_set():
            return
        await asyncio.sleep(0.01)
    rounds_per_s = quotes_per_s / len(contracts)
    last_round = total_quotes // len(contracts) if total_quotes > 0 else None
    started = time.perf_counter()
    done = 0  # rounds due so far (made, or dropped after a stall)
    made = 0
    while not stop.is_set() and (last_round is None or made < last_round):
        due = int((time.perf_counter() - started) * rounds_per_s) - done
        if due > 0:
            take = min(due, MAX_CATCH_UP_STEPS)
            if last_round is not None:
                take = min(take, last_round - made)
            stats["max_catch_up"] = max(stats["max_catch_up"], due)
            for _ in range(take):
                for contract in contracts:
                    sim.step_walk(contract, 1)
            done += due  # rounds beyond the cap are dropped, not owed: the rate stays honest
            made += take
            stats["steps"] += take * len(contracts)
        await asyncio.sleep(PACER_TICK_S)
    stats["seconds"] = round(time.perf_counter() - started, 3)
    if last_round is not None:
        print("fed " + json.dumps(stats), flush=True)


async def _serve(seed: int, quotes_per_s: float, symbols: list[str], log_limit: int,
                 total_quotes: int = 0, *, accounts: int = 3, walk_interval_s: float = 0.0,
                 idle_quote_interval_s: float | None = None, request_budget: int = 0, first_account: int = 1001,
                 network_delay_s: float = 0.0, commands: bool = False) -> dict[str, Any]:
    from ..simulator import Simulator, default_accounts
    from .probes import GcPauses, LoopLag, rss_mb
    from .reaction import percentile

    if idle_quote_interval_s is None:
        idle_quote_interval_s = 0.0 if quotes_per_s > 0 else 5.0
    # The storm's breaches, several requests each, come close to the gateway's 200 a minute, which
    # is not what it measures: the benchmarks run with the budget off (0). The soak sets one.
    budget = (RequestBudget(request_budget, 60.0, GATEWAY_REQUEST_BUDGET.history_limit,
                            GATEWAY_REQUEST_BUDGET.history_window_s) if request_budget > 0 else None)
    sim = Simulator(seed=seed, accounts=default_accounts(accounts, first_account),
                    walk_paused=walk_interval_s <= 0, walk_interval_s=walk_interval_s if walk_interval_s > 0 else 0.5,
                    idle_quote_interval_s=idle_quote_interval_s or None, log_limit=log_limit, request_budget=budget,
                    network_delay_s=network_delay_s)
    await sim.start()
    # No cyclic garbage collection in this process: with thousands of log records alive, each full
    # collection stalled this loop (and so the measured app's feed, and the stamps of the requests
    # it receives) for 100-250 ms. Reference counting still frees everything; the few cycles
    # aiohttp makes are left for the process's end, a couple of minutes away.
    gc.freeze()
    gc.disable()
    lag, gc_pauses = LoopLag(), GcPauses()
    lag.start()
    gc_pauses.install()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    contracts = [sim.contract(s) for s in symbols]
    stats: dict[str, Any] = {"steps": 0, "seconds": 0.0, "max_catch_up": 0}
    print(f"listening {sim.base_url}", flush=True)
    if commands:
        _read_commands(sim, loop)
    try:
        if quotes_per_s > 0:
            await _pace(sim, contracts, quotes_per_s, total_quotes, stop, stats)
        await stop.wait()
        return stats
    finally:
        await lag.stop()
        if lag.samples:
            stats["loop_lag_p99_ms"] = round(percentile(lag.samples, 99), 3)
            stats["loop_lag_max_ms"] = round(max(lag.samples), 3)
        stats.update(gc_pauses.summary())
        stats["rss_mb"] = round(rss_mb(), 1)
        await sim.stop()


def _read_commands(sim: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Commands on stdin, one a line, each run on the loop in turn; the answers on stdout."""
    lines: asyncio.Queue[str] = asyncio.Queue()

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line.strip())

    async def run() -> None:
        from .reaction import _breaches

        while True:
            words = (await lines.get()).split()
            if words[:1] == ["reaction"] and len(words) == 3:
                try:
                    at: list[float] = []
                    answer: dict[str, Any] = {"ms": await _breaches(sim, int(words[1]), int(words[2]), at=at),
                                              "at": at}
                except Exception as exc:  # said to the benchmark, which raises it there
                    answer = {"error": f"{type(exc).__name__}: {exc}"}
                print("reaction " + json.dumps(answer), flush=True)
            elif words:
                print(f"error unknown command {' '.join(words)!r}", flush=True)

    threading.Thread(target=pump, daemon=True, name="commands").start()
    task = loop.create_task(run())
    _COMMANDS.add(task)
    task.add_done_callback(_COMMANDS.discard)


_COMMANDS: set[asyncio.Task] = set()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quotes-per-s", type=float, default=0.0, help="0: the walk stays still")
    parser.add_argument("--symbols", default=",".join(SYMBOLS))
    parser.add_argument("--log-limit", type=int, default=100_000, help="records kept in each request/push log")
    parser.add_argument("--total-quotes", type=int, default=0, help="stop the walk after this many (0: never)")
    parser.add_argument("--accounts", type=int, default=3, help="accounts served (ids from --first-account)")
    parser.add_argument("--first-account", type=int, default=1001, help="the first account's id")
    parser.add_argument("--network-delay", type=float, default=0.0,
                        help="modelled one-way network latency in seconds for every request and push (0: loopback)")
    parser.add_argument("--walk-interval", type=float, default=0.0,
                        help="seconds between the market's own random-walk steps (0: it moves only by the pacer)")
    parser.add_argument("--idle-quotes", type=float, default=None,
                        help="re-send standing quotes this often (0: never; default 5 s without a pacer, never with one)")
    parser.add_argument("--request-budget", type=int, default=0,
                        help="requests per user per 60 s before HTTP 429 (0: no budget, the default)")
    parser.add_argument("--commands", action="store_true",
                        help="take commands on stdin (the reaction benchmark's breaches: 'reaction ACCOUNT N')")
    args = parser.parse_args(argv)
    symbols = [s for s in args.symbols.split(",") if s]
    stats = asyncio.run(_serve(args.seed, args.quotes_per_s, symbols, args.log_limit, args.total_quotes,
                               accounts=args.accounts, walk_interval_s=args.walk_interval,
                               idle_quote_interval_s=args.idle_quotes, request_budget=args.request_budget,
                               first_account=args.first_account, network_delay_s=args.network_delay,
                               commands=args.commands))
    print("pacer " + json.dumps(stats), flush=True)


if __name__ == "__main__":
    main()
