"""DeskGuard's built-in ProjectX Gateway: REST + SignalR JSON hubs for the unmodified project-x-py SDK.

Demo mode and the integration tests run the real SDK (project-x-py 4.4.1) against this server on
127.0.0.1, so it speaks the protocol the SDK uses (see ``docs/projectx.md``): ``POST /api/<Area>/
<verb>`` with bearer tokens, and the ``/hubs/user`` and ``/hubs/market`` SignalR hubs (negotiate,
websocket, JSON protocol). It keeps accounts, a seeded random-walk market on each contract's tick
grid, order matching, netted positions, trades with P&L and fees on every fill, and balances. A
control API (Python methods here, HTTP under ``/control`` for other processes, behind a per-run
token) acts as the trader in the web screen, sets prices exactly, and injects faults; every REST
call and hub push is logged with ``time.perf_counter()`` and wall-clock stamps. Like the gateway it
enforces a per-user request budget (HTTP 429 past 200 requests per 60 s, History 50 per 30 s;
``Simulator(request_budget=None)`` switches it off) and answers failures in the documented shapes
(401, or 200 with ``success: false``); ``fidelity.py`` names the documented example each endpoint
follows.

Running one::

    sim = Simulator(seed=7, walk_paused=True)      # prices move only through set_price()
    await sim.start()                               # 127.0.0.1, a free port
    ...
    await sim.stop()

or ``async with Simulator() as sim:``; or ``await serve(port, seed)`` / ``python -m
deskguard.simulator --port 8765``, with ``SimulatorControl(base_url)`` driving it from elsewhere.

Pointing the SDK at it (verified by ``tests/simulator/test_sim_sdk.py``). ``TradingSuite.create()``
builds its client without a config and so always talks to TopstepX; build the pieces yourself::

    from project_x_py import EventBus, ProjectX
    from project_x_py.position_manager import PositionManager
    from project_x_py.realtime import ProjectXRealtimeClient

    async with ProjectX(DEMO_USERNAME, DEMO_API_KEY, config=sdk_config(sim)) as client:
        await client.authenticate()                 # Auth/loginKey + Account/search
        realtime = ProjectXRealtimeClient(
            jwt_token=client.session_token,
            account_id=str(client.account_info.id),
            config=client.config,                   # hub URLs come from the config
        )
        await realtime.add_callback("position_update", on_position)   # raw callbacks
        await realtime.connect()
        await realtime.subscribe_user_updates()
        await realtime.subscribe_market_data([(await client.get_instrument("MNQ")).id])
        positions = PositionManager(client, EventBus())
        await positions.initialize(realtime_client=realtime)
        await positions.close_position_direct("CON.F.US.MNQ.Z26")     # Position/closeContract

or substitute the client class ``TradingSuite.create()`` uses::

    with unittest.mock.patch.object(project_x_py.trading_suite, "ProjectX",
                                    projectx_class_for(sdk_config(sim))):
        suite = await TradingSuite.create(["MNQ"], username=DEMO_USERNAME, api_key=DEMO_API_KEY)

``sdk_config`` gives ``http://`` hub URLs (pysignalr negotiates over HTTP, then opens ``ws://``)
and raises the SDK's client-side limiter from 60 to 600 requests a minute.

SDK behaviour worth knowing, measured against this server:
- pysignalr reconnects a dropped websocket with the same URL (old connection id, old token)
  without negotiating; the simulator therefore accepts a negotiated id again. If that reconnect
  is answered 401 (token expired) or 503, pysignalr negotiates once more and a 401/503 there ends
  the hub's connection task for good.
- A frame that is not JSON ends the hub's connection task while ``realtime.user_connected`` stays
  True; events then stop silently.
- Wrapped quotes (``{"action": 1, "data": …}`` as the quote payload) are dropped by the SDK's
  quote parser, so market payloads default to bare; wrapped user payloads are handled.
- With a token within five minutes of expiry the SDK logs in again (Auth/loginKey +
  Account/search) before every REST call. After the server revokes a still-unexpired token, a 401
  is not recovered: the SDK raises ``ProjectXAuthenticationError`` until ``authenticate()``.
- A 500 on ``Position/closeContract`` raises ``OrderSubmissionUncertainError`` from
  ``_make_request``; ``close_position_direct`` turns it into ``{"success": False}``. Never retried.
"""

from deskguard.simulator.book_records import Account, ActionResult, default_accounts, demo_accounts
from deskguard.simulator.budget import GATEWAY_REQUEST_BUDGET, RequestBudget
from deskguard.simulator.client import SimulatorControl, SimulatorControlError
from deskguard.simulator.contracts import Contract
from deskguard.simulator.enums import (
    Hub,
    MalformedKind,
    OrderSide,
    OrderStatus,
    OrderType,
    PayloadForm,
    PositionType,
)
from deskguard.simulator.sdk import DEMO_API_KEY, DEMO_USERNAME, GatewayUrls, projectx_class_for, sdk_config
from deskguard.simulator.server import Simulator, UnknownContractError, serve

__all__ = [
    "DEMO_API_KEY",
    "DEMO_USERNAME",
    "GATEWAY_REQUEST_BUDGET",
    "Account",
    "ActionResult",
    "Contract",
    "Hub",
    "MalformedKind",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "PayloadForm",
    "PositionType",
    "RequestBudget",
    "Simulator",
    "SimulatorControl",
    "SimulatorControlError",
    "UnknownContractError",
    "default_accounts",
    "demo_accounts",
    "projectx_class_for",
    "sdk_config",
    "GatewayUrls",
    "serve",
]
