"""``deskguard replay``: what would these rules have done to my last month? (issue 14)

Reads the account's trades (``Trade/search``, one trading day per request, within the request
budget, progress on stderr) or a ``--trades FILE`` in the same shape, replays them through the rule
set of ``--config`` (and ``--compare``) with :func:`deskguard.replay.replay`, and prints a table per
trading day, the totals, the worst day and the days each rule fired. Exit 0; bad dates, files or
config exit 2 naming what is wrong; no credentials or a refused sign-in 3; an unreachable gateway 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

from .exit_codes import ExitCode


def add_parser(sub: Any) -> None:
    """Register the subcommand on the CLI's subparsers."""
    p = sub.add_parser("replay", help="replay your trade history through a rule set: actual vs guarded P&L per day",
                       description="Replay an account's trades through a rule set and show, per trading day, the "
                                   "actual net P&L, the P&L under the rules, the trades they would have blocked and "
                                   "the first rule that locked. Trading days are labelled by the date they end.")
    p.add_argument("--account", default=None, help="account name or id (default: the only one, or the trades file's)")
    p.add_argument("--from", dest="first", default=None, metavar="DATE",
                   help="first trading day, YYYY-MM-DD (default: 30 trading days before --to)")
    p.add_argument("--to", dest="last", default=None, metavar="DATE",
                   help="last trading day, YYYY-MM-DD, inclusive (default: the current trading day)")
    p.add_argument("--config", default=None, metavar="PATH", help="the rule set (default: the user's config.toml)")
    p.add_argument("--compare", default=None, metavar="PATH", help="a second config.toml to compare side by side")
    p.add_argument("--trades", default=None, metavar="FILE",
                   help="read trades from this JSON file (Trade/search's reply shape) instead of the gateway")
    p.add_argument("--csv", default=None, metavar="OUT", help="also write the per-day table to this CSV file")
    p.add_argument("--bars", action="store_true",
                   help="fetch one-minute bars (History/retrieveBars) to run the quote-driven rules too")


class UsageError(Exception):
    """A bad argument, file or config: exit 2 with this message."""


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"{option}: {value!r} is not a date; write YYYY-MM-DD, e.g. 2026-11-24") from None


def _config(path: str | None, option: str) -> Any:
    from .config import ConfigError, config_path, load_config

    target = Path(path) if path is not None else config_path()
    if path is not None and not target.exists():
        raise UsageError(f"{option}: {target}: no such file")
    try:
        return load_config(target), target
    except ConfigError as exc:
        lines = "\n".join(problem.line_text() for problem in exc.errors)
        raise UsageError(f"{option}: {target} has a problem:\n{lines}") from None


def _read_trades(path: str) -> list[dict[str, Any]]:
    from .replay import PayloadError, trades_from_payload

    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise UsageError(f"--trades: {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"--trades: {path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    try:
        trades_from_payload(payload)  # validate every record now, naming the bad one
    except PayloadError as exc:
        raise UsageError(f"--trades: {path}: {exc}") from None
    items = payload.get("trades") if isinstance(payload, dict) else payload
    return [t for t in items or () if isinstance(t, dict)]


def run_replay(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        return _run(args, out, err)
    except UsageError as exc:
        print(f"deskguard replay: {exc}", file=err)
        return ExitCode.BAD_CONFIG


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .replay import replay, trades_from_payload
    from .replay_fetch import default_range

    first, last = _date(args.first, "--from"), _date(args.last, "--to")
    config, config_file = _config(args.config, "--config")
    compare = _config(args.compare, "--compare") if args.compare else None
    calendar = config.calendar
    first, last = default_range(calendar, datetime.now(UTC), first, last)
    if first > last:
        raise UsageError(f"--from {first.isoformat()} is after --to {last.isoformat()}")

    bars = None
    starting_balance = None
    if args.trades:
        raw = _read_trades(args.trades)
        accounts = sorted({t["accountId"] for t in raw})
        account_id = _pick_file_account(args.account, accounts)
        name = str(account_id)
        trades = trades_from_payload([t for t in raw if t["accountId"] == account_id])
        if args.bars:
            print("deskguard replay: --bars needs the gateway; with --trades the quote-driven rules are skipped",
                  file=err)
    else:
        code, history = _fetch(args, config, first, last, err)
        if history is None:
            return code
        account_id, name, trades, bars, starting_balance = (history.account_id, history.account_name, history.trades,
                                                            history.bars, history.starting_balance)

    def run(settings: Any) -> Any:
        return replay(trades, settings, account_id=account_id, bars=bars, starting_balance=starting_balance,
                      days=(first, last))

    from .replay import comparison_text, report_text, write_csv

    tz = calendar.timezone
    result = run(config.engine_settings())
    span = f"{first.isoformat()} to {last.isoformat()}"
    print(report_text(result, tz, f"Account {name}, trading days {span}, rules of {config_file}"), file=out)
    other = None
    if compare is not None:
        other = run(compare[0].engine_settings())
        print("", file=out)
        print(report_text(other, tz, f"Compared with the rules of {compare[1]}"), file=out)
        print("", file=out)
        print(comparison_text(result, other, tz, (Path(config_file).name, Path(compare[1]).name)), file=out)
    if args.csv:
        try:
            with open(args.csv, "w", encoding="utf-8", newline="") as fh:
                write_csv(result, fh, tz, other)
        except OSError as exc:
            raise UsageError(f"--csv: {args.csv}: {exc.strerror or exc}") from None
    return ExitCode.OK


def _pick_file_account(wanted: str | None, accounts: list[int]) -> int:
    if not accounts:
        raise UsageError("--trades: the file holds no trades")
    if wanted is None:
        if len(accounts) > 1:
            raise UsageError(f"--trades: the file holds accounts {', '.join(map(str, accounts))}: choose one with --account ID")
        return accounts[0]
    if wanted.strip().isdigit() and int(wanted) in accounts:
        return int(wanted)
    if len(accounts) == 1 and not wanted.strip().isdigit():
        return accounts[0]  # a name: the file has no names, and only one account
    raise UsageError(f"--account: {wanted!r} is not in the trades file (accounts: {', '.join(map(str, accounts))})")


def _fetch(args: argparse.Namespace, config: Any, first: date, last: date, err: TextIO) -> tuple[int, Any]:
    """Sign in and read the account's history; (exit code, None) when that fails."""
    from .broker.base import AuthenticationError, BrokerError
    from .runtime import MissingCredentials, resolve_credentials
    from .secrets import redactor

    try:
        credentials = resolve_credentials(config, None)
    except MissingCredentials as exc:
        print(f"deskguard replay: {exc}", file=err)
        return ExitCode.AUTH_FAILED, None
    redactor.add(credentials.api_key)

    def progress(text: str, done: int, total: int) -> None:
        err.write(f"\r{text}\033[K" if err.isatty() else f"{text}\n")
        err.flush()

    async def fetch() -> Any:
        from .broker.projectx import ProjectXBroker
        from .replay_fetch import fetch_history

        conn = config.connection
        broker = ProjectXBroker(credentials.username, credentials.api_key, api_url=conn.api_url,
                                user_hub_url=conn.user_hub_url, market_hub_url=conn.market_hub_url)
        try:
            accounts = await broker.connect()
            account = _pick_account(args.account or credentials.account_name, accounts)
            return await fetch_history(broker, account.id, account.name, first, last, config.calendar,
                                       with_bars=args.bars, balance_now=account.balance, progress=progress)
        finally:
            try:
                await broker.stop()
            except Exception:  # noqa: BLE001 - the answer is in; a failed disconnect changes nothing
                pass

    try:
        history = asyncio.run(fetch())
    except AuthenticationError as exc:
        print(f"deskguard replay: {redactor(str(exc))}", file=err)
        return ExitCode.AUTH_FAILED, None
    except BrokerError as exc:
        print(f"deskguard replay: {redactor(str(exc))}", file=err)
        return ExitCode.FAILURE, None
    if err.isatty():
        err.write("\n")
    return ExitCode.OK, history


def _pick_account(wanted: str | None, accounts: list[Any]) -> Any:
    names = ", ".join(f"{a.name} ({a.id})" for a in accounts) or "none"
    if wanted is None:
        if len(accounts) == 1:
            return accounts[0]
        raise UsageError(f"--account: choose one of the accounts: {names}")
    for a in accounts:
        if wanted.strip() == a.name or wanted.strip() == str(a.id):
            return a
    raise UsageError(f"--account: no active account {wanted!r} (accounts: {names})")
