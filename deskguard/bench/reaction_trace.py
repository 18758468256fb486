"""Where the reaction's tail goes: the reaction benchmark's breaches, each stage time-stamped.

``python -m deskguard.bench.reaction_trace [--breaches N] [--load [N]]`` runs both sides of
:mod:`.reaction` as the benchmark does (the simulator in its own process, where the breaches are
made; the floor first, then the guard) with marks at each stage of the path from the simulator's
push of the breaching fill to the first enforcement request it receives. The guard's:

    push → the SDK's callback for the position (``callback``) → the guardian's queue (``queued``)
    → decided (``decided``) → the enforcer's broker call (``post``) → the simulator has the request

the floor's: push → the SDK's callbacks for the position (``callback``) → its ``_make_request``
(``post``) → request. The push and request times come from the simulator's process
(``time.perf_counter`` is one clock for every process of the machine). Beside the path, what else
ran in the measured process meanwhile: the store's batches on their thread (``store``), garbage
collections (``gc``), and in the guard's event loop every step longer than ``SLOW_STEP_S`` (named
by its task's coroutine or its callback). For the slowest 3 % of breaches it prints which step took
longest, and how often each thing overlapped them (``tail_slow_steps`` against ``all_slow_steps``:
a loop step found beside most of the tail but few of all breaches is what delays the tail), and
each kind of slow step's count, median and longest (``slow_step_ms``). A diagnostic, not a figure:
the marks (wrappers around a few methods, and around every loop step) cost a little themselves, so
its percentiles are not the benchmark's. The SDK and the simulator are not changed, only wrapped.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from . import reaction
from .load import CpuLoad, default_load

#: The path's marks, in order (the first is the simulator's push, the last its receipt of the request).
PATH = ("push", "callback", "queued", "decided", "post", "request")
#: What ran beside the path: (start mark, end mark).
BESIDE = {"store": ("store_start", "store_end"), "gc": ("gc_start", "gc_stop")}


#: A step of the guard's event loop that took longer than this is kept as a span beside the path.
SLOW_STEP_S = 0.0002


@dataclass
class Marks:
    stamps: list[tuple[str, float]] = field(default_factory=list)  # (mark, time.perf_counter())
    spans: list[tuple[str, float, float]] = field(default_factory=list)  # (slow loop step, start, end)

    def mark(self, name: str) -> None:
        self.stamps.append((name, time.perf_counter()))

    def between(self, start: float, end: float) -> list[tuple[str, float]]:
        return [(n, t) for n, t in self.stamps if start <= t <= end]


@contextmanager
def _wrapped(obj: Any, name: str, around: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Iterator[None]:
    original = getattr(obj, name)
    setattr(obj, name, around(original))
    try:
        yield
    finally:
        setattr(obj, name, original)


@contextmanager
def instrumented(marks: Marks) -> Iterator[None]:
    """Marks at DeskGuard's own stages (class attributes patched for the duration)."""
    from ..broker.session import Session
    from ..broker.stream import HubStream
    from ..guardian.bookkeeping import StoreQueue
    from ..guardian.core import Guardian

    def on_user_raw(f: Callable[..., Any]) -> Callable[..., Any]:
        def w(self: Any, kind: str, data: Any) -> Any:
            if kind == "position":
                marks.mark("callback")
            return f(self, kind, data)
        return w

    def submit_event(f: Callable[..., Any]) -> Callable[..., Any]:
        def w(self: Any, event: Any) -> Any:
            if type(event).__name__ == "PositionUpdated":
                marks.mark("queued")
            return f(self, event)
        return w

    def handle(f: Callable[..., Any]) -> Callable[..., Any]:
        def w(self: Any, verdict: Any, event: Any) -> Any:
            if type(event).__name__ == "PositionUpdated":
                marks.mark("decided")
            return f(self, verdict, event)
        return w

    def post(f: Callable[..., Any]) -> Callable[..., Any]:
        async def w(self: Any, endpoint: str, *args: Any, **kwargs: Any) -> Any:
            if endpoint.endswith(reaction.ENFORCEMENT):
                marks.mark("post")
            return await f(self, endpoint, *args, **kwargs)
        return w

    def hand_over(f: Callable[..., Any]) -> Callable[..., Any]:
        def w(self: Any, task: Callable[[], None], calls: int) -> Any:
            def marked() -> None:
                marks.mark("store_start")
                try:
                    task()
                finally:
                    marks.mark("store_end")
            return f(self, marked, calls)
        return w

    def on_gc(phase: str, _info: dict[str, Any]) -> None:
        marks.mark("gc_start" if phase == "start" else "gc_stop")

    def run_handle(f: Callable[..., Any]) -> Callable[..., Any]:
        def w(self: Any) -> Any:
            start = time.perf_counter()
            try:
                return f(self)
            finally:
                end = time.perf_counter()
                if end - start > SLOW_STEP_S:
                    marks.spans.append((_step_name(self), start, end))
        return w

    gc.callbacks.append(on_gc)
    try:
        with _wrapped(HubStream, "on_user_raw", on_user_raw), _wrapped(Guardian, "submit_event", submit_event), \
                _wrapped(Guardian, "_handle", handle), _wrapped(Session, "post", post), \
                _wrapped(StoreQueue, "_hand_over", hand_over), _wrapped(asyncio.Handle, "_run", run_handle):
            yield
    finally:
        gc.callbacks.remove(on_gc)


def _step_name(handle: Any) -> str:
    """What a loop step ran: a task's coroutine, or the callback's qualified name."""
    callback = getattr(handle, "_callback", None)
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        return f"task {getattr(coro, '__qualname__', coro)}"
    return getattr(callback, "__qualname__", repr(callback))


@contextmanager
def floor_instrumented(marks: Marks) -> Iterator[None]:
    """Marks at the SDK floor's stages: the SDK hands it the position (``callback``), it sends the
    close (``post``, at the SDK's ``_make_request``). Class attributes patched for the duration."""
    from project_x_py import ProjectX
    from project_x_py.realtime import ProjectXRealtimeClient

    def trigger(f: Callable[..., Any]) -> Callable[..., Any]:
        async def w(self: Any, event_type: str, data: Any) -> Any:
            if event_type == "position_update":
                marks.mark("callback")
            return await f(self, event_type, data)
        return w

    def request(f: Callable[..., Any]) -> Callable[..., Any]:
        async def w(self: Any, method: str, endpoint: str, *args: Any, **kwargs: Any) -> Any:
            if endpoint.endswith(reaction.ENFORCEMENT):
                marks.mark("post")
            return await f(self, method, endpoint, *args, **kwargs)
        return w

    def on_gc(phase: str, _info: dict[str, Any]) -> None:
        marks.mark("gc_start" if phase == "start" else "gc_stop")

    gc.callbacks.append(on_gc)
    try:
        with _wrapped(ProjectXRealtimeClient, "_trigger_callbacks", trigger), _wrapped(ProjectX, "_make_request", request):
            yield
    finally:
        gc.callbacks.remove(on_gc)


@dataclass
class Breach:
    total_ms: float
    steps: dict[str, float]  # "a→b": ms between the path's marks
    beside: set[str]  # what ran (in part) between the push and the request
    slow_steps: set[str] = field(default_factory=set)  # the guard's slow loop steps meanwhile


def breaches(timed: list[tuple[float, float]], marks: Marks) -> list[Breach]:
    """Each breach of the run (its push time and ms to the request, from the simulator): its
    path's steps and what overlapped it."""
    out = []
    for push, ms in timed:
        request = push + ms / 1000
        seen = marks.between(push, request)
        at = {"push": push, "request": request}
        for name, t in seen:
            if name in PATH:
                at.setdefault(name, t)
        path = [(n, at[n]) for n in PATH if n in at]
        steps = {f"{a}→{b}": (tb - ta) * 1000 for (a, ta), (b, tb) in zip(path, path[1:], strict=False)}
        names = {n for n, _ in seen}
        beside = {what for what, (start, end) in BESIDE.items() if start in names or end in names}
        slow = {what for what, start, end in marks.spans if start < request and end > push}
        out.append(Breach(ms, steps, beside, slow))
    return out


def _span_ms(spans: list[tuple[str, float, float]]) -> dict[str, str]:
    """Per kind of slow loop step: how many, median and max ms."""
    by: dict[str, list[float]] = {}
    for what, start, end in spans:
        by.setdefault(what, []).append((end - start) * 1000)
    return {what: f"{len(ms)}x, median {statistics.median(ms):.2f}, max {max(ms):.2f}"
            for what, ms in sorted(by.items(), key=lambda kv: -len(kv[1]))}


def summary(found: list[Breach], tail_share: float = 0.03,
            spans: list[tuple[str, float, float]] | None = None) -> dict[str, Any]:
    ordered = sorted(found, key=lambda b: b.total_ms)
    tail = ordered[-max(1, round(len(ordered) * tail_share)):]
    middle = ordered[len(ordered) // 4: max(len(ordered) // 4 + 1, 3 * len(ordered) // 4)]
    return {
        "breaches": len(ordered),
        "p50_ms": round(statistics.median(b.total_ms for b in ordered), 3),
        "p99_ms": round(reaction.percentile([b.total_ms for b in ordered], 99), 3),
        "median_steps_ms": {s: round(statistics.median(b.steps.get(s, 0.0) for b in middle), 3)
                            for s in middle[0].steps},
        "tail": len(tail),
        "tail_longest_step": dict(Counter(max(b.steps, key=lambda s: b.steps[s]) for b in tail if b.steps)),
        "tail_median_steps_ms": {s: round(statistics.median(b.steps.get(s, 0.0) for b in tail), 3)
                                 for s in tail[0].steps},
        "tail_overlapped_by": dict(Counter(w for b in tail for w in b.beside)),
        "all_overlapped_by": dict(Counter(w for b in ordered for w in b.beside)),
        "tail_slow_steps": dict(Counter(w for b in tail for w in b.slow_steps).most_common()),
        "slow_step_ms": _span_ms(spans or []),
        "all_slow_steps": dict(Counter(w for b in ordered for w in b.slow_steps).most_common()),
    }


async def _run(n: int, load: int) -> dict[str, dict[str, Any]]:
    """Both sides of the benchmark (the floor first, as there), traced; under ``load`` competitors."""
    from .simulator_process import SimulatorProcess

    logging.getLogger("project_x_py").setLevel(logging.ERROR)
    out: dict[str, dict[str, Any]] = {}
    with SimulatorProcess(accounts=2, first_account=reaction.GUARDED, commands=True) as sim, \
            tempfile.TemporaryDirectory() as tmp, CpuLoad(load):
        sim.control.set_price("MNQ", 21000.0)
        for account in (reaction.GUARDED, reaction.FLOOR):
            sim.control.place_order(account, "MNQ", "buy", reaction.LIMIT)
        await asyncio.sleep(0.5 if load else 0)  # the competitors are running before anything is timed
        for side in ("floor", "deskguard"):
            marks = Marks()
            timed: list[tuple[float, float]] = []
            if side == "floor":
                with floor_instrumented(marks):
                    await reaction._sdk_floor(sim, n, reaction._in_simulator_process(sim, timed))
            else:
                with instrumented(marks):
                    await reaction._deskguard(sim, n, tmp, breaches=reaction._in_simulator_process(sim, timed))
            out[side] = summary(breaches(timed, marks), spans=marks.spans)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--breaches", type=int, default=1000)
    parser.add_argument("--load", type=int, nargs="?", const=-1, default=0, metavar="N",
                        help="N CPU-bound competitor processes (no N: one per core)")
    args = parser.parse_args(argv)
    load = default_load() if args.load < 0 else args.load
    started = time.perf_counter()
    result = asyncio.run(_run(args.breaches, load))
    for side, figures in result.items():
        print(side)
        for key, value in figures.items():
            print(f"  {key:<22} {value}")
    print(f"({load} competitor process(es); took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
