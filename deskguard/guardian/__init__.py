"""The async orchestrator between broker, engine, store and the observers (UI or headless log)."""

# The broker's words an observer needs (the hubs' health; why a sign-in or a start failed): defined
# once in deskguard.broker.base and offered here, so the UI never imports the broker.
from ..broker.base import AuthenticationError, BrokerError, ConnectionHealth, GatewayUnreachable, HubState
from .core import Guardian, PendingSettings
from .snapshot import AccountSnapshot, GuardianObserver, Notice, NoticeLevel, PnlPoint, PositionView, StatusChanged

__all__ = [
    "AccountSnapshot", "AuthenticationError", "BrokerError", "ConnectionHealth", "GatewayUnreachable", "Guardian",
    "GuardianObserver", "HubState", "Notice", "NoticeLevel", "PendingSettings", "PnlPoint", "PositionView",
    "StatusChanged",
]
