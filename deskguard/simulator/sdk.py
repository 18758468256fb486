"""Pointing the unmodified project-x-py SDK at a simulator.

``project_x_py`` is imported lazily so the simulator itself runs without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from project_x_py import ProjectX
    from project_x_py.models import ProjectXConfig

# Any userName with an apiKey over 10 characters logs in (unless the simulator requires others).
DEMO_USERNAME = "demo-trader"
DEMO_API_KEY = "demo-api-key-0000"


class HasGatewayUrls(Protocol):
    @property
    def api_url(self) -> str: ...
    @property
    def user_hub_url(self) -> str: ...
    @property
    def market_hub_url(self) -> str: ...


@dataclass(frozen=True, slots=True)
class GatewayUrls:
    """Where a simulator serving at ``base_url`` has its REST API and its two hubs."""

    base_url: str

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api"

    @property
    def user_hub_url(self) -> str:
        return f"{self.base_url}/hubs/user"

    @property
    def market_hub_url(self) -> str:
        return f"{self.base_url}/hubs/market"


def sdk_config(simulator: HasGatewayUrls, requests_per_minute: int = 600, **overrides: Any) -> ProjectXConfig:
    """A ``ProjectXConfig`` whose REST and hub URLs lead to ``simulator``.

    Hub URLs are ``http://`` (pysignalr negotiates over HTTP, then switches to ``ws://``). The
    SDK's own limiter defaults to 60 requests a minute behind a global lock; raise it here."""
    from project_x_py.models import ProjectXConfig

    return ProjectXConfig(
        api_url=simulator.api_url,
        user_hub_url=simulator.user_hub_url,
        market_hub_url=simulator.market_hub_url,
        requests_per_minute=requests_per_minute,
        **overrides,
    )


def projectx_class_for(default_config: ProjectXConfig) -> type[ProjectX]:
    """A ``ProjectX`` subclass that uses ``default_config`` whenever it is built without one.

    ``TradingSuite.create()`` builds ``ProjectX(username=…, api_key=…)`` (or ``ProjectX.from_env``)
    with no config, so it always talks to TopstepX. Substituting this class for the name
    ``project_x_py.trading_suite.ProjectX`` (e.g. ``unittest.mock.patch.object``) points the
    whole suite, hubs included, at the simulator."""
    from project_x_py import ProjectX

    class SimulatorProjectX(ProjectX):
        def __init__(
            self,
            username: str,
            api_key: str,
            config: ProjectXConfig | None = None,
            account_name: str | None = None,
        ) -> None:
            super().__init__(username, api_key, config=config or default_config, account_name=account_name)

    return SimulatorProjectX
