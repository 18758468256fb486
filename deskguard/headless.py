"""``deskguard --headless``: the guardian without a window, one line per event of note on stdout.

Stops cleanly on SIGINT/SIGTERM. Exit codes (:class:`~deskguard.exit_codes.ExitCode`): 0 clean
stop, 1 could not start, 2 bad config or arguments, 3 sign-in refused (or no credentials), 4 another
DeskGuard already guards this home (checked first: before the log, state.db or the gateway).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from .broker.base import AuthenticationError, BrokerError, ConnectionHealth
from .config import ConfigError, log_dir
from .exit_codes import ExitCode
from .guardian import AccountSnapshot, Notice
from .logs import setup_logging
from .store import StoreError

log = logging.getLogger("deskguard")


class ConsoleObserver:
    """Writes notices and state changes as single log lines (stdout in headless mode)."""

    def __init__(self) -> None:
        self._status: dict[int, str] = {}
        self._hubs: tuple[str, str] | None = None

    def on_notice(self, notice: Notice) -> None:
        who = f"[{notice.account_id}] " if notice.account_id else ""
        rule = f"({notice.rule}) " if notice.rule else ""
        log.info("%s%s%s%s", who, notice.level.value.upper() + ": ", rule, notice.text)

    def on_snapshot(self, snap: AccountSnapshot) -> None:
        status = snap.status.value
        if self._status.get(snap.account_id) != status:
            self._status[snap.account_id] = status
            lock = snap.lock
            until = f" until {lock.until.astimezone():%Y-%m-%d %H:%M:%S %Z}" if lock and lock.until else ""
            log.info("[%s] %s is %s%s; realized today %.2f, open %.2f", snap.account_id, snap.name,
                     status.upper(), until, snap.realized_day, snap.open_pnl)

    def on_health(self, health: ConnectionHealth) -> None:
        hubs = (health.user_hub.value, health.market_hub.value)
        if hubs != self._hubs:
            self._hubs = hubs
            log.info("user hub %s, market hub %s%s", *hubs, f" ({health.detail})" if health.detail else "")


async def _run(demo: bool) -> ExitCode:
    from .runtime import MissingCredentials, freeze_startup_objects, start_runtime

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        runtime = await start_runtime(demo=demo, progress=lambda text: log.info("%s…", text))
    except ConfigError as exc:
        print(f"deskguard: {exc}", file=sys.stderr)
        return ExitCode.BAD_CONFIG
    except (MissingCredentials, AuthenticationError) as exc:
        print(f"deskguard: sign-in failed: {exc}", file=sys.stderr)
        return ExitCode.AUTH_FAILED
    except (BrokerError, StoreError, LookupError) as exc:
        print(f"deskguard: cannot start: {exc}", file=sys.stderr)
        return ExitCode.FAILURE
    freeze_startup_objects()
    observer = ConsoleObserver()
    runtime.guardian.add_observer(observer)
    for note in runtime.notes:
        log.warning(note)
    for line in runtime.plan.messages:
        log.info("pending: %s", line)
    if runtime.simulator is not None:
        log.info("demo simulator at %s (control API under /control)", runtime.simulator.base_url)
    for acct in runtime.guardian.accounts:
        observer.on_snapshot(runtime.guardian.snapshot(acct))
    await stop.wait()
    log.info("stopping (signal received)")
    await runtime.stop()
    return ExitCode.OK


def run_headless(demo: bool = False) -> ExitCode:
    from .instance import AlreadyGuarded, claim_guard_home

    try:
        lock = claim_guard_home(demo=demo, mode="headless")  # one guard per home, before anything else
    except AlreadyGuarded as exc:
        print(f"deskguard: {exc}", file=sys.stderr)
        return ExitCode.ALREADY_RUNNING
    try:
        setup_logging(None if demo else log_dir(), stdout=True)
        if lock.problem:
            log.warning("%s", lock.problem)
        try:
            return asyncio.run(_run(demo))
        except KeyboardInterrupt:
            return ExitCode.OK
    finally:
        lock.release()
