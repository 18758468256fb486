"""The desktop app's shell: QApplication, asyncio inside Qt's loop (qasync), window, tray, guardian.

Order matters for how fast the window appears: Qt and the window first (first paint), then the
guardian factory, which may import the SDK (~0.5 s) and connect. Quitting goes through one path
(:meth:`MainWindow.confirm_quit` or the desktop session ending): the guardian is stopped while the
loop still runs, then the loop ends.

With no credentials anywhere the window comes up "not guarding" and offers the sign-in dialog, with
"Try the demo instead"; signing in (or out, or switching to the demo) stops one guard and starts
the next. Dialogs are opened with ``open()`` and answer through signals (:mod:`.app_dialogs`):
nothing here ever blocks the event loop, so a running guard keeps enforcing while a dialog is up.

One guard per home (:mod:`deskguard.instance`): :func:`run_app` claims the home it will guard before
the window exists, and exits with ``ExitCode.ALREADY_RUNNING`` when another process guards it;
switching guards (sign in, the demo) claims the new home first and shows a refusal in the window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import qasync
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from ..exit_codes import ExitCode
from ..guardian import AuthenticationError
from .app_dialogs import NOT_SIGNED_IN, AppDialogs
from .icons import app_icon
from .main_window import MainWindow
from .port import GuardianPort, PracticeDesk, PracticeMarket
from .tray import TrayController
from .viewmodel import GuardianViewModel

log = logging.getLogger(__name__)

@dataclass
class Startup:
    """What a guardian factory hands the app."""

    guardian: GuardianPort  # built, not started: the app attaches the view-model, then starts it
    practice: PracticeDesk | None = None  # demo mode: backs the practice ticket
    market: PracticeMarket | None = None  # demo mode: the ticket's market controls (moves prices)
    cleanup: Callable[[], Awaitable[None]] | None = None  # after guardian.stop(), e.g. stop the simulator
    runtime: Any = None  # the real guard's Runtime (store, plan): what the rule editor and settings change


#: Builds the guardian (reads config and credentials, may import the SDK). Runs after first paint.
StartupFactory = Callable[[Any], Awaitable[Startup]]


async def default_startup(args: Any) -> Startup:
    """The real guard: config, store, credentials and broker (or the built-in simulator in demo mode)."""
    from ..runtime import prepare_runtime

    runtime = await prepare_runtime(demo=bool(getattr(args, "demo", False)), credentials=getattr(args, "credentials", None))
    runtime.watch_config()
    market = None
    if runtime.simulator is not None:
        from .practice_market import SimulatorMarket

        market = SimulatorMarket(runtime.simulator.base_url)
    return Startup(runtime.guardian, practice=runtime.practice, market=market, cleanup=runtime.close, runtime=runtime)


def _make_app() -> QApplication:
    app = QApplication.instance()
    if app is None:
        # Fractional scaling (125 %, 150 %) without rounding: crisp text on high-DPI desktops.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(sys.argv[:1])
    app.setApplicationName("DeskGuard")
    app.setOrganizationName("DeskGuard")
    app.setDesktopFileName("deskguard")
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)  # quitting is ours to decide (tray, lock question)
    return app


class DesktopApp:
    """The window, the tray and the guardian, for one run."""

    def __init__(self, args: Any, startup_factory: StartupFactory | None = None, *, tray_available: bool | None = None,
                 offer_sign_in: bool = False, credential_store: Any = None, check_sign_in: Any = None,
                 instance_lock: Any = None) -> None:
        from ..secrets import CredentialStore

        self.args = args
        self.startup_factory = startup_factory or default_startup
        self.offer_sign_in = offer_sign_in  # no credentials: offer the sign-in dialog instead of guarding
        self.credential_store = credential_store or CredentialStore()  # also holds a session-only key
        self.check_sign_in = check_sign_in  # the sign-in dialog's "test connection" (None: project-x-py)
        self.demo = bool(getattr(args, "demo", False))
        self.app = _make_app()
        self.vm = GuardianViewModel()
        self.window = MainWindow(self.vm, demo=self.demo)
        self.tray = TrayController(self.vm, self.window, tray_available=tray_available)
        self.window.keep_running_in_tray = self.tray.available
        self.tray.showWindowRequested.connect(self.show_window)
        self.tray.quitRequested.connect(self.window.request_quit)
        self.window.closedToTray.connect(self.tray.tell_still_running)
        self.dialog_host = AppDialogs(self)
        self.window.signInRequested.connect(self.dialog_host.open_sign_in)
        self.window.signOutRequested.connect(self.dialog_host.ask_sign_out)
        self.window.editRulesRequested.connect(self.dialog_host.open_rule_editor)
        self.window.settingsRequested.connect(self.dialog_host.open_settings)
        self.window.replayRequested.connect(self.dialog_host.open_replay_lab)
        self.startup: Startup | None = None
        self.guardian: GuardianPort | None = None
        self.username: str | None = None  # who the running guard signed in as (None: demo or nobody)
        self._switching: asyncio.Task | None = None
        self.exit_code: ExitCode = ExitCode.OK
        # The home's single-instance lock (run_app's claim, or start_guarding's). Only the real
        # guard claims one: a test's or a benchmark's own factory guards no home.
        self.instance_lock = instance_lock
        self.first_paint_s: float | None = None
        self.first_paint_at: float | None = None  # wall clock (time.time()), for the start-up benchmark
        self._quit = asyncio.Event()

    @property
    def dialogs(self) -> dict[str, Any]:
        """The open dialogs by kind (one of each at a time)."""
        return self.dialog_host.dialogs

    def show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    async def _first_paint(self, started: float) -> None:
        self.window.show()
        handle = self.window.windowHandle()
        for _ in range(100):  # at most ~1 s: an exposed window has been painted once processed
            QApplication.processEvents()
            if handle is not None and handle.isExposed():
                break
            await asyncio.sleep(0.01)
        self.first_paint_s = time.perf_counter() - started
        self.first_paint_at = time.time()

    async def main(self) -> int:
        started = time.perf_counter()
        self.window.quitConfirmed.connect(self._quit.set)
        self.app.aboutToQuit.connect(self._quit.set)  # the desktop session is ending
        await self._first_paint(started)
        try:
            if self.offer_sign_in:
                self.window.set_signed_in(None)
                self.window.show_startup_error(NOT_SIGNED_IN)
                self.dialog_host.open_sign_in(first_run=True)
            else:
                guarding = await self.start_guarding(started)
                if getattr(self.args, "smoke", False) and not guarding:
                    # A build check must fail, not wait for a human to read the red line.
                    self.exit_code = self.exit_code or ExitCode.FAILURE
                    print("smoke: start-up failed", flush=True)
                    self._quit.set()
            await self._quit.wait()
        finally:
            await self._shutdown()
        return self.exit_code

    async def start_guarding(self, started: float | None = None) -> bool:
        """Build and start the guard ``self.args`` describe (the demo, or credentials), replacing
        any running one. A failure is shown in the window in red; returns whether it is guarding."""
        # Imported after the first paint: the window shows before config/pydantic/SDK load.
        from ..config import ConfigError
        from ..instance import AlreadyGuarded
        from ..runtime import MissingCredentials

        await self.stop_guarding()
        self.window.show_startup_error("")
        try:
            self._claim_home()
            self.startup = await self.startup_factory(self.args)
            self.guardian = self.startup.guardian
            self.vm.attach(self.guardian)
            if self.window.ticket is not None:
                self.window.ticket.set_desk(self.startup.practice, self.startup.market)
            self.apply_desktop_settings()
            await self.guardian.start()
            from ..runtime import freeze_startup_objects

            freeze_startup_objects()
            self.username = self._guard_username()
            self.window.set_signed_in(self.username)
            if getattr(self.args, "smoke", False):
                await self._smoke(self.guardian, started if started is not None else time.perf_counter())
            return True
        except AlreadyGuarded as exc:
            self.exit_code = ExitCode.ALREADY_RUNNING
            self.window.show_startup_error(f"Not guarding here: {exc}")
        except AuthenticationError as exc:
            self.exit_code = ExitCode.AUTH_FAILED
            self.window.show_startup_error(f"The gateway refused the credentials: {exc}")
            self._offer_sign_in_again()
        except ConfigError as exc:
            self.exit_code = ExitCode.BAD_CONFIG
            self.window.show_startup_error(f"config.toml has a problem; nothing was changed:\n{exc}")
        except MissingCredentials as exc:
            self.exit_code = ExitCode.AUTH_FAILED
            self.window.show_startup_error(str(exc))
            self._offer_sign_in_again()
        except Exception as exc:  # shown in the window in red; the trader must know at once
            log.exception("start-up failed")
            self.window.show_startup_error(f"DeskGuard could not start guarding: {exc}")
        return False

    async def stop_guarding(self) -> None:
        """Stop the running guard (if any) and release what it holds. Locks stay in the store."""
        guardian, startup = self.guardian, self.startup
        self.guardian, self.startup, self.username = None, None, None
        self.dialog_host.close_all(("rules", "settings"))  # they edit the guard that is stopping
        self.vm.detach()
        if guardian is not None:
            try:
                await guardian.stop()
            except Exception:
                log.exception("stopping the guardian failed")
        if startup is not None and startup.cleanup is not None:
            try:
                await startup.cleanup()
            except Exception:
                log.exception("clean-up failed")

    def _claim_home(self) -> None:
        """Hold the lock of the home the guard about to start will use (the demo's own, or the
        user's), letting go of the previous one only once the new one is held. Raises AlreadyGuarded."""
        if self.startup_factory is not default_startup:
            return
        from ..instance import claim_guard_home, guard_home, lock_path

        held = self.instance_lock
        if held is not None and held.locked and held.path == lock_path(guard_home(self.args_demo)):
            return
        self.instance_lock = claim_guard_home(demo=self.args_demo, mode="window")
        if self.instance_lock.problem:
            log.warning("%s", self.instance_lock.problem)
        if held is not None:
            held.release()

    @property
    def args_demo(self) -> bool:
        return bool(getattr(self.args, "demo", False))

    def switch_guard(self) -> None:
        """Start the guard the args now describe, on the loop (dialog signals call this)."""
        self.vm.forget()
        self.window.forget_accounts()
        self.switch(self.start_guarding())

    def switch(self, work: Awaitable[Any]) -> None:
        """Run a change of guard (start, sign out) on the loop; quitting waits for it or cancels it."""
        self._switching = asyncio.ensure_future(work)

    def user_config_file(self) -> Any:
        """The user's own config.toml (never the demo's): where a sign-in is remembered."""
        from ..config import config_path

        return config_path()

    def guard_config_file(self) -> Any:
        """The config.toml of the guard the window shows, for the rule editor and settings: the
        running guard's (the demo's own in demo mode), else the one the next start would read."""
        runtime = self.current_runtime()
        if runtime is not None:
            return runtime.config_file
        from ..config import config_path

        if self.args_demo:
            from ..runtime import demo_home

            return demo_home() / "config.toml"
        return config_path()

    def _guard_username(self) -> str | None:
        if getattr(self.args, "demo", False):
            return None
        creds = getattr(self.args, "credentials", None)
        if creds is not None:
            return creds.username
        config = getattr(self.current_runtime(), "config", None)
        return config.connection.username if config is not None else None

    def current_runtime(self) -> Any:
        return getattr(self.startup, "runtime", None) if self.startup is not None else None

    def apply_desktop_settings(self, config: Any = None) -> None:
        """Theme and notifications, from config.toml."""
        from .theme import apply_theme

        if config is None:
            config = getattr(self.current_runtime(), "config", None)
        if config is None:
            return
        apply_theme(config.ui.theme, self.app)
        self.tray.set_notifications(config.notifications.enabled, config.notifications.sound)

    def _offer_sign_in_again(self) -> None:
        # Only for the real guard: a test's or a benchmark's own factory has no dialog to answer.
        if self.startup_factory is default_startup and not getattr(self.args, "demo", False):
            self.dialog_host.open_sign_in()

    async def _smoke(self, guardian: GuardianPort, started: float, timeout: float = 30.0) -> None:
        """Build check: guarding, a snapshot shown, the window painted; then quit with 0."""
        deadline = time.perf_counter() + timeout
        while not (guardian.health.guarding and self.vm.all_latest()):
            if time.perf_counter() > deadline:
                self.exit_code = ExitCode.FAILURE
                print(f"smoke: not guarding after {timeout:.0f} s", flush=True)
                self._quit.set()
                return
            await asyncio.sleep(0.01)
        guarding_at = time.time()
        guarding_s = time.perf_counter() - started
        painted = not self.window.grab().isNull()
        self.exit_code = ExitCode.OK if painted else ExitCode.FAILURE
        print(f"smoke: first paint {self.first_paint_s:.2f} s, guarding {guarding_s:.2f} s, "
              f"painted={painted}, first_paint_at={self.first_paint_at:.6f}, guarding_at={guarding_at:.6f}",
              flush=True)
        self._quit.set()

    async def _shutdown(self) -> None:
        self.dialog_host.close_all()
        switching = self._switching
        if switching is not None and not switching.done():
            switching.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await switching
        await self.stop_guarding()
        if self.instance_lock is not None:
            self.instance_lock.release()  # the guard has stopped: the next one may take this home
            self.instance_lock = None
        self.window.quitting = True
        self.window.close()
        if self.tray.tray is not None:
            self.tray.tray.hide()

    def run(self) -> int:
        try:
            return asyncio.run(self.main(), loop_factory=lambda: qasync.QEventLoop(self.app))
        except RuntimeError as exc:
            # The desktop ended Qt's loop under us (logout): main() was cancelled and cleaned up.
            if "Event loop stopped before Future completed" in str(exc):
                return self.exit_code
            raise


def run_app(args: Any, startup_factory: StartupFactory | None = None) -> int:
    """Run the desktop app until the user quits; returns the process exit code."""
    from ..config import log_dir
    from ..logs import setup_logging

    if getattr(args, "smoke", False):
        args.demo = True
    lock = None
    if startup_factory is None:  # the real guard: one per home, checked before the window or the log
        from ..instance import AlreadyGuarded

        try:
            lock = claim_app_home(args)
        except AlreadyGuarded as exc:
            print(f"deskguard: {exc}", file=sys.stderr)
            if not getattr(args, "smoke", False):
                tell_already_running(exc)
            return ExitCode.ALREADY_RUNNING
    try:
        # No credentials anywhere: the window offers the sign-in dialog, with "Try the demo instead".
        offer = startup_factory is None and not args.demo and not has_credentials()
        setup_logging(None if args.demo else log_dir())
        if lock is not None and lock.problem:
            log.warning("%s", lock.problem)
        if offer:
            log.info("no ProjectX credentials stored: offering the sign-in dialog")
        return DesktopApp(args, startup_factory, offer_sign_in=offer, instance_lock=lock).run()
    finally:
        if lock is not None:
            lock.release()


def claim_app_home(args: Any) -> Any:
    """The window's claim on the home its first guard will use (the demo's, or the user's): the
    same lock ``--headless`` takes. Raises :class:`deskguard.instance.AlreadyGuarded`."""
    from ..instance import claim_guard_home

    return claim_guard_home(demo=bool(getattr(args, "demo", False)), mode="window")


def tell_already_running(exc: Exception) -> None:
    """Say it in a message box too: started from a menu or at login, nobody reads stderr. Not without
    a screen (offscreen, or no display on Linux), where Qt could not show it or would abort."""
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal", "vnc"):
        return
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return
    try:
        _make_app()
        QMessageBox.information(None, "DeskGuard is already running",
                                f"{exc}\n\nLook for it in the system tray or the task bar.")
    except Exception:  # the message is on stderr already
        log.debug("could not show the already-running message", exc_info=True)


def has_credentials() -> bool:
    try:
        from ..config import load_config
        from ..runtime import MissingCredentials, resolve_credentials

        resolve_credentials(load_config(), None)
        return True
    except MissingCredentials:
        return False
    except Exception:  # a broken config: let start-up show the real error
        return True
