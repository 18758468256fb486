from .base import AuthenticationError, Broker, BrokerError, BrokerListener, ConnectionHealth, HubState
from .projectx import ProjectXBroker, resolve_gateway_urls

__all__ = [
    "AuthenticationError",
    "Broker",
    "BrokerError",
    "BrokerListener",
    "ConnectionHealth",
    "HubState",
    "ProjectXBroker",
    "resolve_gateway_urls",
]
