"""``python -m deskguard.bench [NAME ...]``: run benchmarks, print a table, write bench-results.json.

``reaction --load [N]`` measures the reaction again while N CPU-bound competitor processes run (one
per core without N), idle and loaded figures in one run (:mod:`.load`).

Names: engine, reaction, flatten, storm, startup, memory, replay (default: all). ``--quick`` runs each with
reduced counts (a self-test of the figures, not a measurement). The figures of the benchmarks run
replace theirs in ``--out``; the other benchmarks' figures already there are kept. Figures are
medians of repeated runs (p99 and max where named). Storm, memory and flatten run the app or the
guard and the simulator as separate processes on 127.0.0.1; flatten's simulator models a network
delay.

The soak, a long run with faults that checks invariants rather than measuring, has its own command:
``python -m deskguard.bench.soak`` (:mod:`deskguard.bench.soak`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

NAMES = ("engine", "reaction", "flatten", "storm", "startup", "memory", "replay")
#: The keys each benchmark writes start with one of these (a rerun drops its old keys first).
PREFIXES = {"engine": ("engine_",), "reaction": ("reaction_", "sdk_floor_"), "flatten": ("flatten_",),
            "storm": ("storm_",), "startup": ("startup_",), "memory": ("rss_", "memory_"), "replay": ("replay_",)}


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": str(os.cpu_count()), "python": platform.python_version(), "os": platform.platform()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help=f"{', '.join(NAMES)} (default: all)")
    parser.add_argument("--breaches", type=int, default=1000, help="reaction: breaches per side (default 1000)")
    parser.add_argument("--load", type=int, nargs="?", const=-1, default=0, metavar="N",
                        help="reaction: measure again while N CPU-bound competitor processes run "
                             "(no N: one per core); idle and loaded figures in the same run")
    parser.add_argument("--flatten-breaches", type=int, default=200,
                        help="flatten: breaches, each on a fresh account (default 200)")
    parser.add_argument("--quick", action="store_true",
                        help="reduced counts for a self-test (about a minute in all); figures are not comparable")
    parser.add_argument("--storm-seconds", type=float, default=60.0, help="storm: measured seconds (default 60)")
    parser.add_argument("--startup-runs", type=int, default=5, help="startup: runs (default 5)")
    parser.add_argument("--out", default="bench-results.json")
    args = parser.parse_args(argv)
    names = args.names or list(NAMES)
    unknown = set(names) - set(NAMES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose {', '.join(NAMES)}")
    if args.quick:
        args.breaches = min(args.breaches, 50)
        args.flatten_breaches = min(args.flatten_breaches, 10)
        args.storm_seconds = min(args.storm_seconds, 5.0)
        args.startup_runs = 1
    results: dict[str, float] = {}
    started = time.perf_counter()
    if "engine" in names:
        from .engine_throughput import bench as engine_bench

        repeats, events = (1, 20_000) if args.quick else (5, 100_000)
        print(f"engine throughput ({repeats} run(s) of {events:,} events through a trading day)…", flush=True)
        results.update(engine_bench(repeats, events))
    if "reaction" in names:
        from .load import default_load
        from .reaction import bench as reaction_bench

        load = default_load() if args.load < 0 else args.load
        print(f"reaction time ({args.breaches} breaches through the SDK, and the SDK floor"
              + (f"; again under {load} CPU-bound competitor process(es)" if load else "") + ")…", flush=True)
        results.update(reaction_bench(args.breaches, load=load))
    if "flatten" in names:
        from .flatten import bench as flatten_bench

        print(f"flatten ({args.flatten_breaches} daily-loss breaches of 3 positions and 3 orders, "
              "20 ms round trip)…", flush=True)
        results.update(flatten_bench(args.flatten_breaches))
    if "storm" in names:
        from .storm import bench as storm_bench

        print(f"quote storm (the app, 2,000 quotes/s for {args.storm_seconds:.0f} s, a breach every 0.18 s)…",
              flush=True)
        results.update(storm_bench(duration_s=args.storm_seconds, **({"warmup_s": 1.0} if args.quick else {})))
    if "startup" in names:
        from .startup import bench as startup_bench

        print(f"start-up ({args.startup_runs} runs of deskguard --smoke)…", flush=True)
        results.update(startup_bench(args.startup_runs))
    if "memory" in names:
        from .memory import bench as memory_bench

        print("memory (" + ("3,000 quotes, quick" if args.quick else "one simulated hour: 360,000 quotes and 240 fills")
              + " through the guard)…", flush=True)
        results.update(memory_bench(quotes=3000) if args.quick else memory_bench())
    if "replay" in names:
        from .replay import bench as replay_bench

        days, fills, repeats = (10, 200, 1) if args.quick else (90, 200, 5)
        print(f"replay ({repeats} run(s) of {days} trading days x {fills} fills through every rule)…", flush=True)
        results.update(replay_bench(days, fills, repeats))
    width = max(len(k) for k in results)
    print()
    for key, value in results.items():
        print(f"{key:<{width}}  {value:>12,}")
    print(f"\n{machine()['cpu']}, {machine()['cores']} cores, Python {machine()['python']}; "
          f"took {time.perf_counter() - started:.0f} s")
    out = Path(args.out)
    kept: dict[str, float] = {}
    if out.exists():
        try:
            kept = json.loads(out.read_text())
        except ValueError:
            kept = {}
        ran = tuple(prefix for name in names for prefix in PREFIXES[name])
        kept = {k: v for k, v in kept.items() if not k.startswith(ran)}
    out.write_text(json.dumps({**kept, **results}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
