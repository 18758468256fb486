"""The command line (architecture.md): the desktop app, demo, headless guard, simulator, check-config.

Exit codes: :class:`deskguard.exit_codes.ExitCode` (listed in ``--help``). The guard itself (the
window, ``--demo``, ``--headless``) holds its home's single-instance lock (:mod:`deskguard.instance`);
``check-config``, ``simulator`` and ``--version`` guard nothing and never take it.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .exit_codes import EXIT_CODES_HELP, ExitCode


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="deskguard",
        description="DeskGuard: enforces your trading rules on TopstepX accounts in real time.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"deskguard {__version__}")
    p.add_argument("--demo", action="store_true", help="run against the built-in simulator, no credentials")
    p.add_argument("--headless", action="store_true", help="guard without a window, logging to stdout")
    p.add_argument("--smoke", action="store_true", help="start the demo, wait until guarding, paint, exit 0 (build checks)")
    sub = p.add_subparsers(dest="command")
    sim = sub.add_parser("simulator", help="run the built-in ProjectX-compatible gateway alone")
    sim.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0 = any free port)")
    sim.add_argument("--seed", type=int, default=None, help="random-walk seed (default: random)")
    sim.add_argument("--history-days", type=int, default=0, metavar="N",
                     help="serve N trading days of seeded past trades and 1-minute bars (for deskguard replay)")
    chk = sub.add_parser("check-config", help="validate config.toml and print the effective rules and pending changes")
    chk.add_argument("path", nargs="?", default=None, help="the file (default: the user's config.toml)")
    from .replay_cli import add_parser as add_replay_parser

    add_replay_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["store-writer"]:  # the guard's own child process (store/writer.py), not a user's command
        from .store.writer import main as store_writer

        return store_writer()
    return int(_dispatch(build_parser().parse_args(argv)))


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "check-config":
        from .config.check import check_config

        return check_config(args.path)
    if args.command == "replay":
        from .replay_cli import run_replay

        return run_replay(args)
    if args.command == "simulator":
        return run_simulator(port=args.port, seed=args.seed, history_days=args.history_days)
    if args.headless:
        from .headless import run_headless

        return run_headless(demo=args.demo)
    from .ui.app import run_app

    return run_app(args)


def run_simulator(port: int, seed: int | None, history_days: int = 0) -> ExitCode:
    """The built-in gateway alone, until Ctrl-C or SIGTERM, printing how to point DeskGuard at it."""
    import asyncio
    import logging
    import os
    import signal

    from .simulator import DEMO_API_KEY, DEMO_USERNAME, Simulator

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def run() -> ExitCode:
        sim = Simulator(seed=seed if seed is not None else int.from_bytes(os.urandom(2)), history_days=history_days)
        try:
            await sim.start(port=port)
        except OSError as exc:
            print(f"deskguard simulator: cannot listen on 127.0.0.1:{port}: {exc.strerror}", file=sys.stderr)
            return ExitCode.FAILURE
        print(f"ProjectX simulator on {sim.base_url} (control API: {sim.base_url}/control/state)", flush=True)
        print("Point DeskGuard at it with:", flush=True)
        print(f"  export PROJECTX_API_URL={sim.api_url} PROJECTX_USER_HUB_URL={sim.user_hub_url} "
              f"PROJECTX_MARKET_HUB_URL={sim.market_hub_url}", flush=True)
        print(f"  export PROJECT_X_USERNAME={DEMO_USERNAME} PROJECT_X_API_KEY={DEMO_API_KEY}", flush=True)
        print(sim.control_instructions(), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await sim.stop()
        return ExitCode.OK

    return asyncio.run(run())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
