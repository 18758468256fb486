"""The README's screenshot of the demo: ``uv run python installer/screenshot.py [PATH]``.

A developer tool, not part of the app or its bundle: it runs the demo under Xvfb (installing it with
apt as root when missing), trades like a new user would (a winner, then a loser past the daily loss
limit) and saves the window, by default to resources/screenshots/demo.png.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication, QWidget

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = ROOT / "resources" / "screenshots" / "demo.png"


def save_screenshot(widget: QWidget, path: str | Path) -> Path:
    """Grab ``widget`` as it is drawn now (pending repaints first) and write it as a PNG.

    Works offscreen too; under a real X server (Xvfb) fonts and the style are the system's."""
    import asyncio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        in_task = asyncio.current_task() is not None
    except RuntimeError:
        in_task = False
    if not in_task:
        # Pumping Qt events inside a coroutine would re-enter other asyncio tasks (qasync);
        # grab() renders the widget synchronously anyway.
        QApplication.processEvents()
    if not widget.grab().save(str(path), "PNG"):
        raise OSError(f"could not write the screenshot to {path}")
    return path


# ----- the README's screenshot: the demo after a daily-loss breach, on a real X server -------------

XVFB_PACKAGES = [
    "xvfb", "xauth", "libgl1", "libegl1", "libglib2.0-0", "libfontconfig1", "fonts-dejavu-core",
    "libdbus-1-3", "libxkbcommon0", "libxkbcommon-x11-0", "libxcb-cursor0", "libxcb-icccm4",
    "libxcb-keysyms1", "libxcb-shape0", "libxcb-xinerama0", "libxcb-randr0", "libxcb-render-util0",
    "libxcb-image0",
]


def _ensure_xvfb() -> None:
    import os
    import shutil
    import subprocess

    if shutil.which("xvfb-run"):
        return
    if os.geteuid() != 0:
        raise SystemExit("xvfb-run is missing: apt-get install " + " ".join(XVFB_PACKAGES))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *XVFB_PACKAGES], check=True, env=env)


async def _breach_scenario(app: Any, path: Path) -> None:
    """Trade in the demo like a new user would: a winner, then a loser past the daily loss limit.
    ``app`` is the running :class:`deskguard.ui.app.DesktopApp`."""
    import asyncio

    while app.startup is None or not app.startup.guardian.health.guarding:
        await asyncio.sleep(0.1)
    sim = app.startup.practice.sim
    sim.pause_walk()
    acct = app.startup.guardian.accounts[0]
    price = sim.set_price("MNQ", 21000.0)
    sim.place_order(acct, "MNQ", "buy", 1)
    for step in range(1, 13):
        await asyncio.sleep(0.25)
        sim.set_price("MNQ", price + step * 2.5)
    sim.close_position(acct, "MNQ")
    await asyncio.sleep(1.0)
    sim.place_order(acct, "MNQ", "buy", 3)
    await asyncio.sleep(1.0)
    sim.set_price("MNQ", price - 100.0)  # −$600 open: the per-position stop closes it, the day is done
    await asyncio.sleep(4.0)
    sim.resume_walk()
    await asyncio.sleep(1.0)
    save_screenshot(app.window, path)
    print(f"screenshot saved to {path}", flush=True)
    app._quit.set()


async def _lab_scenario(desktop: object, path: Path) -> None:
    """The Rules lab on the demo's seeded month: Rules → Replay history…, Run, then the picture."""
    import asyncio

    from PySide6.QtCore import QDate

    app = desktop  # DesktopApp
    while app.startup is None or not app.startup.guardian.health.guarding:
        await asyncio.sleep(0.1)
    app.window.replay_action.trigger()
    lab = app.dialogs["replay"]
    lab.resize(1300, 940)
    days = app.startup.runtime.simulator.history.days()
    lab.from_edit.setDate(QDate(days[0].year, days[0].month, days[0].day))
    lab.to_edit.setDate(QDate(days[-1].year, days[-1].month, days[-1].day))
    task = lab.start()
    while task is not None and not task.done():
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    save_screenshot(lab, path)
    print(f"screenshot saved to {path}", flush=True)
    app._quit.set()


def main(argv: list[str] | None = None) -> int:
    """``python installer/screenshot.py [--lab] [PATH]``: screenshot the demo (or the Rules lab on
    the demo's seeded month) under Xvfb."""
    import argparse
    import asyncio
    import os
    import subprocess
    import tempfile

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--lab", action="store_true", help="the Rules lab instead of the breach")
    parser.add_argument("path", nargs="?", default=None,
                        help="default resources/screenshots/demo.png (rules-lab.png with --lab)")
    args = parser.parse_args(argv)
    default = DEFAULT_PATH.with_name("rules-lab.png") if args.lab else DEFAULT_PATH
    path = Path(args.path or default).resolve()
    if not os.environ.get("DISPLAY"):
        _ensure_xvfb()
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, str(Path(__file__).resolve()),
               *(["--lab"] if args.lab else []), str(path)]
        return subprocess.call(cmd, env=dict(os.environ, QT_QPA_PLATFORM="xcb"))

    from types import SimpleNamespace

    from deskguard.ui.app import DesktopApp

    os.environ.setdefault("DESKGUARD_HOME", tempfile.mkdtemp(prefix="deskguard-shot-"))
    desktop = DesktopApp(SimpleNamespace(demo=True, smoke=False), tray_available=False)
    desktop.window.resize(1500, 940)
    original_main = desktop.main
    scenario = _lab_scenario if args.lab else _breach_scenario

    async def main_with_scenario() -> int:
        # Started after the first paint: the paint pumps Qt events inside a coroutine, and a task
        # that became ready then would be entered re-entrantly.
        tasks: list[asyncio.Task] = []
        asyncio.get_running_loop().call_later(
            1.0, lambda: tasks.append(asyncio.ensure_future(scenario(desktop, path))))
        code = await original_main()
        for task in tasks:
            task.cancel()
        return code

    desktop.main = main_with_scenario  # the scenario runs inside main()
    return desktop.run()


if __name__ == "__main__":
    raise SystemExit(main())
