"""Runs the whole desktop app (deskguard.ui.app.run_app) in its own process, for test_ui_app.

Usage: python ui_app_runner.py OUT_DIR [ok|auth]. Writes OUT_DIR/events.txt (one line per step, in
order) and OUT_DIR/window.png, quits by itself, and exits with run_app's code."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from types import SimpleNamespace

os.environ["QT_QPA_PLATFORM"] = "offscreen"
sys.path.insert(0, str(Path(__file__).parent))

from ui_stubs import StubGuardian  # noqa: E402

from deskguard.broker.base import AuthenticationError  # noqa: E402
from deskguard.ui.app import DesktopApp, Startup  # noqa: E402

out = Path(sys.argv[1])
mode = sys.argv[2] if len(sys.argv) > 2 else "ok"
events: list[str] = []


class RecordingGuardian(StubGuardian):
    async def start(self) -> None:
        events.append(f"start observers={len(self.observers)}")
        await super().start()
        self.emit()

    async def stop(self) -> None:
        events.append("stop")
        await super().stop()


async def factory(args) -> Startup:
    events.append(f"factory window_visible={app.window.isVisible()} first_paint={app.first_paint_s is not None}")
    if mode == "auth":
        asyncio.get_running_loop().call_later(0.5, app.window.confirm_quit)
        raise AuthenticationError("invalid API key")

    async def quit_soon() -> None:
        await asyncio.sleep(0.5)
        if not app.window.grab().save(str(out / "window.png"), "PNG"):
            raise OSError(f"could not write {out / 'window.png'}")
        events.append(f"banner={app.window.not_guarding_banner.isVisible()}")
        app.window.close()  # no tray offscreen: closing the window quits

    async def cleanup() -> None:
        events.append("cleanup")

    asyncio.get_running_loop().create_task(quit_soon())
    return Startup(RecordingGuardian(), cleanup=cleanup)


app = DesktopApp(SimpleNamespace(demo=False), factory)
code = app.run()
events.append(f"exit {code}")
if mode == "auth":
    events.append("auth banner: " + app.window.not_guarding_banner.detail.text())
(out / "events.txt").write_text("\n".join(events) + "\n")
sys.exit(code)
