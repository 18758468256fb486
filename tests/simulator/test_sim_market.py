"""Contract ids, search, the seeded walk, quotes and bars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sim_harness import PINNED_TODAY

from deskguard.engine.instruments import CATALOG
from deskguard.simulator.contracts import ContractCatalog, front_month
from deskguard.simulator.market import Market

CONTRACTS = ContractCatalog(PINNED_TODAY)


@pytest.mark.parametrize(
    ("text", "contract_id", "name", "symbol_id"),
    [
        ("ES", "CON.F.US.EP.Z26", "ESZ6", "F.US.EP"),
        ("NQ", "CON.F.US.ENQ.Z26", "NQZ6", "F.US.ENQ"),
        ("MNQ", "CON.F.US.MNQ.Z26", "MNQZ6", "F.US.MNQ"),
        ("ep", "CON.F.US.EP.Z26", "ESZ6", "F.US.EP"),
        ("CON.F.US.ENQ.Z26", "CON.F.US.ENQ.Z26", "NQZ6", "F.US.ENQ"),
        ("MNQZ6", "CON.F.US.MNQ.Z26", "MNQZ6", "F.US.MNQ"),
    ],
)
def test_contracts_use_topstepx_roots(text: str, contract_id: str, name: str, symbol_id: str) -> None:
    contract = CONTRACTS.resolve(text)
    assert contract is not None
    assert (contract.id, contract.name, contract.symbol_id) == (contract_id, name, symbol_id)


def test_contract_api_shape_carries_catalog_ticks() -> None:
    contract = CONTRACTS.resolve("MES")
    assert contract is not None
    assert contract.to_api() == {
        "id": "CON.F.US.MES.Z26",
        "name": "MESZ6",
        "description": "Micro E-mini S&P 500: December 2026",
        "tickSize": 0.25,
        "tickValue": 1.25,
        "activeContract": True,
        "symbolId": "F.US.MES",
    }


def test_every_catalog_instrument_has_a_contract() -> None:
    assert {c.symbol for c in CONTRACTS} == set(CATALOG)


def test_front_month_rolls_before_expiry() -> None:
    es = CATALOG["ES"]
    assert front_month(es, date(2026, 12, 9)) == ("Z", 2026)
    assert front_month(es, date(2026, 12, 10)) == ("H", 2027)
    assert front_month(CATALOG["CL"], date(2026, 11, 25)) == ("Z", 2026)


def test_search_puts_the_exact_match_first() -> None:
    found = [c.symbol for c in CONTRACTS.search("ES")]
    assert found[0] == "ES" and "MES" in found
    assert [c.symbol for c in CONTRACTS.search("nasdaq")] == ["NQ", "MNQ"]
    assert CONTRACTS.search("") == []


def test_walk_is_seeded_and_stays_on_the_tick_grid() -> None:
    mnq = CONTRACTS.resolve("MNQ")
    assert mnq is not None
    walks = []
    for _ in range(2):
        market = Market(seed=3)
        walks.append([market.step(mnq) for _ in range(50)])
    assert walks[0] == walks[1]
    assert len(set(walks[0])) > 5
    assert all(abs(p / 0.25 - round(p / 0.25)) < 1e-9 for p in walks[0])
    assert Market(seed=4).price(mnq) != Market(seed=3).price(mnq)


def test_quote_symbol_is_the_symbol_id() -> None:
    nq = CONTRACTS.resolve("NQ")
    assert nq is not None
    market = Market(seed=1)
    market.set_price(nq, 21_000.3)  # off the grid: rounded
    quote = market.quote(nq)
    assert quote["symbol"] == "F.US.ENQ"
    assert quote["lastPrice"] == 21_000.25
    assert quote["bestAsk"] - quote["bestBid"] == pytest.approx(0.25)


def test_bars_cover_the_window_newest_first_and_end_at_the_current_price() -> None:
    es = CONTRACTS.resolve("ES")
    assert es is not None
    market = Market(seed=1)
    market.set_price(es, 6_000.0)
    end = datetime.now(UTC)
    bars = market.bars(es, end - timedelta(hours=2), end, unit=2, unit_number=5, limit=1000, include_partial=True)
    assert 23 <= len(bars) <= 25
    assert bars[0]["c"] == 6_000.0  # newest first, as the gateway's History/retrieveBars example
    times = [datetime.fromisoformat(b["t"]) for b in bars]
    assert times == sorted(times, reverse=True) and all(t.minute % 5 == 0 for t in times)
    assert all(b["l"] <= min(b["o"], b["c"]) and b["h"] >= max(b["o"], b["c"]) for b in bars)
    assert all(bars[i]["o"] == bars[i + 1]["c"] for i in range(len(bars) - 1))
    limited = market.bars(es, end - timedelta(hours=2), end, unit=2, unit_number=5, limit=10, include_partial=True)
    assert limited == bars[:10]  # the limit keeps the newest
