"""Fuzzing the two doors bad input comes through: gateway payloads and config.toml.

Payload parsing never raises anything but ``PayloadError`` (which the adapter skips with a
warning), and the adapter's raw hub callbacks never raise nor hit their last-resort "unexpected
error" handler. Config loading never raises anything but ``ConfigError``, and every line number it
reports is a line of the file. Runs are derandomized so CI is repeatable; set
``DESKGUARD_FUZZ_EXAMPLES`` to hunt longer (and at random) locally.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deskguard.broker import parsing
from deskguard.broker.base import BrokerListener
from deskguard.broker.projectx import ProjectXBroker
from deskguard.config import ConfigError, DeskGuardConfig, default_config_text, loads_config
from deskguard.config.rules_schema import KNOWN_KEYS
from deskguard.engine.models import Account, ContractSpec, Order, Position, PositionType, Quote, Trade

EXAMPLES = int(os.environ.get("DESKGUARD_FUZZ_EXAMPLES", "0"))


def fuzz(examples: int) -> settings:
    return settings(max_examples=EXAMPLES or examples, deadline=None, derandomize=not EXAMPLES, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# ----- gateway payloads -----------------------------------------------------------------------------

ODD_TIMES = st.sampled_from([
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-11-25T14:30:00.1234567890123+00:00",
    "2026-02-30T00:00:00Z", "2026-11-25T24:00:00", "2026-11-25", "T", "Z", ".", "1e400", "-0", "NaN",
    "2026-11-25T14:30:00.Z", "2026-11-25T14:30:00.+00:00", "\x00", "２０２６-11-25", "", " ",
])
NUMBERS = st.one_of(
    st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -1, 1, 2**63, -(2**63), 1e11, 1e12, 1e20, -1e20, 253402300800, 253402300800000]),
)
STRINGS = st.one_of(st.text(max_size=30), st.sampled_from(["1", " 7 ", "1.5", "inf", "-inf", "nan", "1_000", "0x10",
                                                           "9" * 5000, "true", "CON.F.US.MNQ.Z26", "F.US.MNQ"]), ODD_TIMES)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                          max_size=4), max_leaves=12)

VALID = {
    "account": {"id": 1001, "name": "50KTC", "balance": 50_000.0, "canTrade": True, "isVisible": True, "simulated": True},
    "position": {"id": 7, "accountId": 1001, "contractId": "CON.F.US.MNQ.Z26", "creationTimestamp":
                 "2026-11-25T14:30:00.1234567+00:00", "type": 1, "size": 2, "averagePrice": 21000.25},
    "order": {"id": 9, "accountId": 1001, "contractId": "CON.F.US.MNQ.Z26", "creationTimestamp": "2026-11-25T14:30:00Z",
              "updateTimestamp": "2026-11-25T14:30:01Z", "status": 1, "type": 4, "side": 1, "size": 1,
              "limitPrice": None, "stopPrice": 20990.0, "fillVolume": 0, "filledPrice": None},
    "trade": {"id": 11, "accountId": 1001, "contractId": "CON.F.US.MNQ.Z26", "creationTimestamp": "2026-11-25T14:31:00Z",
              "price": 21010.0, "profitAndLoss": 19.5, "fees": 0.74, "side": 1, "size": 1, "voided": False, "orderId": 9},
    "quote": {"symbol": "F.US.MNQ", "lastPrice": 21000.25, "bestBid": 21000.0, "bestAsk": 21000.5,
              "timestamp": "2026-11-25T14:31:00Z", "volume": 100},
    "contract": {"id": "CON.F.US.MNQ.Z26", "name": "MNQZ6", "tickSize": 0.25, "tickValue": 0.5, "symbolId": "F.US.MNQ"},
}


@st.composite
def payloads(draw: st.DrawFn, kind: str) -> Any:
    """Mostly a real payload with some fields broken, dropped or added; sometimes anything at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON)
    payload: dict[str, Any] = dict(VALID[kind])
    for key in draw(st.lists(st.sampled_from(sorted(payload)), max_size=len(payload), unique=True)):
        if draw(st.booleans()):
            del payload[key]
        else:
            payload[key] = draw(JSON)
    payload.update(draw(st.dictionaries(st.text(max_size=8), JSON, max_size=2)))
    if draw(st.booleans()):
        return {"action": draw(SCALARS), "data": payload}
    return payload


def parses_or_payload_error(parse, *args: Any) -> Any:
    try:
        return parse(*args)
    except parsing.PayloadError:
        return None


@fuzz(150)
@given(payloads("account"), payloads("position"), payloads("order"), payloads("trade"), payloads("contract"),
       st.sampled_from([None, PositionType.LONG, PositionType.SHORT]))
def test_payload_parsing_raises_nothing_but_payload_error(account, position, order, trade, contract, previous) -> None:
    for raw, parse, model, extra in (
        (account, parsing.parse_account, Account, ()), (position, parsing.parse_position, Position, (previous,)),
        (order, parsing.parse_order, Order, ()), (trade, parsing.parse_trade, Trade, ()),
    ):
        for payload in parsing.unwrap(raw):
            result = parses_or_payload_error(parse, payload, *extra)
            if result is not None:
                assert isinstance(result, model)
                if isinstance(result, Trade):
                    assert result.time.tzinfo is not None and result.size > 0
                    assert result.pnl is None or math.isfinite(result.pnl)
                if isinstance(result, Position):
                    assert result.size >= 0 and math.isfinite(result.average_price)
    for payload in parsing.unwrap(contract):
        result = parses_or_payload_error(parsing.parse_contract, payload)
        if result is not None:
            assert isinstance(result[0], ContractSpec) and result[0].tick_size > 0


@fuzz(200)
@given(payloads("quote"), st.booleans(), JSON)
def test_quote_and_time_parsing_never_raise_but_payload_error(quote, with_previous, anything) -> None:
    now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    previous = Quote("CON.F.US.MNQ.Z26", now, 1.0, 0.75, 1.25) if with_previous else None
    for payload in parsing.unwrap(quote):
        result = parses_or_payload_error(parsing.parse_quote, "CON.F.US.MNQ.Z26", payload, previous, now)
        assert result is None or (isinstance(result, Quote) and result.time.tzinfo is not None)
    when = parsing.parse_time(anything)
    assert when is None or (isinstance(when, datetime) and when.tzinfo is not None)
    assert isinstance(parsing.unwrap(anything), list)


@fuzz(100)
@given(st.lists(st.tuples(st.sampled_from(["account", "position", "order", "trade", "quote"]),
                          st.one_of(payloads("account"), payloads("position"), payloads("order"), payloads("trade"),
                                    payloads("quote"))), min_size=1, max_size=8))
def test_the_adapters_hub_callbacks_never_raise_nor_fail_unexpectedly(messages) -> None:
    broker = _offline_broker()
    failures = _ErrorRecords()
    logger = logging.getLogger("deskguard.broker")
    logger.addHandler(failures)
    try:
        for kind, data in messages:
            if kind == "quote":
                broker._on_quote_raw({"contract_id": "CON.F.US.MNQ.Z26", "data": data})
                broker._on_quote_raw(data)
            else:
                broker._on_user_raw(kind, data)
    finally:
        logger.removeHandler(failures)
    assert failures.records == []


@functools.cache
def _offline_broker() -> ProjectXBroker:
    """A broker that was never connected, set up as if guarding account 1001 with MNQ quotes; its
    de-duplication state carries over from example to example (more paths to reach)."""
    broker = ProjectXBroker("fuzz-user", "fuzz-API-key-0123456789", api_url="http://127.0.0.1:9/api",
                            user_hub_url="http://127.0.0.1:9/hubs/user", market_hub_url="http://127.0.0.1:9/hubs/market")
    broker._stream.guard([1001], BrokerListener(lambda event: None))
    broker._contracts.symbol_ids["F.US.MNQ"] = "CON.F.US.MNQ.Z26"
    return broker


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.getMessage()} {record.exc_info!r}")


# ----- config.toml ------------------------------------------------------------------------------------

TOML_SCALARS = st.one_of(
    st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(allow_nan=True),
    st.text(max_size=20), st.sampled_from(["5m", "30s", "1h30m", "until_reset", "17:00", "America/Chicago", "Mon-Fri",
                                           "2026-12-25", "gross", "net", "reduce", "flatten", "MNQ", "ES", "EP", "*"]),
    st.datetimes(timezones=st.sampled_from([UTC, None])), st.dates(), st.times(),
)
TOML_VALUES = st.recursive(TOML_SCALARS, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
KEY_NAMES = sorted({k for keys in KNOWN_KEYS.values() for k in keys} | {"x", "MNQ", "ES"})


@st.composite
def config_data(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    """Tables whose keys are mostly real config keys, with values of every TOML type."""
    keys = st.sampled_from(KEY_NAMES) | st.text(min_size=1, max_size=6)
    out: dict[str, Any] = {}
    for key in draw(st.lists(keys, max_size=4, unique=True)):
        if depth < 3 and draw(st.integers(0, 2)) == 0:
            out[key] = draw(config_data(depth + 1))
        elif depth < 3 and draw(st.integers(0, 5)) == 0:
            out[key] = draw(st.lists(config_data(depth + 1), min_size=1, max_size=2))
        else:
            out[key] = draw(TOML_VALUES)
    return out


@st.composite
def config_texts(draw: st.DrawFn) -> str:
    how = draw(st.integers(0, 3))
    if how == 0:
        return draw(st.text(max_size=200))
    if how == 1:
        data = draw(config_data())
        rules = draw(st.dictionaries(st.sampled_from(KNOWN_KEYS["rules"]), config_data(1), max_size=3))
        if rules:
            data["rules"] = rules
        try:
            return tomlkit.dumps(data)
        except Exception:  # noqa: BLE001 - tomlkit cannot write every value (NaN keys, nested arrays)
            return ""
    # The commented default file, with a few lines replaced or cut: a file broken by hand.
    lines = default_config_text().splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.integers(0, 2))
        if edit == 0 and "=" in lines[i]:
            key = lines[i].split("=", 1)[0]
            try:
                value = tomlkit.item(draw(TOML_VALUES)).as_string()
            except Exception:  # noqa: BLE001
                value = "?"
            lines[i] = f"{key}= {value}"
        elif edit == 1:
            cut = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:cut]
        else:
            lines.insert(i, draw(st.text(max_size=30)))
    return "\n".join(lines) + "\n"


@fuzz(150)
@given(config_texts())
def test_config_loading_raises_nothing_but_config_error(text: str) -> None:
    try:
        config = loads_config(text, "config.toml")
    except ConfigError as exc:
        assert str(exc)
        line_count = max(1, len(text.splitlines()) + 1)
        for problem in exc.errors:
            assert problem.path == "config.toml" and problem.problem
            assert problem.line is None or 1 <= problem.line <= line_count, (problem.line, line_count)
    else:
        assert isinstance(config, DeskGuardConfig)
        config.engine_settings()  # a config that loads is one the engine takes


def test_toml_dates_and_times_where_other_values_belong_are_config_errors() -> None:
    for value in (datetime(2026, 1, 1, tzinfo=UTC), date(2026, 1, 1), time(17, 0), timedelta(minutes=5).total_seconds()):
        text = tomlkit.dumps({"rules": {"losing_streak": {"cooldown": value}}, "trading_day": {"timezone": value}})
        with pytest.raises(ConfigError) as caught:  # a ConfigError, not a crash and not accepted
            loads_config(text)
        assert "rules.losing_streak.cooldown" in str(caught.value)
