"""``python -m deskguard.simulator [--port N] [--seed N]``: run the simulator until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from deskguard.simulator.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(description="DeskGuard's ProjectX-compatible gateway on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the price walk")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.seed))


if __name__ == "__main__":
    main()
