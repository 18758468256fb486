"""Assembles a running guard from the user's files: config, store, credentials, broker, guardian.

Shared by the headless runner and the desktop app. In demo mode it also starts the built-in
simulator on a free loopback port, with its own home and the demo rules (no session_block).

The config in force survives restarts: the store keeps the last effective config, so loosening
the file and restarting does not dodge "loosen at the next reset".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .broker.base import Broker
from .config import (
    ChangePlan,
    ConfigError,
    DeskGuardConfig,
    config_path,
    demo_config,
    dumps_config,
    load_config,
    loads_config,
    plan_config_change,
    save_config,
    state_db_path,
)
from .config.paths import HOME_ENV, data_dir, home_override
from .engine.models import Account
from .guardian import Guardian, PendingSettings
from .notify.notifier import Notifier, register_webhook_secrets
from .secrets import Credentials, CredentialStore, credentials_from_env, redactor
from .store import Store, StoreCorruptError

log = logging.getLogger("deskguard")

EFFECTIVE_CONFIG_KEY = "effective_config"
PENDING_CONFIG_KEY = "pending_config"
GLOBAL = 0  # the store's per-account memory, for app-wide values


class MissingCredentials(Exception):
    """No username/API key in the keyring or the environment."""


class ConfigWatcher:
    """Re-reads config.toml when it changes while the guard runs.

    A valid edit goes through the plan (tighten now, loosen at the next reset); a file broken by hand
    leaves the last good rules guarding, and the error (file, key, line) is shown — the file itself
    is never rewritten."""

    def __init__(self, path: Path, runtime: Runtime, interval: float = 1.0) -> None:
        self.path = path
        self.runtime = runtime
        self.interval = interval
        self._stamp = self._read_stamp()
        self._task: asyncio.Task | None = None
        self.last_error: str | None = None

    def _read_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            stamp = self._read_stamp()
            if stamp != self._stamp:
                self._stamp = stamp
                self.reload()

    def reload(self) -> None:
        from .guardian import NoticeLevel

        guardian = self.runtime.guardian
        try:
            requested = load_config(self.path)
        except ConfigError as exc:
            self.last_error = str(exc)
            guardian.notify(NoticeLevel.ALERT, None,
                            f"config.toml has an error; still guarding with the last good rules: {exc}", event="alert")
            return
        self.last_error = None
        self.runtime.apply_config(requested, "config.toml changed")


@dataclass
class Runtime:
    guardian: Guardian
    store: Store
    config: DeskGuardConfig
    plan: ChangePlan
    home: Path | None  # the guard's DESKGUARD_HOME (the demo's own folder in demo mode); None: the user's folders
    demo: bool = False
    simulator: Any = None
    notes: list[str] = field(default_factory=list)  # things to tell the user at start (store recovered…)
    watcher: ConfigWatcher | None = None
    notifier: Notifier | None = None  # webhooks (rules.md "Notifications"), a guardian observer

    @property
    def config_file(self) -> Path:
        """The config.toml this guard reads, watches and saves: its home's (the user's without one)."""
        return config_path(home_paths(self.home))

    async def stop(self) -> None:
        try:
            await self.guardian.stop()
        finally:
            await self.close()

    def apply_config(self, requested: DeskGuardConfig, source: str, now: datetime | None = None) -> ChangePlan:
        """Put a new config in force the rule-book way, whoever changed it (the editor or a hand edit):
        tightenings at once, loosenings pending until the next reset, recorded in the rule-change
        history and persisted. Never lifts a lock."""
        from .guardian import NoticeLevel

        plan = effective_plan(self.store, requested, now or datetime.now(UTC))
        self.plan, self.config = plan, plan.effective
        if self.notifier is not None:
            register_webhook_secrets(plan.effective.notifications, self.store)
            self.notifier.update(plan.effective.notifications)
        guardian = self.guardian
        guardian.update_settings(plan.effective.engine_settings(), pending_settings(plan))
        # The reset must promote *this* plan's pending config, not the one the guard started with.
        guardian.on_pending_applied = lambda: _apply_pending(self.store, plan)
        changes = [c.text for c in plan.applied_changes] + [c.text for c in plan.pending_changes]
        guardian.notify(NoticeLevel.INFO, None, f"{source}: " + ("; ".join(changes) or "no rule changes"))
        return plan

    def watch_config(self, path: Path | None = None) -> None:
        """Apply edits of config.toml while running (see ConfigWatcher)."""
        self.watcher = ConfigWatcher(path or self.config_file, self)
        self.watcher.start()

    async def close(self) -> None:
        """Release the store and the simulator (after the guardian stopped, or if it never started)."""
        if self.watcher is not None:
            await self.watcher.stop()
        if self.notifier is not None:
            await self.notifier.close()  # the last messages get a moment to leave
        self.store.close()
        if self.simulator is not None:
            await self.simulator.stop()
            self.simulator = None

    @property
    def practice(self) -> SimulatorPractice | None:
        return SimulatorPractice(self.simulator) if self.simulator is not None else None


class SimulatorPractice:
    """The demo's practice ticket, trading on the built-in simulator as the web screen would."""

    def __init__(self, simulator: Any) -> None:
        self.sim = simulator

    def _position(self, account_id: int, symbol: str) -> dict | None:
        contract = self.sim.contract(symbol).id
        return next((p for p in self.sim.state()["positions"]
                     if p["accountId"] == account_id and p["contractId"] == contract), None)

    async def place_market(self, account_id: int, symbol: str, side: str, size: int) -> str:
        result = self.sim.place_order(account_id, symbol, side, size)
        return "order filled" if result.success else f"order refused: {result.error_message}"

    async def place_stop(self, account_id: int, symbol: str, stop_price: float) -> str:
        pos = self._position(account_id, symbol)
        if pos is None:
            return f"no {symbol} position to protect"
        side = "sell" if pos["type"] == 1 else "buy"
        working = [o for o in self.sim.state()["orders"] if o["accountId"] == account_id
                   and o["contractId"] == pos["contractId"] and o["type"] == 4 and o["status"] in (1, 6)]
        if working:
            result = self.sim.modify_order(account_id, working[0]["id"], stop_price=stop_price)
            return "stop moved" if result.success else f"stop refused: {result.error_message}"
        result = self.sim.place_order(account_id, symbol, side, pos["size"], "stop", stop_price=stop_price)
        return "stop placed" if result.success else f"stop refused: {result.error_message}"

    async def close(self, account_id: int, symbol: str) -> str:
        result = self.sim.close_position(account_id, symbol)
        return "position closed" if result.success else f"close refused: {result.error_message}"


def freeze_startup_objects() -> None:
    """Move everything alive after start-up (Qt, pyqtgraph, numpy, the SDK: ~200k objects) out of
    the garbage collector's reach. Without it, each full collection walks them all, and under a
    quote storm that stalled the event loop for 100-700 ms (measured by the storm benchmark)."""
    import gc

    gc.collect()
    gc.freeze()


def demo_home() -> Path:
    """The demo's own home, so trying the demo never touches the real config or state."""
    base = home_override()
    return base / "demo" if base else data_dir() / "demo"


def home_paths(home: Path | None) -> dict[str, str] | None:
    """What :mod:`deskguard.config.paths` needs to find a guard's files under ``home`` (None: the
    process's own DESKGUARD_HOME or the user's folders), without touching the environment."""
    return {HOME_ENV: str(home)} if home is not None else None


def open_store(path: Path, notes: list[str]) -> Store:
    """Open the state database; a corrupted one is moved aside (kept as a backup) and started anew.
    A database from a newer DeskGuard raises StoreError with a clear message (never overwritten)."""
    try:
        return Store(path, redact=redactor_secrets())
    except StoreCorruptError as exc:
        store, backup = Store.recover(path, redact=redactor_secrets())
        notes.append(f"state database was damaged ({exc.problem}); a backup was kept at {backup}, "
                     "and a new one started")
        log.error(notes[-1])
        return store


def redactor_secrets() -> list[str]:
    return redactor.secrets()  # the store keeps its own redactor: hand it every known secret


def plan_from_store(store: Store, requested: DeskGuardConfig, now: datetime) -> ChangePlan:
    """The plan :func:`effective_plan` would make, without writing anything (for the rule editor,
    which shows what is in force and what waits before the trader saves)."""
    last = _saved_config(store, EFFECTIVE_CONFIG_KEY)
    pending = store.get_memory(GLOBAL, PENDING_CONFIG_KEY)
    if pending is not None:
        saved = json.loads(pending)
        if now >= datetime.fromisoformat(saved["takes_effect"]):
            last = _saved_config(store, PENDING_CONFIG_KEY, saved["config"]) or last
    return plan_config_change(last or requested, requested, now)


def effective_plan(store: Store, requested: DeskGuardConfig, now: datetime) -> ChangePlan:
    """Tighten now, loosen at the next reset — measured against the config last in force.

    A loosening that was pending when the app last ran, and whose reset has passed since, is in
    force now (planning again from the older config would postpone it forever)."""
    plan = plan_from_store(store, requested, now)
    remember_plan(store, plan)
    for change in plan.applied_changes:
        store.record_rule_change(now, change.key, change.old_text, change.new_text, now, True, change.text)
    for change in plan.pending_changes:
        store.record_rule_change(now, change.key, change.old_text, change.new_text, plan.takes_effect, False,
                                 change.text)
    return plan


def _saved_config(store: Store, key: str, text: str | None = None) -> DeskGuardConfig | None:
    if text is None:
        saved = store.get_memory(GLOBAL, key)
        if saved is None:
            return None
        text = json.loads(saved)
    try:
        return loads_config(text, path=f"(saved {key.replace('_', ' ')})")
    except ConfigError as exc:
        log.warning("ignoring the saved %s: %s", key, exc)
        return None


def remember_plan(store: Store, plan: ChangePlan) -> None:
    store.set_memory(GLOBAL, EFFECTIVE_CONFIG_KEY, _storable(plan.effective))
    if plan.pending is not None and plan.takes_effect is not None:
        data = {"config": json.loads(_storable(plan.pending)), "takes_effect": plan.takes_effect.isoformat()}
        store.set_memory(GLOBAL, PENDING_CONFIG_KEY, json.dumps(data))
    else:
        store.set_memory(GLOBAL, PENDING_CONFIG_KEY, None)


async def check_sign_in(username: str, api_key: str, *, api_url: str | None = None, user_hub_url: str | None = None,
                        market_hub_url: str | None = None, request_timeout: float = 10.0) -> list[Account]:
    """Sign in at the gateway and list the active accounts, then disconnect: the sign-in dialog's
    "Test connection", so the UI never holds a broker itself.

    Raises AuthenticationError (the key was refused), GatewayUnreachable (no answer at all),
    BrokerError (the gateway answered with an error) or ValueError (a URL the SDK refuses)."""
    from .broker.projectx import ProjectXBroker  # the SDK import costs ~0.5 s: only when asked

    broker = ProjectXBroker(username, api_key, api_url=api_url, user_hub_url=user_hub_url,
                            market_hub_url=market_hub_url, request_timeout=request_timeout)
    try:
        return list(await broker.connect())
    finally:
        with contextlib.suppress(Exception):  # the answer is in; a failed disconnect changes nothing
            await broker.stop()


def resolve_credentials(config: DeskGuardConfig, creds: Credentials | None) -> Credentials:
    if creds is not None:
        return creds
    env = credentials_from_env()
    if env is not None:
        return env
    username = config.connection.username
    if username:
        key = CredentialStore().load(username)
        if key:
            return Credentials(username, key)
    raise MissingCredentials(
        "no ProjectX credentials: sign in from the app, or set PROJECT_X_USERNAME and PROJECT_X_API_KEY"
    )


async def start_runtime(**kwargs: Any) -> Runtime:
    """Build and start the guard (headless). See :func:`prepare_runtime`."""
    runtime = await prepare_runtime(**kwargs)
    progress = kwargs.get("progress") or (lambda text: None)
    try:
        progress("signing in")
        await runtime.guardian.start()
    except BaseException:
        await runtime.close()
        raise
    runtime.watch_config()
    progress("guarding")
    return runtime


async def prepare_runtime(
    *,
    demo: bool = False,
    credentials: Credentials | None = None,
    broker_factory: Callable[..., Broker] | None = None,
    simulator_seed: int | None = None,
    progress: Callable[[str], None] = lambda text: None,
) -> Runtime:
    """Build the guard without starting it (the UI attaches its observer first).

    Raises ConfigError (exit 2) or MissingCredentials (exit 3); starting may raise AuthenticationError."""
    notes: list[str] = []
    simulator = None
    # The guard's files, passed on explicitly (the process environment is left as it is): the demo
    # keeps its own under demo_home(), a real guard uses DESKGUARD_HOME or the user's folders.
    home = demo_home() if demo else home_override()
    where = home_paths(home)
    cfg_file = config_path(where)
    if demo and not cfg_file.exists():
        save_config(demo_config(), cfg_file)
    progress("reading config")
    requested = load_config(cfg_file)
    store = open_store(state_db_path(where), notes)
    try:
        plan = effective_plan(store, requested, datetime.now(UTC))
        config = plan.effective
        conn = config.connection
        if demo:
            from .simulator import DEMO_API_KEY, DEMO_USERNAME, Simulator, demo_accounts

            progress("starting the built-in simulator")
            # A short request log: the demo runs for hours in the app's own process and loop.
            from .simulator.history import DEMO_HISTORY_DAYS

            # A seeded month of past trades and bars: the Rules lab has history to replay.
            simulator = Simulator(seed=simulator_seed if simulator_seed is not None else int.from_bytes(os.urandom(2)),
                                  log_limit=5_000, history_days=DEMO_HISTORY_DAYS, accounts=demo_accounts())
            await simulator.start()
            credentials = Credentials(DEMO_USERNAME, DEMO_API_KEY)
            urls: dict[str, Any] = dict(api_url=simulator.api_url, user_hub_url=simulator.user_hub_url,
                                        market_hub_url=simulator.market_hub_url)
        else:
            credentials = resolve_credentials(config, credentials)
            urls = dict(api_url=conn.api_url, user_hub_url=conn.user_hub_url, market_hub_url=conn.market_hub_url)
        redactor.add(credentials.api_key)
        store.add_redaction(credentials.api_key)
        calendar = config.calendar
        if broker_factory is None:
            from .broker.projectx import ProjectXBroker

            broker_factory = ProjectXBroker
        broker = broker_factory(credentials.username, credentials.api_key,
                                day_start=lambda: calendar.day_start(datetime.now(UTC)),
                                week_start=lambda: calendar.week_start(datetime.now(UTC)), **urls)
        pending = pending_settings(plan)
        accounts = list(conn.accounts)
        if not accounts and credentials.account_name:
            accounts = [credentials.account_name]
        guardian = Guardian(broker, store, config.engine_settings(), accounts=accounts,
                            symbols=list(conn.instruments), pending=pending,
                            on_pending_applied=lambda: _apply_pending(store, plan))
        register_webhook_secrets(config.notifications, store)
        notifier = Notifier(config.notifications, account_name=lambda a: _account_name(guardian, a),
                            health_detail=lambda: guardian.health.detail, snapshot=guardian.snapshot)
        guardian.add_observer(notifier)
        return Runtime(guardian, store, config, plan, home, demo, simulator, notes, notifier=notifier)
    except BaseException:
        store.close()
        if simulator is not None:
            await simulator.stop()
        raise


def _account_name(guardian: Guardian, account_id: int) -> str:
    info = guardian.account_info.get(account_id)
    return info.name if info is not None else str(account_id)


def _storable(config: DeskGuardConfig) -> str:
    """A config as the store keeps it (the one in force, the pending one): without the webhooks,
    whose URLs the store redacts (they may hold tokens), so what it keeps always reads back. The
    notifications apply at once from config.toml; the store's copy is for the rules."""
    if config.notifications.webhooks:
        config = config.with_section("notifications", webhooks=[])
    return json.dumps(dumps_config(config))


def pending_settings(plan: ChangePlan) -> PendingSettings | None:
    """The guardian's view of a plan's loosenings (None when nothing waits)."""
    if plan.pending is None or plan.takes_effect is None:
        return None
    return PendingSettings(plan.pending.engine_settings(), plan.takes_effect, tuple(plan.pending_changes))


def change_config(
    requested: DeskGuardConfig,
    *,
    runtime: Runtime | None = None,
    path: Path | None = None,
    now: datetime | None = None,
) -> ChangePlan | None:
    """What the rule editor's and the settings dialog's Save do: write ``config.toml`` (keeping the
    user's comments), then, with a guard running, record the change in the rule-change history and
    apply it the rule-book way: tightenings at once, loosenings pending until the next reset.

    Without a runtime (nobody signed in yet) only the file is written; the next start plans it.
    Returns the plan (None without a runtime). Never lifts a lock: the guardian keeps its locks
    whatever the settings, and anything that could end one (a symbol no longer blocked) is a
    loosening, which waits."""
    target = save_config(requested, path)
    if runtime is None:
        return None
    watcher = runtime.watcher
    if watcher is not None and Path(watcher.path).resolve() == target:
        watcher._stamp = watcher._read_stamp()  # applied here: the watcher need not reload it
    return runtime.apply_config(requested, "rules changed in DeskGuard", now)


def _apply_pending(store: Store, plan: ChangePlan) -> None:
    """The reset came: the pending config is the one in force from now on."""
    if plan.pending is not None:
        store.set_memory(GLOBAL, EFFECTIVE_CONFIG_KEY, _storable(plan.pending))
        store.set_memory(GLOBAL, PENDING_CONFIG_KEY, None)
