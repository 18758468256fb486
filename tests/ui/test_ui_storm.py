"""Quote storms: thousands of snapshots in a burst never block the window nor flood its repaints."""

from __future__ import annotations

import asyncio
import time

import pytest
from ui_stubs import make_position, make_snapshot

pytestmark = pytest.mark.ui


def test_a_burst_of_snapshots_is_coalesced(window, vm, stub, qtbot):
    chart_before = window.chart.render_count
    emitted_before = vm.snapshots_emitted
    start = time.monotonic()
    last = None
    for i in range(5000):
        last = stub.emit(make_snapshot(open_pnl=-i / 10, positions=(make_position(open_pnl=-i / 10),)))
    burst_s = time.monotonic() - start
    qtbot.waitUntil(lambda: window.positions.item(0, 5) is not None and window.positions.item(0, 5).text() == "−$499.90")
    assert vm.latest(last.account_id) is last
    # One burst: the view-model flushes once (perhaps twice at an interval boundary).
    assert vm.snapshots_emitted - emitted_before <= 2
    assert window.chart.render_count - chart_before <= 3
    assert burst_s < 2.0  # the guardian's callbacks returned at once


def test_a_sustained_storm_repaints_at_most_about_ten_times_a_second(window, vm, stub, qtbot, aio):
    emitted_before = vm.snapshots_emitted
    chart_before = window.chart.render_count
    stats = {"sent": 0, "lag": 0.0}

    async def storm() -> None:
        # ~2,000 quotes/s for 1.5 s, in bursts of 100 every 50 ms, as the SDK's socket would deliver them.
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            for _ in range(100):
                stats["sent"] += 1
                stub.emit(make_snapshot(open_pnl=-(stats["sent"] % 300), positions=(make_position(),)))
            before = time.monotonic()
            await asyncio.sleep(0.05)
            stats["lag"] = max(stats["lag"], time.monotonic() - before - 0.05)

    task = asyncio.ensure_future(storm())
    start = time.monotonic()
    qtbot.waitUntil(task.done, timeout=10_000)
    elapsed = time.monotonic() - start
    qtbot.wait(250)  # the trailing flush
    assert stats["sent"] >= 2000
    flushes = vm.snapshots_emitted - emitted_before
    assert 3 <= flushes <= elapsed * 10 + 3
    assert window.chart.render_count - chart_before <= elapsed * 10 + 4
    assert stats["lag"] < 0.5  # the loop never stalled
