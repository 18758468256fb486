"""``deskguard replay`` end to end: exit codes, --compare, --csv, and the same figures from a
``--trades`` file as from fetching the same trades from the simulator."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from replay_cases import T0, Tape

from deskguard.cli import build_parser, main
from deskguard.replay_cli import run_replay
from deskguard.simulator import DEMO_API_KEY, DEMO_USERNAME, Simulator

#: 003 alone: every rule on by default switched off.
ONLY_003 = "\n".join(f"[rules.{k}]\nenabled = false\n" for k in (
    "max_contracts", "max_contracts_per_instrument", "daily_unrealized_loss", "trade_frequency",
    "cooldown_after_loss", "session_block", "auth_loss_guard"))


def _config(tmp_path: Path, name: str, max_loss: int) -> Path:
    path = tmp_path / name
    path.write_text(ONLY_003 + f"\n[rules.daily_realized_loss]\nmax_loss = {max_loss}\n", encoding="utf-8")
    return path


def _breach_day(tmp_path: Path) -> Path:
    """The 003 day: -202, -152, -162 (breach at -516), then +298 and +98."""
    tape = Tape()
    for n, pnl in enumerate((-200, -150, -160, 300, 100)):
        tape.round_trip(T0 + timedelta(minutes=10 * n), pnl)
    path = tmp_path / "trades.json"
    path.write_text(json.dumps(tape.payload()), encoding="utf-8")
    return path


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_replay(build_parser().parse_args(["replay", *argv]), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DESKGUARD_HOME", str(tmp_path / "home"))
    for var in ("PROJECT_X_USERNAME", "PROJECT_X_API_KEY", "PROJECTX_API_URL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "home"


def test_compare_two_rule_sets_side_by_side_and_in_the_csv(tmp_path: Path) -> None:
    trades = _breach_day(tmp_path)
    strict, loose = _config(tmp_path, "strict.toml", 500), _config(tmp_path, "loose.toml", 1000)
    out_csv = tmp_path / "out.csv"
    code, out, _ = _run("--trades", str(trades), "--from", "2026-11-24", "--to", "2026-11-24", "--config", str(strict),
                        "--compare", str(loose), "--csv", str(out_csv))
    assert code == 0
    # actual -120; the strict set keeps the first three trades (-516); the loose one never locks (-120).
    assert "2026-11-24" in out and "003 daily_realized_loss at 09:21:00" in out
    side_by_side = out.split("\n\n")[-1]
    assert "strict.toml" in side_by_side and "loose.toml" in side_by_side
    total = next(line for line in side_by_side.splitlines() if line.startswith("total")).split()
    assert total == ["total", "-120.00", "-516.00", "-120.00", "4", "0"]
    [row] = list(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8"))))
    assert (row["actual_net_pnl"], row["guarded_net_pnl"], row["trades_blocked"]) == ("-120.00", "-516.00", "4")
    assert (row["first_lock_rule"], row["compare_guarded_net_pnl"], row["compare_trades_blocked"]) == (
        "daily_realized_loss", "-120.00", "0")


@pytest.mark.parametrize(("argv", "named"), [
    (["--from", "2026-13-01"], "--from: '2026-13-01' is not a date"),
    (["--to", "yesterday"], "--to: 'yesterday' is not a date"),
    (["--from", "2026-11-25", "--to", "2026-11-24"], "--from 2026-11-25 is after --to 2026-11-24"),
    (["--config", "missing.toml"], "--config: missing.toml: no such file"),
    (["--compare", "missing.toml"], "--compare: missing.toml: no such file"),
])
def test_bad_dates_and_config_exit_2_naming_the_problem(tmp_path: Path, argv: list[str], named: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    trades = _breach_day(tmp_path)
    code, out, err = _run("--trades", str(trades), *argv)
    assert code == 2 and named in err and out == ""


def test_a_config_with_a_bad_key_exits_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[rules.daily_realized_loss]\nmax_los = 400\n", encoding="utf-8")
    assert main(["replay", "--trades", str(_breach_day(tmp_path)), "--config", str(bad)]) == 2
    code, _, err = _run("--trades", str(_breach_day(tmp_path)), "--config", str(bad))
    assert code == 2 and "max_los" in err and "max_loss" in err


def test_a_bad_trades_file_exits_2_naming_the_record(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"trades": [{"id": 1, "accountId": 1, "contractId": "CON.F.US.MNQ.Z26",
                                            "creationTimestamp": "2026-11-24T15:00:00Z", "price": 1.0,
                                            "side": 3, "size": 1}]}), encoding="utf-8")
    code, _, err = _run("--trades", str(path))
    assert code == 2 and "trade #1" in err and "side" in err
    path.write_text("{not json", encoding="utf-8")
    code, _, err = _run("--trades", str(path))
    assert code == 2 and "not JSON" in err


def test_without_credentials_fetching_exits_3(tmp_path: Path) -> None:
    code, _, err = _run("--config", str(_config(tmp_path, "c.toml", 500)))
    assert code == 3 and "credentials" in err


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    """A simulator with 5 trading days of seeded past, on its own loop in a thread (the command
    runs its own loop, as from a shell)."""
    sim = Simulator(seed=3, history_days=5, walk_paused=True, idle_quote_interval_s=None)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(sim.start(), loop).result(10)
    try:
        yield sim
    finally:
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_a_trades_file_and_the_gateway_give_identical_results(simulator: Simulator, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROJECT_X_USERNAME", DEMO_USERNAME)
    monkeypatch.setenv("PROJECT_X_API_KEY", DEMO_API_KEY)
    monkeypatch.setenv("PROJECTX_API_URL", simulator.api_url)
    days = simulator.history.days()
    span = ["--from", days[0].isoformat(), "--to", days[-1].isoformat()]
    fetched_csv, file_csv = tmp_path / "fetched.csv", tmp_path / "file.csv"
    code, out, err = _run("--account", "50KTC-V2-123456-1001", *span, "--csv", str(fetched_csv))
    assert code == 0, err
    assert f"fetching trades: 5/5 trading days ({days[-1].isoformat()})" in err  # progress on stderr
    searches = [r for r in simulator.requests() if r.endpoint.lower().endswith("trade/search")]
    assert len(searches) == 5  # paged by day
    trades = simulator.history.trades([1001], datetime(2020, 1, 1, tzinfo=UTC), datetime.now(UTC))
    (tmp_path / "t.json").write_text(json.dumps({"success": True, "trades": trades}), encoding="utf-8")
    code, _, err = _run("--trades", str(tmp_path / "t.json"), *span, "--csv", str(file_csv))
    assert code == 0, err
    fetched = fetched_csv.read_text(encoding="utf-8")
    assert fetched == file_csv.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(fetched)))
    assert len(rows) == 5 and any(r["rules_fired"] for r in rows)  # the seeded month makes the rules work


def test_bars_run_the_quote_rules(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROJECT_X_USERNAME", DEMO_USERNAME)
    monkeypatch.setenv("PROJECT_X_API_KEY", DEMO_API_KEY)
    monkeypatch.setenv("PROJECTX_API_URL", simulator.api_url)
    day = simulator.history.days()[-1].isoformat()
    code, out, err = _run("--account", "1001", "--from", day, "--to", day, "--bars")
    assert code == 0, err
    assert "needs quotes" not in out and "fetching bars" in err
    assert any(r.endpoint.lower().endswith("history/retrievebars") for r in simulator.requests())
