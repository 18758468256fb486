"""``python -m deskguard.simulator [--port N] [--seed N] [...]``: run the simulator until Ctrl-C.

Besides the port and the seed: ``--accounts N`` serves N accounts (ids from 1001), ``--walk-interval``
and ``--walk-paused`` shape the market, ``--idle-quotes`` re-sends standing quotes (0: never), and
``--credentials-from-env`` requires the user name and API key in ``DESKGUARD_SIMULATOR_USERNAME`` /
``DESKGUARD_SIMULATOR_API_KEY`` (an API key never goes on a command line, where ``ps`` shows it).
``--request-budget 200/60`` changes the per-user request budget (History keeps 50/30), ``off``
switches it off. Where it listens is logged (``listening on http://127.0.0.1:PORT``), for other
processes to read, then the run's control token and a curl line (the token is also published for
this user's ``SimulatorControl(base_url)``: see ``control_token.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os

from deskguard.simulator.book_records import default_accounts
from deskguard.simulator.budget import GATEWAY_REQUEST_BUDGET, RequestBudget
from deskguard.simulator.server import serve

USERNAME_ENV = "DESKGUARD_SIMULATOR_USERNAME"
API_KEY_ENV = "DESKGUARD_SIMULATOR_API_KEY"


def main() -> None:
    parser = argparse.ArgumentParser(description="DeskGuard's ProjectX-compatible gateway on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the price walk")
    parser.add_argument("--accounts", type=int, default=3, help="how many accounts to serve (ids from 1001)")
    parser.add_argument("--walk-interval", type=float, default=0.5, help="seconds between random-walk steps")
    parser.add_argument("--walk-paused", action="store_true", help="prices move only through the control API")
    parser.add_argument("--idle-quotes", type=float, default=5.0, help="re-send standing quotes this often (0: never)")
    parser.add_argument("--credentials-from-env", action="store_true",
                        help=f"require the credentials in {USERNAME_ENV} and {API_KEY_ENV}")
    parser.add_argument("--history-days", type=int, default=0, metavar="N",
                        help="serve N trading days of seeded past trades and 1-minute bars (default 0)")
    parser.add_argument("--request-budget", default="200/60", metavar="N/SECONDS",
                        help="requests per user per sliding window before HTTP 429 (default 200/60; off: none)")
    args = parser.parse_args()
    if args.accounts < 1:
        parser.error("--accounts must be at least 1")
    try:
        budget = parse_budget(args.request_budget)
    except ValueError as exc:
        parser.error(f"--request-budget: {exc}")
    credentials = None
    if args.credentials_from_env:
        username, api_key = os.environ.get(USERNAME_ENV), os.environ.get(API_KEY_ENV)
        if not username or not api_key:
            parser.error(f"--credentials-from-env needs {USERNAME_ENV} and {API_KEY_ENV}")
        credentials = (username, api_key)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(
            args.port, args.seed, accounts=default_accounts(args.accounts), credentials=credentials,
            walk_interval_s=args.walk_interval, walk_paused=args.walk_paused,
            idle_quote_interval_s=args.idle_quotes or None, request_budget=budget, history_days=args.history_days,
        ))


def parse_budget(text: str) -> RequestBudget | None:
    """``"off"`` -> None; ``"N/SECONDS"`` -> that general allowance (History keeps the gateway's)."""
    if text.strip().lower() in ("off", "none", "0"):
        return None
    limit, _, seconds = text.partition("/")
    try:
        return RequestBudget(
            int(limit), float(seconds or GATEWAY_REQUEST_BUDGET.window_s),
            GATEWAY_REQUEST_BUDGET.history_limit, GATEWAY_REQUEST_BUDGET.history_window_s,
        )
    except ValueError:
        raise ValueError(f"expected N/SECONDS or off, not {text!r}") from None


if __name__ == "__main__":
    main()
