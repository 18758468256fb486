"""The ProjectX Gateway's numeric enums and error codes, as the simulator sends them.

Values follow the gateway's API (and ``docs/rules.md``); the SDK parses them as plain integers.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class OrderType(IntEnum):
    LIMIT = 1
    MARKET = 2
    STOP_LIMIT = 3
    STOP = 4
    TRAILING_STOP = 5
    JOIN_BID = 6
    JOIN_ASK = 7

    @classmethod
    def parse(cls, value: int | str) -> OrderType:
        """From the number, the enum, or a name ("market", "stop_limit", "Trailing-Stop")."""
        if isinstance(value, str) and not value.strip().isdigit():
            key = value.strip().upper().replace("-", "_").replace(" ", "_")
            key = {"STOPLIMIT": "STOP_LIMIT", "TRAILINGSTOP": "TRAILING_STOP"}.get(key, key)
            if key not in cls.__members__:
                raise ValueError(f"Unknown order type {value!r}")
            return cls[key]
        try:
            return cls(int(value))
        except (TypeError, ValueError):
            raise ValueError(f"Unknown order type {value!r}") from None


class OrderSide(IntEnum):
    BUY = 0
    SELL = 1

    @classmethod
    def parse(cls, value: int | str) -> OrderSide:
        """From the number, the enum, or a name ("buy"/"bid"/"long", "sell"/"ask"/"short")."""
        if isinstance(value, str) and not value.strip().isdigit():
            name = value.strip().lower()
            if name in ("buy", "bid", "long"):
                return cls.BUY
            if name in ("sell", "ask", "short"):
                return cls.SELL
            raise ValueError(f"Unknown side {value!r}")
        try:
            return cls(int(value))
        except (TypeError, ValueError):
            raise ValueError(f"Unknown side {value!r}") from None

    @property
    def sign(self) -> int:
        return 1 if self is OrderSide.BUY else -1

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderStatus(IntEnum):
    NONE = 0
    OPEN = 1
    FILLED = 2
    CANCELLED = 3
    EXPIRED = 4
    REJECTED = 5
    PENDING = 6


WORKING_STATUSES = frozenset({OrderStatus.OPEN, OrderStatus.PENDING})


class PositionType(IntEnum):
    UNDEFINED = 0
    LONG = 1
    SHORT = 2


class PlaceOrderError(IntEnum):
    SUCCESS = 0
    ACCOUNT_NOT_FOUND = 1
    ORDER_REJECTED = 2
    INSUFFICIENT_FUNDS = 3
    ACCOUNT_VIOLATION = 4
    OUTSIDE_TRADING_HOURS = 5
    ORDER_PENDING = 6
    UNKNOWN_ERROR = 7
    CONTRACT_NOT_FOUND = 8
    CONTRACT_NOT_ACTIVE = 9
    ACCOUNT_REJECTED = 10


class CancelOrderError(IntEnum):
    SUCCESS = 0
    ACCOUNT_NOT_FOUND = 1
    ORDER_NOT_FOUND = 2
    REJECTED = 3
    PENDING = 4
    UNKNOWN_ERROR = 5
    ACCOUNT_REJECTED = 6


class ModifyOrderError(IntEnum):
    SUCCESS = 0
    ACCOUNT_NOT_FOUND = 1
    ORDER_NOT_FOUND = 2
    REJECTED = 3
    PENDING = 4
    UNKNOWN_ERROR = 5
    ACCOUNT_REJECTED = 6
    CONTRACT_NOT_FOUND = 7


class ClosePositionError(IntEnum):
    SUCCESS = 0
    ACCOUNT_NOT_FOUND = 1
    POSITION_NOT_FOUND = 2
    CONTRACT_NOT_FOUND = 3
    CONTRACT_NOT_ACTIVE = 4
    ORDER_REJECTED = 5
    ORDER_PENDING = 6
    UNKNOWN_ERROR = 7
    ACCOUNT_REJECTED = 8


class LoginError(IntEnum):
    SUCCESS = 0
    USER_NOT_FOUND = 1
    PASSWORD_VERIFICATION_FAILED = 2
    INVALID_CREDENTIALS = 3


class GenericError(IntEnum):
    """Codes for search endpoints and malformed requests (the gateway's codes vary per area)."""

    SUCCESS = 0
    NOT_FOUND = 1
    INVALID_REQUEST = 2
    INJECTED_FAULT = 9


class Hub(StrEnum):
    USER = "user"
    MARKET = "market"


class UserEvent(StrEnum):
    ACCOUNT = "GatewayUserAccount"
    ORDER = "GatewayUserOrder"
    POSITION = "GatewayUserPosition"
    TRADE = "GatewayUserTrade"


class MarketEvent(StrEnum):
    QUOTE = "GatewayQuote"
    TRADE = "GatewayTrade"
    DEPTH = "GatewayDepth"


class PayloadForm(StrEnum):
    """How hub payloads are framed: bare ``{...}`` or wrapped ``{"action": 1, "data": {...}}``."""

    BARE = "bare"
    WRAPPED = "wrapped"


class MalformedKind(StrEnum):
    """Broken hub messages the simulator can inject (see ``Simulator.send_malformed``)."""

    INVALID_JSON = "invalid_json"  # a frame that is not JSON: ends pysignalr's connection task
    UNKNOWN_FIELDS = "unknown_fields"  # a valid event carrying extra, unheard-of fields
    MISSING_FIELDS = "missing_fields"  # an event whose payload lacks required fields
    UNKNOWN_TARGET = "unknown_target"  # an invocation of a method the client never registered
    CLOSE_WITH_ERROR = "close_with_error"  # a SignalR close message (type 7) carrying an error
