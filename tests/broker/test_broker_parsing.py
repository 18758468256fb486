"""Unit tests of the adapter's tolerant parsing, de-duplication, URL resolution and log redaction."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from deskguard.broker import parsing
from deskguard.broker.projectx import (
    DEFAULT_API_URL,
    DEFAULT_MARKET_HUB_URL,
    DEFAULT_USER_HUB_URL,
    ProjectXBroker,
    resolve_gateway_urls,
)
from deskguard.broker.sdk_logging import RedactingFilter, quiet_sdk_logging, redact, register_secret
from deskguard.engine.models import Order, OrderStatus, OrderType, PositionType, Side

POSITION = {
    "id": 7,
    "accountId": 1001,
    "contractId": "CON.F.US.MNQ.Z26",
    "creationTimestamp": "2026-11-25T14:30:00.1234567+00:00",
    "type": 1,
    "size": 2,
    "averagePrice": 21000.25,
}


def test_unwrap_handles_bare_wrapped_and_batches_and_copies() -> None:
    bare = dict(POSITION)
    assert parsing.unwrap(bare) == [bare]
    assert parsing.unwrap(bare)[0] is not bare
    assert parsing.unwrap({"action": 1, "data": bare}) == [bare]
    assert parsing.unwrap([{"action": 0, "data": bare}, bare]) == [bare, bare]
    assert parsing.unwrap(None) == []
    assert parsing.unwrap("text") == []
    nested = {"action": 1, "data": {**bare, "extra": {"a": [1, 2]}}}
    out = parsing.unwrap(nested)
    out[0]["extra"]["a"].append(3)
    assert nested["data"]["extra"]["a"] == [1, 2]  # a deep copy: the SDK's dict stays untouched


def test_position_parsing_is_tolerant() -> None:
    p = parsing.parse_position({**POSITION, "somethingNew": {"x": 1}})
    assert (p.account_id, p.contract_id, p.type, p.size, p.average_price, p.id) == (
        1001, "CON.F.US.MNQ.Z26", PositionType.LONG, 2, 21000.25, 7,
    )  # fmt: skip
    assert p.opened_at == datetime(2026, 11, 25, 14, 30, 0, 123456, tzinfo=UTC)
    closed = parsing.parse_position({**POSITION, "size": 0, "type": 0}, PositionType.SHORT)
    assert closed.size == 0 and closed.type == PositionType.SHORT
    for broken in ({"id": 1, "accountId": 1001}, {**POSITION, "size": "two"}, {**POSITION, "type": 9}):
        with pytest.raises(parsing.PayloadError):
            parsing.parse_position(broken)


def test_order_trade_account_quote_parsing() -> None:
    order = parsing.parse_order(
        {"id": "12", "accountId": 1001, "contractId": "C", "status": 7, "type": 4, "side": 1, "size": 1,
         "stopPrice": "20990.5", "updateTimestamp": "2026-11-25T14:30:00Z"}  # fmt: skip
    )
    assert order.id == 12 and order.status == OrderStatus.OPEN and order.type == OrderType.STOP
    assert order.side == Side.SELL and order.stop_price == 20990.5
    assert order.updated_at == datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
    with pytest.raises(parsing.PayloadError):
        parsing.parse_order({"id": 1, "accountId": 1, "contractId": "C", "status": 1, "type": 0, "side": 0, "size": 1})

    trade = parsing.parse_trade(
        {"id": 5, "accountId": 1001, "contractId": "C", "creationTimestamp": "2026-11-25T14:30:00",
         "price": 10, "profitAndLoss": None, "fees": None, "side": 0, "size": 1}  # fmt: skip
    )
    assert trade.pnl is None and trade.fees == 0.0 and trade.time.tzinfo is UTC and not trade.voided
    with pytest.raises(parsing.PayloadError):
        parsing.parse_trade({"id": 5, "accountId": 1001})

    account = parsing.parse_account({"id": 1, "name": "A", "balance": 50000, "canTrade": False, "riskTier": "x"})
    assert account.balance == 50000.0 and not account.can_trade

    q1 = parsing.parse_quote("C", {"lastPrice": 10.0, "bestBid": 9.75, "bestAsk": 10.25}, None, datetime.now(UTC))
    q2 = parsing.parse_quote("C", {"bestBid": 10.0}, q1, datetime.now(UTC))
    assert (q2.last, q2.bid, q2.ask) == (10.0, 10.0, 10.25)
    with pytest.raises(parsing.PayloadError):
        parsing.parse_quote("C", {"symbol": "F.US.X"}, None, datetime.now(UTC))


def test_deduplicator_compares_with_the_latest_state() -> None:
    d = parsing.Deduplicator()
    one = parsing.parse_position(POSITION)
    two = parsing.parse_position({**POSITION, "size": 3})
    assert d.position_is_new(one)
    assert not d.position_is_new(one)
    assert d.position_is_new(two)
    assert d.position_is_new(one)  # 2 -> 3 -> 2 is three real changes
    trade = parsing.parse_trade(
        {"id": 5, "accountId": 1001, "contractId": "C", "creationTimestamp": "2026-11-25T14:30:00Z",
         "price": 10, "side": 0, "size": 1}  # fmt: skip
    )
    assert d.trade_is_new(trade) and not d.trade_is_new(trade)
    voided = parsing.parse_trade({**_trade_payload(trade), "voided": True})
    assert d.trade_is_new(voided) and not d.trade_is_new(voided)
    account = parsing.parse_account({"id": 1001, "name": "A", "balance": 1})
    flat = parsing.parse_position({**POSITION, "size": 0})
    d.baseline(account, [], [], [trade])
    assert d.known_open_positions(1001) == {}
    assert not d.position_is_new(flat)  # the baseline already said flat
    assert not d.account_is_new(account)


def test_an_order_update_older_than_the_latest_is_stale() -> None:
    t = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    working = Order(7, 1001, "CON.F.US.MNQ.Z26", OrderStatus.OPEN, OrderType.STOP, Side.SELL, 1, None, 19_990.0,
                    t, t)
    moved = Order(7, 1001, "CON.F.US.MNQ.Z26", OrderStatus.OPEN, OrderType.STOP, Side.SELL, 1, None, 19_995.0,
                  t, t + timedelta(seconds=1))
    filled = Order(7, 1001, "CON.F.US.MNQ.Z26", OrderStatus.FILLED, OrderType.STOP, Side.SELL, 1, None, 19_995.0,
                   t, t + timedelta(seconds=2))
    dedupe = parsing.Deduplicator()
    assert [dedupe.order_is_new(o) for o in (working, moved, filled)] == [True, True, True]
    assert [dedupe.order_is_new(o) for o in (moved, working, filled)] == [False, False, False]
    assert dedupe.known_working_orders(1001) == set()


def test_gateway_urls_explicit_then_env_then_topstepx() -> None:
    env = {"PROJECTX_API_URL": "http://127.0.0.1:9/api", "PROJECTX_USER_HUB_URL": "http://127.0.0.1:9/hubs/user"}
    assert resolve_gateway_urls(env={}) == (DEFAULT_API_URL, DEFAULT_USER_HUB_URL, DEFAULT_MARKET_HUB_URL)
    assert resolve_gateway_urls(env=env) == ("http://127.0.0.1:9/api", "http://127.0.0.1:9/hubs/user", DEFAULT_MARKET_HUB_URL)
    assert resolve_gateway_urls("http://localhost:1/api/", env=env)[0] == "http://localhost:1/api"


def test_plain_http_is_refused_off_loopback() -> None:
    with pytest.raises(ValueError):
        ProjectXBroker("u", "k" * 16, api_url="http://example.com/api")


def test_redaction_of_keys_and_tokens() -> None:
    register_secret("KEY-abcdef-123456")
    text = "POST body apiKey=KEY-abcdef-123456 url=http://h/hubs/user/negotiate?access_token=eyJ.x.y&id=1 Bearer eyJ.a.b"
    cleaned = redact(text)
    assert "KEY-abcdef-123456" not in cleaned and "eyJ" not in cleaned
    record = logging.LogRecord("project_x_py.x", logging.ERROR, __file__, 1, "login %s", ("KEY-abcdef-123456",), None)
    RedactingFilter().filter(record)
    assert "KEY-abcdef-123456" not in record.getMessage()


def test_sdk_stdout_handlers_are_removed() -> None:
    import project_x_py  # noqa: F401  (installs its handlers at import)

    quiet_sdk_logging()
    for name, logger in logging.Logger.manager.loggerDict.items():
        if name.startswith("project_x_py.") and isinstance(logger, logging.Logger):
            assert not any(type(h) is logging.StreamHandler for h in logger.handlers), name
            assert logger.propagate and logger.getEffectiveLevel() == logging.WARNING, name
    top = logging.getLogger("project_x_py")
    assert not top.propagate and "_ForwardHandler" in [type(h).__name__ for h in top.handlers]
    assert not any(type(h) is logging.StreamHandler for h in top.handlers)


def test_sdk_records_reach_our_logger_redacted(caplog: pytest.LogCaptureFixture) -> None:
    quiet_sdk_logging()
    register_secret("another-SECRET-key-777")
    with caplog.at_level(logging.WARNING):
        logging.getLogger("project_x_py.client.http").error("echo apiKey=%s", "another-SECRET-key-777")
        logging.getLogger("pysignalr.transport").warning("url ?access_token=eyJabc.def.ghi&id=1")
        logging.getLogger("project_x_py.client.http").info("quiet below WARNING")
    # (A set: pytest itself attaches its capture handler to loggers that did not propagate when
    # the session began, so a record can be captured twice.)
    messages = {(r.name, r.getMessage()) for r in caplog.records}
    assert messages == {
        ("project_x_py.client.http", "echo apiKey=***"),
        ("pysignalr.transport", "url ?access_token=***&id=1"),
    }


def _trade_payload(t) -> dict:  # type: ignore[no-untyped-def]
    return {"id": t.id, "accountId": t.account_id, "contractId": t.contract_id, "creationTimestamp": t.time.isoformat(),
            "price": t.price, "side": int(t.side), "size": t.size}  # fmt: skip
