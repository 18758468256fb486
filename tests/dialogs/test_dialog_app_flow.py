"""The whole app as a new user meets it: no credentials → the sign-in dialog (or the demo); sign in
to the simulator; edit a rule and see it in force; quit; start again and stay signed in; sign out.

Real DesktopApp and window (offscreen), real guardian and project-x-py SDK against the built-in
simulator on 127.0.0.1, and a real Secret Service keyring on a private D-Bus session."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import keyring
import pytest
from keyring_session import files_containing
from PySide6.QtCore import Qt

from deskguard.config import load_config
from deskguard.simulator import Simulator
from deskguard.ui.app import NOT_SIGNED_IN, DesktopApp, has_credentials

pytestmark = [pytest.mark.ui, pytest.mark.integration]

USER = "new.trader@example.com"
KEY = "pX-1b7e0c55a9d24f3f8e6a2d4c9b1f0e77"


@pytest.fixture
def sim(run_async):
    # The market never moves here, and its task must stay asleep: DesktopApp's first paint pumps Qt
    # events from inside its main() task, where a ready task of another kind cannot be entered.
    simulator = Simulator(credentials=(USER, KEY), walk_paused=True, keepalive_s=0, walk_interval_s=3600,
                          idle_quote_interval_s=None)
    run_async(simulator.start())
    yield simulator
    run_async(simulator.stop())


@pytest.fixture
def config_file(app_home, sim):
    path = app_home / "config.toml"
    path.write_text(
        "# my DeskGuard\n[connection]\n"
        f'api_url = "{sim.api_url}"\nuser_hub_url = "{sim.user_hub_url}"\nmarket_hub_url = "{sim.market_hub_url}"\n'
    )
    return path


def start_app(qtbot, aio):
    app = DesktopApp(SimpleNamespace(demo=False), tray_available=False, offer_sign_in=not has_credentials())
    qtbot.addWidget(app.window)
    app.tasks_before = set(asyncio.all_tasks(aio))
    return app, aio.create_task(app.main())


def quit_app(qtbot, app, main) -> int:
    app.window.confirm_quit()
    qtbot.waitUntil(main.done, timeout=20_000)
    # What the stopped guard left running (hub transports closing) ends before the next start.
    left = [t for t in asyncio.all_tasks(main.get_loop()) if t not in app.tasks_before and not t.done()]
    for task in left:
        task.cancel()
    qtbot.waitUntil(lambda: all(t.done() for t in left), timeout=10_000)
    return main.result()


def guarding(app) -> bool:
    return app.guardian is not None and app.guardian.health.guarding and bool(app.vm.all_latest())


def test_sign_in_edit_a_rule_quit_and_stay_signed_in(qtbot, aio, real_keyring, app_home, config_file, sim):
    app, main = start_app(qtbot, aio)
    try:
        # No credentials: the window says it is not guarding and offers the sign-in dialog.
        qtbot.waitUntil(lambda: "sign_in" in app.dialogs and app.dialogs["sign_in"].isVisible(), timeout=10_000)
        assert app.window.not_guarding_banner.detail.text() == NOT_SIGNED_IN
        assert app.guardian is None
        dialog = app.dialogs["sign_in"]
        assert dialog.demo_button.isVisible()
        qtbot.keyClicks(dialog.username, USER)
        qtbot.keyClicks(dialog.api_key, KEY)
        qtbot.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: guarding(app), timeout=30_000)
        qtbot.waitUntil(lambda: not app.window.not_guarding_banner.isVisible(), timeout=10_000)
        qtbot.waitUntil(lambda: app.window.signed_in_label.text() == f"Signed in as {USER}", timeout=10_000)
        assert app.window.sign_out_action.isEnabled()

        # Rules → Edit rules…: a tighter contract limit is in force at once.
        app.window.edit_rules_action.trigger()
        editor = app.dialogs["rules"]
        editor.form("max_contracts").editor("limit").set_value(2)
        editor.form("daily_realized_loss").editor("max_loss").set_value(900)
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
        assert app.guardian.settings.rules["max_contracts"].limit == 2
        assert app.guardian.settings.rules["daily_realized_loss"].max_loss == 500  # looser: waits
        assert [c.key for c in app.guardian.pending_changes()] == ["daily_realized_loss.max_loss"]
        qtbot.waitUntil(lambda: "Max loss" in app.window.rules.row_of("daily_realized_loss")["pending"], timeout=5_000)
        assert quit_app(qtbot, app, main) == 0
    finally:
        if not main.done():
            quit_app(qtbot, app, main)

    assert keyring.get_password("deskguard", USER) == KEY
    assert files_containing(app_home, KEY) == []
    assert load_config(config_file).connection.username == USER
    assert "# my DeskGuard" in config_file.read_text()

    # Start again: signed in without a dialog, the tighter rule still in force, the looser one still waiting.
    again, main2 = start_app(qtbot, aio)
    try:
        assert not again.offer_sign_in
        qtbot.waitUntil(lambda: guarding(again), timeout=30_000)
        assert "sign_in" not in again.dialogs
        assert again.guardian.settings.rules["max_contracts"].limit == 2
        assert again.guardian.settings.rules["daily_realized_loss"].max_loss == 500
        assert [c.key for c in again.guardian.pending_changes()] == ["daily_realized_loss.max_loss"]

        # Account → Sign out: the guard stops, the key leaves the keyring, sign-in is offered again.
        qtbot.waitUntil(again.window.sign_out_action.isEnabled, timeout=10_000)
        again.window.sign_out_action.trigger()
        box = again.dialogs["sign_out"]
        sign_out_button = next(b for b in box.buttons() if b.text() == "Sign out")
        sign_out_button.click()
        qtbot.waitUntil(lambda: "sign_in" in again.dialogs and again.guardian is None, timeout=20_000)
        assert keyring.get_password("deskguard", USER) is None
        assert again.window.not_guarding_banner.detail.text() == NOT_SIGNED_IN
        assert not again.window.sign_out_action.isEnabled()
        assert quit_app(qtbot, again, main2) == 0
    finally:
        if not main2.done():
            quit_app(qtbot, again, main2)
    assert not has_credentials()


def test_try_the_demo_instead_starts_the_simulator_in_its_own_home(qtbot, aio, no_keyring, app_home):
    app, main = start_app(qtbot, aio)
    try:
        assert app.offer_sign_in
        qtbot.waitUntil(lambda: "sign_in" in app.dialogs, timeout=10_000)
        qtbot.mouseClick(app.dialogs["sign_in"].demo_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: guarding(app), timeout=30_000)
        assert app.window.demo and app.window.ticket is not None and app.window.ticket.isVisible()
        assert app.window.windowTitle().endswith("DEMO")
        assert (app_home / "demo" / "config.toml").exists()  # the demo never touches the user's config
        assert not (app_home / "config.toml").exists()
    finally:
        assert quit_app(qtbot, app, main) == 0
