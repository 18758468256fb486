"""The simulator's replies against the ProjectX Gateway's documented examples, field by field.

The example payloads below were transcribed from the examples on the pages of the ProjectX Gateway
API documentation (https://gateway.docs.projectx.com/docs, page titles given with each), as
published in 2025, with the field lists of ``docs/projectx.md``. From them the tests derive, per
kind of object (account, contract, order, position, trade, bar) and per reply envelope, every
field's name, its JSON type and whether it may be null, and check every object the simulator
sends over REST and the user hub: a documented field renamed, retyped (a number sent as a string,
a whole number as a fraction) or dropped fails, and so does a null where the docs never show one.
Fields the simulator adds beyond the examples are listed in ``EXTRA_FIELDS`` and may not grow
unnoticed. Where the simulator departs from an example on purpose, ``deskguard/simulator/
fidelity.py`` says so.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from sim_harness import RawHubClient, login, wait_until

from deskguard.simulator import Simulator
from deskguard.simulator.fidelity import ENDPOINTS

# ----------------------------------------------------------------------------- the documented examples


@dataclass(frozen=True)
class Example:
    page: str  # the docs page's title
    endpoint: str
    request: dict[str, Any] | None
    reply: dict[str, Any]


ENVELOPE = {"success": True, "errorCode": 0, "errorMessage": None}

EXAMPLES: list[Example] = [
    Example("Authenticate (with API key)", "Auth/loginKey", {"userName": "string", "apiKey": "string"},
            {"token": "your_session_token_here", **ENVELOPE}),
    Example("Validate Session", "Auth/validate", None, {**ENVELOPE, "newToken": "NEW_TOKEN"}),
    Example("Search for Account", "Account/search", {"onlyActiveAccounts": True},
            {"accounts": [{"id": 1, "name": "TEST_ACCOUNT_1", "balance": 50000, "canTrade": True,
                           "isVisible": True}], **ENVELOPE}),
    Example("Search for Contracts", "Contract/search", {"live": False, "searchText": "NQ"},
            {"contracts": [
                {"id": "CON.F.US.ENQ.H25", "name": "ENQH25", "description": "E-mini NASDAQ-100: March 2025",
                 "tickSize": 0.25, "tickValue": 5, "activeContract": True},
                {"id": "CON.F.US.MNQ.H25", "name": "MNQH25", "description": "Micro E-mini Nasdaq-100: March 2025",
                 "tickSize": 0.25, "tickValue": 0.5, "activeContract": True},
            ], **ENVELOPE}),
    Example("Search for Contract by Id", "Contract/searchById", {"contractId": "CON.F.US.ENQ.H25"},
            {"contracts": [
                {"id": "CON.F.US.ENQ.H25", "name": "ENQH25", "description": "E-mini NASDAQ-100: March 2025",
                 "tickSize": 0.25, "tickValue": 5, "activeContract": True},
            ], **ENVELOPE}),
    # Not transcribed from its own page: the contracts of "Search for Contracts", same object kind.
    Example("List Available Contracts", "Contract/available", {"live": False},
            {"contracts": [
                {"id": "CON.F.US.ENQ.H25", "name": "ENQH25", "description": "E-mini NASDAQ-100: March 2025",
                 "tickSize": 0.25, "tickValue": 5, "activeContract": True},
            ], **ENVELOPE}),
    Example("Retrieve Bars", "History/retrieveBars",
            {"contractId": "CON.F.US.RTY.Z24", "live": False, "startTime": "2024-12-01T00:00:00Z",
             "endTime": "2024-12-31T21:00:00Z", "unit": 3, "unitNumber": 1, "limit": 7, "includePartialBar": False},
            {"bars": [
                {"t": "2024-12-20T14:00:00+00:00", "o": 2208.1, "h": 2217.0, "l": 2206.7, "c": 2210.1, "v": 87},
                {"t": "2024-12-20T13:00:00+00:00", "o": 2195.8, "h": 2215.0, "l": 2192.9, "c": 2209.8, "v": 536},
                {"t": "2024-12-20T12:00:00+00:00", "o": 2193.6, "h": 2200.3, "l": 2192.0, "c": 2198.0, "v": 180},
                {"t": "2024-12-20T11:00:00+00:00", "o": 2192.2, "h": 2194.8, "l": 2189.9, "c": 2194.8, "v": 174},
                {"t": "2024-12-20T10:00:00+00:00", "o": 2200.4, "h": 2200.4, "l": 2191.0, "c": 2193.1, "v": 150},
                {"t": "2024-12-20T09:00:00+00:00", "o": 2205.0, "h": 2205.8, "l": 2198.9, "c": 2200.5, "v": 56},
                {"t": "2024-12-20T08:00:00+00:00", "o": 2207.7, "h": 2210.1, "l": 2198.1, "c": 2204.9, "v": 144},
            ], **ENVELOPE}),
    Example("Search for Orders", "Order/search",
            {"accountId": 202, "startTimestamp": "2024-12-30T16:48:16.003Z", "endTimestamp": "2025-12-30T16:48:16.003Z"},
            {"orders": [
                {"id": 26060, "accountId": 545, "contractId": "CON.F.US.EP.M25",
                 "creationTimestamp": "2025-04-14T17:49:10.142532+00:00", "updateTimestamp": None, "status": 2,
                 "type": 2, "side": 0, "size": 1, "limitPrice": None, "stopPrice": None},
                {"id": 26062, "accountId": 545, "contractId": "CON.F.US.EP.M25",
                 "creationTimestamp": "2025-04-14T17:49:53.043234+00:00", "updateTimestamp": None, "status": 2,
                 "type": 2, "side": 1, "size": 1, "limitPrice": None, "stopPrice": None},
            ], **ENVELOPE}),
    Example("Search for Open Orders", "Order/searchOpen", {"accountId": 212},
            {"orders": [
                {"id": 26970, "accountId": 212, "contractId": "CON.F.US.EP.M25",
                 "creationTimestamp": "2025-04-21T19:45:52.105808+00:00",
                 "updateTimestamp": "2025-04-21T19:45:52.105808+00:00", "status": 1, "type": 4, "side": 1, "size": 1,
                 "limitPrice": None, "stopPrice": 5138.0},
            ], **ENVELOPE}),
    Example("Place an Order", "Order/place",
            {"accountId": 465, "contractId": "CON.F.US.DA6.M25", "type": 2, "side": 1, "size": 1, "limitPrice": None,
             "stopPrice": None, "trailPrice": None, "customTag": None, "linkedOrderId": None},
            {"orderId": 9056, **ENVELOPE}),
    Example("Cancel an Order", "Order/cancel", {"accountId": 465, "orderId": 26974}, dict(ENVELOPE)),
    Example("Modify an Order", "Order/modify",
            {"accountId": 465, "orderId": 26974, "size": 1, "limitPrice": None, "stopPrice": 1604,
             "trailPrice": None}, dict(ENVELOPE)),
    Example("Close Positions", "Position/closeContract", {"accountId": 536, "contractId": "CON.F.US.GMET.J25"},
            dict(ENVELOPE)),
    Example("Partially Close Positions", "Position/partialCloseContract",
            {"accountId": 536, "contractId": "CON.F.US.GMET.J25", "size": 1}, dict(ENVELOPE)),
    Example("Search for Positions", "Position/searchOpen", {"accountId": 536},
            {"positions": [
                {"id": 6124, "accountId": 536, "contractId": "CON.F.US.GMET.J25",
                 "creationTimestamp": "2025-04-21T19:52:32.175721+00:00", "type": 1, "size": 2,
                 "averagePrice": 1575.75},
            ], **ENVELOPE}),
    Example("Search for Trades", "Trade/search",
            {"accountId": 203, "startTimestamp": "2025-01-20T15:47:39.882Z", "endTimestamp": "2025-01-30T15:47:39.882Z"},
            {"trades": [
                {"id": 8604, "accountId": 203, "contractId": "CON.F.US.EP.H25",
                 "creationTimestamp": "2025-01-21T16:13:52.523293+00:00", "price": 6065.25, "profitAndLoss": 50.0,
                 "fees": 1.4, "side": 1, "size": 1, "voided": False, "orderId": 14328},
                {"id": 8603, "accountId": 203, "contractId": "CON.F.US.EP.H25",
                 "creationTimestamp": "2025-01-21T16:13:04.142302+00:00", "price": 6064.25,
                 "profitAndLoss": None,  # "a null value indicates a half-turn trade"
                 "fees": 1.4, "side": 0, "size": 1, "voided": False, "orderId": 14326},
            ], **ENVELOPE}),
]
EXAMPLE = {e.endpoint: e for e in EXAMPLES}

# Deliberate departures from an example (fidelity.py says why): the documented field -> the one
# served. The docs' Contract/searchById example lists ``contracts``; project-x-py 4.4.1 reads a
# single ``contract`` object, which the simulator sends.
SERVED_AS = {"Contract/searchById": {"contracts": "contract"}}

# The kind of object in each list or object reply field.
KIND_OF_FIELD = {"accounts": "account", "contracts": "contract", "contract": "contract", "bars": "bar",
                 "orders": "order", "order": "order", "positions": "position", "trades": "trade"}
# Hub events and the kind of object each carries.
KIND_OF_EVENT = {"GatewayUserAccount": "account", "GatewayUserOrder": "order", "GatewayUserPosition": "position",
                 "GatewayUserTrade": "trade"}

# Fields the docs' parameter tables type as decimal: a JSON number, whole or not ("balance": 50000).
DECIMAL_FIELDS = frozenset({"balance", "tickSize", "tickValue", "o", "h", "l", "c", "limitPrice", "stopPrice",
                            "averagePrice", "price", "profitAndLoss", "fees"})
# The type of fields null in every example.
TYPE_WHEN_PRESENT = {"updateTimestamp": "string", "limitPrice": "number", "stopPrice": "number",
                     "errorMessage": "string", "profitAndLoss": "number"}
TIMESTAMP_FIELDS = frozenset({"creationTimestamp", "updateTimestamp", "t"})

# What the simulator sends beyond the examples (see fidelity.py).
EXTRA_FIELDS = {
    "account": {"simulated"},
    "contract": {"symbolId"},
    "order": {"symbolId", "trailPrice", "fillVolume", "filledPrice", "customTag"},
    "position": set(),
    "trade": set(),
    "bar": set(),
}


# ----------------------------------------------------------------------------- schemas from the examples


@dataclass(frozen=True)
class FieldSpec:
    types: frozenset[str]  # JSON types allowed when not null
    nullable: bool


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def schema_of(records: Iterable[Mapping[str, Any]]) -> dict[str, FieldSpec]:
    """Every field of the example records: its JSON types (decimals as "number") and nullability."""
    seen: dict[str, set[str]] = {}
    nullable: set[str] = set()
    for record in records:
        for name, value in record.items():
            kind = json_type(value)
            if kind == "null":
                nullable.add(name)
                seen.setdefault(name, set())
                continue
            seen.setdefault(name, set()).add("number" if name in DECIMAL_FIELDS else kind)
    schema = {}
    for name, types in seen.items():
        schema[name] = FieldSpec(frozenset(types or {TYPE_WHEN_PRESENT[name]}), name in nullable)
    return schema


def documented_objects(kind: str) -> list[dict[str, Any]]:
    return [record for e in EXAMPLES for field, value in e.reply.items() if KIND_OF_FIELD.get(field) == kind
            for record in (value if isinstance(value, list) else [value])]


SCHEMAS = {kind: schema_of(documented_objects(kind)) for kind in EXTRA_FIELDS}


def problems(kind_or_schema: str | dict[str, FieldSpec], record: Any, where: str, extras: set[str] = frozenset()) -> list[str]:
    """What in ``record`` departs from the documented schema: a field missing (dropped or renamed),
    of another JSON type, null where the docs never show null, or an unlisted extra field."""
    schema = SCHEMAS[kind_or_schema] if isinstance(kind_or_schema, str) else kind_or_schema
    if isinstance(kind_or_schema, str):
        extras = EXTRA_FIELDS[kind_or_schema]
    if not isinstance(record, dict):
        return [f"{where}: not an object but {json_type(record)}"]
    found = []
    for name, spec in schema.items():
        if name not in record:
            found.append(f"{where}: documented field {name!r} missing")
            continue
        value = record[name]
        kind = json_type(value)
        if kind == "null":
            if not spec.nullable:
                found.append(f"{where}: {name!r} is null, which the docs never show")
            continue
        if not (kind in spec.types or (kind == "integer" and "number" in spec.types)):
            found.append(f"{where}: {name!r} is {kind}, documented {'/'.join(sorted(spec.types))}")
        elif name in TIMESTAMP_FIELDS:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                found.append(f"{where}: {name!r} {value!r} is not an ISO 8601 timestamp")
            else:
                if parsed.tzinfo is None:
                    found.append(f"{where}: {name!r} {value!r} has no UTC offset")
    unknown = set(record) - set(schema) - set(extras)
    if unknown:
        found.append(f"{where}: fields beyond the docs and EXTRA_FIELDS: {sorted(unknown)}")
    return found


def envelope_problems(endpoint: str, reply: Any) -> list[str]:
    """The reply object itself: the documented envelope and payload field, and each object in it."""
    example = dict(EXAMPLE[endpoint].reply)
    for documented, served in SERVED_AS.get(endpoint, {}).items():
        example[served] = example.pop(documented)[0]
    envelope_schema = schema_of([{k: v for k, v in example.items() if k not in KIND_OF_FIELD}])
    found = problems(envelope_schema, {k: v for k, v in reply.items() if k not in KIND_OF_FIELD}, endpoint)
    for field in example:
        kind = KIND_OF_FIELD.get(field)
        if kind is None:
            continue
        if field not in reply:
            found.append(f"{endpoint}: documented field {field!r} missing")
            continue
        records = reply[field] if isinstance(example[field], list) else [reply[field]]
        if isinstance(example[field], list) and not isinstance(reply[field], list):
            found.append(f"{endpoint}: {field!r} is {json_type(reply[field])}, documented array")
            continue
        for i, record in enumerate(records):
            found += problems(kind, record, f"{endpoint} {field}[{i}]")
    return found


# ----------------------------------------------------------------------------- the checker catches changes


def test_the_fidelity_table_names_each_example_page() -> None:
    documented = {e.endpoint for e in ENDPOINTS.values() if e.page is not None}
    assert documented == set(EXAMPLE), "every documented page has its example here, and only those"
    for endpoint, example in EXAMPLE.items():
        entry = ENDPOINTS[endpoint]
        assert entry.page == example.page, endpoint
        assert entry.url is not None and entry.url.startswith("https://gateway.docs.projectx.com/docs/")
        payload = [SERVED_AS.get(endpoint, {}).get(k, k) for k in example.reply if k not in ENVELOPE]
        assert entry.reply_field == (payload[0] if payload else None), endpoint


@pytest.mark.asyncio
async def test_every_served_endpoint_is_in_the_fidelity_table(sim: Simulator) -> None:
    assert set(sim.api.endpoints) == {e.lower() for e in ENDPOINTS}


def test_the_checker_fails_on_a_renamed_retyped_dropped_or_nulled_field() -> None:
    good = {"id": 9000002, "accountId": 1001, "contractId": "CON.F.US.EP.Z26",
            "creationTimestamp": "2026-11-25T14:30:00.123456+00:00", "price": 6065.25, "profitAndLoss": 50.0,
            "fees": 1.4, "side": 1, "size": 1, "voided": False, "orderId": 2000002}
    assert problems("trade", good, "trade") == []
    assert problems("trade", {**good, "profitAndLoss": None}, "trade") == []  # documented null
    renamed = {("pnl" if k == "profitAndLoss" else k): v for k, v in good.items()}
    assert any("'profitAndLoss' missing" in p for p in problems("trade", renamed, "trade"))
    assert any("beyond the docs" in p for p in problems("trade", renamed, "trade"))
    assert any("'fees' is string" in p for p in problems("trade", {**good, "fees": "1.40"}, "trade"))
    assert any("'size' is number" in p for p in problems("trade", {**good, "size": 1.0}, "trade"))
    assert any("'voided' is integer" in p for p in problems("trade", {**good, "voided": 0}, "trade"))
    assert any("'fees' missing" in p for p in problems("trade", {k: v for k, v in good.items() if k != "fees"}, "trade"))
    assert any("'fees' is null" in p for p in problems("trade", {**good, "fees": None}, "trade"))
    assert any("no UTC offset" in p for p in problems("trade", {**good, "creationTimestamp": "2026-11-25T14:30:00"},
                                                      "trade"))
    assert envelope_problems("Order/cancel", {"success": "true", "errorCode": 0, "errorMessage": None}) != []
    assert envelope_problems("Trade/search", {**ENVELOPE, "trades": {"id": 1}}) != []


def test_the_schemas_read_the_examples_as_the_docs_mean_them() -> None:
    trade = SCHEMAS["trade"]
    assert trade["profitAndLoss"] == FieldSpec(frozenset({"number"}), True)
    assert trade["fees"] == FieldSpec(frozenset({"number"}), False)
    order = SCHEMAS["order"]
    assert order["updateTimestamp"] == FieldSpec(frozenset({"string"}), True)
    assert order["stopPrice"].nullable and not order["status"].nullable
    assert SCHEMAS["account"]["balance"].types == {"number"}  # 50000 in the example, a decimal
    assert set(SCHEMAS["bar"]) == {"t", "o", "h", "l", "c", "v"}


# ----------------------------------------------------------------------------- the simulator's replies


@pytest_asyncio.fixture
async def token(sim: Simulator, http: aiohttp.ClientSession) -> str:
    return await login(http, sim.base_url)


@pytest_asyncio.fixture
async def user_hub(sim: Simulator, http: aiohttp.ClientSession, token: str) -> AsyncIterator[RawHubClient]:
    client = RawHubClient(http, sim.user_hub_url, token)
    await client.connect()
    for method, args in (("SubscribeAccounts", ()), ("SubscribeOrders", (1001,)), ("SubscribePositions", (1001,)),
                         ("SubscribeTrades", (1001,))):
        await client.invoke(method, *args)
    await wait_until(lambda: len(sim.hub_events("user", "invoke")) == 4)
    yield client
    await client.close()


async def post(http: aiohttp.ClientSession, sim: Simulator, endpoint: str, body: dict[str, Any] | None,
               token: str | None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.post(f"{sim.api_url}/{endpoint}", json=body, headers=headers) as resp:
        assert resp.status == 200, (endpoint, resp.status)
        reply: dict[str, Any] = json.loads(await resp.text())
    return reply


@pytest.mark.asyncio
async def test_every_reply_has_the_documented_fields_types_and_nulls(
    sim: Simulator, http: aiohttp.ClientSession, token: str, user_hub: RawHubClient
) -> None:
    es = sim.contract("ES").id
    # The docs' Trade/search example, replayed: buy 1 ES at 6064.25, sell it at 6065.25.
    sim.set_price("ES", 6064.25)
    bought = await post(http, sim, "Order/place", {**EXAMPLE["Order/place"].request, "accountId": 1001,
                                                    "contractId": es, "side": 0}, token)
    sim.set_price("ES", 6065.25)
    sold = await post(http, sim, "Order/place", {**EXAMPLE["Order/place"].request, "accountId": 1001,
                                                  "contractId": es}, token)
    # A working stop never touched, one modified then cancelled, an open position to search and close.
    stop = await post(http, sim, "Order/place", {"accountId": 1001, "contractId": es, "type": 4, "side": 1,
                                                 "size": 1, "stopPrice": 6000.0}, token)
    moved = await post(http, sim, "Order/place", {"accountId": 1001, "contractId": es, "type": 1, "side": 0,
                                                  "size": 1, "limitPrice": 6000.0}, token)
    replies: dict[str, dict[str, Any]] = {"Order/place": bought}
    replies["Order/modify"] = await post(http, sim, "Order/modify", {**EXAMPLE["Order/modify"].request,
                                                                     "accountId": 1001, "orderId": moved["orderId"],
                                                                     "limitPrice": 5999.0, "stopPrice": None}, token)
    replies["Order/cancel"] = await post(http, sim, "Order/cancel", {"accountId": 1001, "orderId": moved["orderId"]},
                                         token)
    mnq = sim.contract("MNQ").id
    sim.place_order(1001, "MNQ", "buy", 2)
    start = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    replies["Auth/loginKey"] = await post(http, sim, "Auth/loginKey", {"userName": "fidelity", "apiKey": "k" * 16}, None)
    replies["Auth/validate"] = await post(http, sim, "Auth/validate", None, token)
    replies["Account/search"] = await post(http, sim, "Account/search", {"onlyActiveAccounts": True}, token)
    replies["Contract/search"] = await post(http, sim, "Contract/search", EXAMPLE["Contract/search"].request, token)
    replies["Contract/searchById"] = await post(http, sim, "Contract/searchById", {"contractId": es}, token)
    replies["Contract/available"] = await post(http, sim, "Contract/available", {"live": False}, token)
    now = datetime.now(UTC)
    replies["History/retrieveBars"] = await post(http, sim, "History/retrieveBars", {
        **EXAMPLE["History/retrieveBars"].request, "contractId": es,
        "startTime": (now - timedelta(days=2)).isoformat(), "endTime": now.isoformat()}, token)
    replies["Order/search"] = await post(http, sim, "Order/search", {"accountId": 1001, "startTimestamp": start}, token)
    replies["Order/searchOpen"] = await post(http, sim, "Order/searchOpen", {"accountId": 1001}, token)
    replies["Position/searchOpen"] = await post(http, sim, "Position/searchOpen", {"accountId": 1001}, token)
    replies["Trade/search"] = await post(http, sim, "Trade/search", {"accountId": 1001, "startTimestamp": start}, token)
    replies["Position/partialCloseContract"] = await post(http, sim, "Position/partialCloseContract",
                                                          {"accountId": 1001, "contractId": mnq, "size": 1}, token)
    replies["Position/closeContract"] = await post(http, sim, "Position/closeContract",
                                                   {"accountId": 1001, "contractId": mnq}, token)

    assert set(replies) == set(EXAMPLE)
    found = [p for endpoint, reply in replies.items() for p in envelope_problems(endpoint, reply)]
    assert found == []
    for endpoint in ("Order/cancel", "Order/modify", "Position/closeContract", "Position/partialCloseContract"):
        assert replies[endpoint] == ENVELOPE, endpoint  # the documented bare success, nothing more
    assert isinstance(sold["orderId"], int) and isinstance(stop["orderId"], int)

    # Values as documented, beyond types: the trade example's fees on both fills (issue 17).
    opening, closing = replies["Trade/search"]["trades"][:2]
    documented_closing, documented_opening = EXAMPLE["Trade/search"].reply["trades"]
    for name in ("price", "profitAndLoss", "fees", "side", "size", "voided"):
        assert opening[name] == documented_opening[name], name
        assert closing[name] == documented_closing[name], name
    # Nulls where the docs show them: an order never updated since creation; bars newest first.
    open_orders = {o["id"]: o for o in replies["Order/searchOpen"]["orders"]}
    assert open_orders[stop["orderId"]]["updateTimestamp"] is None
    searched = {o["id"]: o for o in replies["Order/search"]["orders"]}
    assert searched[moved["orderId"]]["updateTimestamp"] is not None  # modified, then cancelled
    bars = replies["History/retrieveBars"]["bars"]
    assert len(bars) == 7 and [b["t"] for b in bars] == sorted((b["t"] for b in bars), reverse=True)

    # The user hub's pushes carry the same objects.
    await wait_until(lambda: user_hub.invocations("GatewayUserTrade") and user_hub.invocations("GatewayUserAccount"))
    pushed = {event: [args[0] for args in user_hub.invocations(event)] for event in KIND_OF_EVENT}
    assert all(pushed.values()), {k: len(v) for k, v in pushed.items()}
    found = [p for event, payloads in pushed.items() for i, payload in enumerate(payloads)
             for p in problems(KIND_OF_EVENT[event], payload, f"{event}[{i}]")]
    assert found == []
    assert [o["updateTimestamp"] is None for o in pushed["GatewayUserOrder"]
            if o["id"] == stop["orderId"]] == [True]
    assert [(t["profitAndLoss"], t["fees"]) for t in pushed["GatewayUserTrade"][:2]] == [(None, 1.4), (50.0, 1.4)]
