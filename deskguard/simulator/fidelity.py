"""Which documented example of the ProjectX Gateway API each simulated endpoint follows.

The gateway's documentation (https://gateway.docs.projectx.com) gives, per endpoint, a page with
an example request and reply. ``ENDPOINTS`` names that page for every endpoint the simulator
serves, the reply's list or object field, and where the simulator knowingly differs or adds.
``tests/simulator/test_sim_fidelity.py`` holds the examples themselves (transcribed) and checks
the simulator's replies against them field by field. An endpoint added to ``rest.py`` must be
added here (a test fails otherwise).

Documented failure shapes (every page): ``Error: response status is 401`` for authentication
problems; otherwise HTTP 200 with ``success: false``, a non-zero ``errorCode`` and an
``errorMessage``. The "Rate Limits" page: History/retrieveBars 50 requests / 30 s, all other
endpoints 200 requests / 60 s, HTTP 429 past them (see ``budget.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

DOCS = "https://gateway.docs.projectx.com/docs"


@dataclass(frozen=True, slots=True)
class DocumentedEndpoint:
    endpoint: str  # "Trade/search"
    page: str | None  # the docs page's title, "Search for Trades"; None: not in the docs
    url: str | None
    reply_field: str | None  # the reply's payload field ("trades"), None for a bare success reply
    notes: str = ""


def _page(endpoint: str, page: str | None, path: str | None, reply: str | None, notes: str = "") -> DocumentedEndpoint:
    return DocumentedEndpoint(endpoint, page, f"{DOCS}/{path}" if path else None, reply, notes)


ENDPOINTS: dict[str, DocumentedEndpoint] = {
    e.endpoint: e
    for e in (
        _page("Auth/loginKey", "Authenticate (with API key)", "getting-started/authenticate/authenticate-api-key",
              "token", "A refused login: success false, errorCode 3, token null."),
        _page("Auth/validate", "Validate Session", "getting-started/validate-session", "newToken"),
        _page("Auth/logout", None, None, None, "In the gateway's Swagger only; answers a bare success."),
        _page("Status/ping", None, None, None, "Not documented; answers success with message \"pong\"."),
        _page("Account/search", "Search for Account", "api-reference/account/search-accounts", "accounts",
              "Adds `simulated` (the SDK's Account model reads it)."),
        _page("Contract/search", "Search for Contracts", "api-reference/market-data/search-contracts", "contracts",
              "Adds `symbolId` (the SDK routes quotes by it)."),
        _page("Contract/searchById", "Search for Contract by Id", "api-reference/market-data/search-contracts-by-id",
              "contract", "The docs' example shows a `contracts` list; the SDK reads `contract`, "
              "which is what the simulator sends."),
        _page("Contract/available", "List Available Contracts", "api-reference/market-data/available-contracts",
              "contracts"),
        _page("History/retrieveBars", "Retrieve Bars", "api-reference/market-data/retrieve-bars", "bars",
              "Newest bar first, as the example."),
        _page("Order/search", "Search for Orders", "api-reference/order/order-search", "orders",
              "Adds symbolId, trailPrice, fillVolume, filledPrice, customTag. updateTimestamp is null "
              "until the order changes after its creation; the example also shows null on filled "
              "market orders, which the simulator stamps when they fill."),
        _page("Order/searchOpen", "Search for Open Orders", "api-reference/order/order-search-open", "orders",
              "As Order/search. The example stamps an untouched stop with its creation time; the "
              "simulator sends null for it (the Search for Orders example's convention)."),
        _page("Order/searchById", None, None, "order", "Not documented; the SDK may call it."),
        _page("Order/place", "Place an Order", "api-reference/order/order-place", "orderId"),
        _page("Order/cancel", "Cancel an Order", "api-reference/order/order-cancel", None),
        _page("Order/modify", "Modify an Order", "api-reference/order/order-modify", None),
        _page("Position/searchOpen", "Search for Positions", "api-reference/positions/search-open-positions",
              "positions"),
        _page("Position/closeContract", "Close Positions", "api-reference/positions/close-positions", None),
        _page("Position/partialCloseContract", "Partially Close Positions",
              "api-reference/positions/close-positions-partial", None),
        _page("Trade/search", "Search for Trades", "api-reference/trade/trade-search", "trades",
              "Fees on every fill: an opening half-turn carries profitAndLoss null and its fees."),
    )
}

# The user hub's pushes carry the same objects as the searches above ("Real Time Data Overview",
# /docs/realtime): GatewayUserAccount an account, GatewayUserOrder an order, GatewayUserPosition a
# position (size 0: closed), GatewayUserTrade a trade.
REALTIME_PAGE = DocumentedEndpoint("hubs", "Real Time Data Overview", f"{DOCS}/realtime", None)
RATE_LIMITS_PAGE = DocumentedEndpoint("*", "Rate Limits", f"{DOCS}/getting-started/rate-limits", None)
