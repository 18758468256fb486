"""The REST session with the gateway: the SDK's ``ProjectX`` client, login, the session token and
every request sent through it, each paid for from the ``RequestBudget``.

Where to look:

- Login (``Auth/loginKey``) and what its failures become (``AuthenticationError``,
  ``GatewayUnreachable``, ``BrokerError``): ``Session.login``.
- The session token is refreshed before it expires in ``Session.refresh_if_due`` (``Auth/validate``,
  else a new login). Moving the hubs to the new token is the supervisor's job (``supervisor.py``).
- The request budget: ``Session.paid`` waits for a slot *before* a call's time-out starts, at
  ENFORCEMENT priority for actions and at the context's priority (``base.enforcement_priority``)
  for reads; ``_route_through_budget`` makes every request the SDK client sends (its own too) take
  a slot, and lifts the SDK's sleep-and-retry on HTTP 429; ``_on_http_response`` turns a 429 into a
  budget pause at once.
- One POST, and every SDK error mapped to ``BrokerError`` / ``Refused`` (``success: false``) /
  ``RateLimited`` (HTTP 429) / ``AuthenticationError``: ``Session.post``. Texts are redacted: the
  API key never appears in an exception or a log line.
- A contract by symbol through the SDK's ``get_instrument`` (front month, cached): ``Session.instrument``.

At about 550 lines this is one cohesive thing, kept whole on purpose: login, refresh, POST and the
instrument lookup share one SDK client, one budget plumbing (the ``_CALL`` context the response
hook marks) and one vocabulary of SDK errors; split, each half would need the other's internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import logging
import math
import types
import weakref
from collections.abc import AsyncIterator
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any

from ..engine.models import Account
from . import parsing
from .base import (
    REQUEST_PRIORITY,
    AuthenticationError,
    BrokerError,
    GatewayUnreachable,
    RateLimited,
    Refused,
    current_priority,
)
from .budget import Priority, RequestBudget, Slot
from .sdk_logging import quiet_sdk_logging, redact

log = logging.getLogger(__name__)

_SDK_LIMITER_OFF = 1_000_000_000  # requests per minute: the SDK's own limiter never waits
#: Idle HTTP/1.1 connections the client keeps (the SDK keeps 50). httpcore scans its whole pool
#: twice per request, quadratically in its size (every idle connection is also polled), so a pool
#: left at 40-50 by a start-up burst (a guard of many accounts re-reads them all at once; idle
#: connections expire only after 60 s) cost about a millisecond per request in the minute after,
#: several per flatten. A flatten needs one connection per working order or position at once, a
#: re-sync four: 16 covers a few accounts; beyond, a burst opens more (on a real gateway, each a
#: TLS handshake: why not fewer).
MAX_IDLE_CONNECTIONS = 16


class _NoSdkLimiter:
    """Stands in for the SDK's ``RateLimiter``: our ``RequestBudget`` paces every request. Even
    lifted, the SDK's took a global lock and filtered and sorted a minute of time stamps per
    request (thousands of them when busy), serially, in front of every close."""

    max_requests = _SDK_LIMITER_OFF
    window_seconds = 60.0

    async def acquire(self) -> None:
        return None


def build_sdk_config(api_url: str, user_hub_url: str, market_hub_url: str, request_timeout: float) -> Any:
    """The SDK's ``ProjectXConfig`` for these URLs, checked by the SDK's own rules (``http://`` only
    for localhost). Built here because ``TradingSuite.create`` ignores the ``PROJECTX_*`` variables."""
    from project_x_py.config import ConfigManager
    from project_x_py.models import ProjectXConfig

    config = ProjectXConfig(
        api_url=api_url,
        user_hub_url=user_hub_url,
        market_hub_url=market_hub_url,
        timeout_seconds=max(1, math.ceil(request_timeout)),
        # Our RequestBudget replaces the SDK's limiter, which would otherwise queue a close
        # behind reads (one global lock, no priorities) and inside our time-out: lifted so far
        # it never waits.
        requests_per_minute=_SDK_LIMITER_OFF,
        burst_limit=_SDK_LIMITER_OFF,
    )
    # The SDK's own URL checks (http only for localhost); its realtime_url default is https.
    ConfigManager().validate_config(config)
    return config


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: a number, or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclasses.dataclass(slots=True)
class _Call:
    """One broker call's REST requests: the slot paid for before its time-out started (handed
    to the first request the SDK sends), and whether the gateway answered 429."""

    budget: RequestBudget
    prepaid: Slot | None
    rate_limited: bool = False
    retry_after: float | None = None
    pause: float = 0.0


_CALL: ContextVar[_Call | None] = ContextVar("deskguard_broker_call", default=None)
# The slot of the request being sent (the httpx response hook ends it when the answer is in).
_SENDING: ContextVar[Slot | None] = ContextVar("deskguard_broker_sending", default=None)


def _keep_fewer_idle_connections(http: Any) -> None:
    """Bound the idle connections of the SDK's httpx client to ``MAX_IDLE_CONNECTIONS`` (httpx
    takes its limits only when the client is made, and the SDK makes it with 50), and check each
    for a server-side close cheaply (``http_streams``)."""
    pool = getattr(getattr(http, "_transport", None), "_pool", None)
    if pool is None or not isinstance(getattr(pool, "_max_keepalive_connections", None), int):
        log.debug("the SDK's HTTP client has no httpcore pool as expected; its idle connections stay as they are")
        return
    pool._max_keepalive_connections = min(pool._max_keepalive_connections, MAX_IDLE_CONNECTIONS)
    # The pool checks every idle connection at each request and response: make that check cheap
    # (imported here, at the first request: httpx and so httpcore are loaded by then).
    from .http_streams import cheap_readability_checks

    cheap_readability_checks(pool)


def _uncycle(response: Any) -> None:
    """Break httpx's one reference cycle per request: the response holds its stream, which holds
    the response back (``BoundAsyncStream._response``, to stamp ``elapsed`` when it closes). Every
    request and answer (~45 objects) was so left to the garbage collector, whose collections, one
    every ~16 breaches in the reaction benchmark, ran beside half of its slowest breaches. A weak
    reference does the same job while the response is read, and the rest is freed at once."""
    stream: Any = getattr(response, "stream", None)
    if type(stream).__name__ == "BoundAsyncStream" and getattr(stream, "_response", None) is response:
        stream._response = weakref.proxy(response)


def _is_history(endpoint: str) -> bool:
    return endpoint.lstrip("/").lower().startswith("history/")


class Session:
    """One user's session with the gateway.

    Args:
        username, api_key: the credentials (the key is never logged, never in an exception's text).
        config: the SDK's ``ProjectXConfig`` (``build_sdk_config``).
        budget: the ``RequestBudget`` every request takes a slot of.
        request_timeout: bound on every REST call, in seconds (waiting for the budget not included).
        token_refresh_margin: refresh the token this long before it expires (at most a quarter of
            its lifetime).
        sdk_log_level: level of the SDK's loggers.
    """

    def __init__(
        self,
        username: str,
        api_key: str,
        config: Any,
        *,
        budget: RequestBudget,
        request_timeout: float,
        token_refresh_margin: float,
        sdk_log_level: int,
    ) -> None:
        self.username = username
        self._api_key = api_key
        self.config = config
        self.api_url: str = config.api_url
        self.budget = budget
        self.request_timeout = float(request_timeout)
        self._token_refresh_margin = float(token_refresh_margin)
        self._sdk_log_level = sdk_log_level
        self._client: Any = None  # project_x_py.ProjectX, once open()
        self._login_lock = asyncio.Lock()
        self._token_obtained_at: datetime | None = None
        self._skipped = parsing.SkipLog(log)

    # ------------------------------------------------------------------ the client

    @property
    def is_open(self) -> bool:
        return self._client is not None

    def client(self) -> Any:
        """The SDK client; ``BrokerError`` before ``open()`` (or after ``close()``)."""
        if self._client is None:
            raise BrokerError("not connected: call connect() first")
        return self._client

    @property
    def token(self) -> str | None:
        """The current session token (None before the first login)."""
        return getattr(self._client, "session_token", None) or None

    def redact(self, text: str) -> str:
        return redact(text, self._api_key)

    async def open(self) -> None:
        """Make the SDK client (once), with every request it sends routed through the budget."""
        quiet_sdk_logging(self._sdk_log_level)
        if self._client is None:
            from project_x_py import ProjectX

            client = ProjectX(username=self.username, api_key=self._api_key, config=self.config)
            self._route_through_budget(client)
            self._client = client
            quiet_sdk_logging(self._sdk_log_level)  # the import above installed the SDK's handlers

    async def close(self) -> None:
        """Close the HTTP client. Safe to call twice."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5.0):
                    await client.__aexit__(None, None, None)

    def select_sdk_account(self, accounts: list[Account]) -> None:
        """Give the SDK client an ``account_info`` (some of its paths expect one)."""
        if not accounts:
            return
        with contextlib.suppress(Exception):
            from project_x_py.models import Account as SdkAccount

            first = accounts[0]
            self._client.account_info = SdkAccount(
                id=first.id,
                name=first.name,
                balance=first.balance,
                canTrade=first.can_trade,
                isVisible=True,
                simulated=first.simulated,
            )

    # ------------------------------------------------------------------ login and token

    async def login(self) -> None:
        """``Auth/loginKey``; the token goes into the SDK client as its own ``authenticate`` would."""
        client = self.client()
        async with self._login_lock, self.paid(current_priority(), "/Auth/loginKey") as call:
            try:
                async with asyncio.timeout(self.request_timeout + 5.0):
                    reply = await client._make_request(
                        "POST", "/Auth/loginKey", data={"userName": self.username, "apiKey": self._api_key}
                    )
            except TimeoutError:
                if call.rate_limited:
                    raise self.rate_limited(f"login at {self.api_url}", call) from None
                raise GatewayUnreachable(
                    f"cannot reach the gateway at {self.api_url} (no answer within {self.request_timeout:.0f}s)"
                ) from None
            except Exception as exc:
                if call.rate_limited:
                    raise self.rate_limited(f"login at {self.api_url}", call) from None
                raise self._login_error(exc) from None
            if not isinstance(reply, dict) or reply.get("success") is not True or not reply.get("token"):
                code = reply.get("errorCode") if isinstance(reply, dict) else None
                message = reply.get("errorMessage") if isinstance(reply, dict) else None
                detail = redact(str(message or "no token in the reply"), self._api_key)
                raise AuthenticationError(
                    f"the gateway at {self.api_url} refused the credentials of user {self.username!r} "
                    f"(errorCode {code}: {detail})"
                )
            self._apply_token(str(reply["token"]))

    def _login_error(self, exc: BaseException) -> BrokerError:
        from project_x_py.exceptions import (
            ProjectXAuthenticationError,
            ProjectXConnectionError,
            ProjectXDataError,
            ProjectXServerError,
        )

        text = redact(str(exc), self._api_key)
        if isinstance(exc, ProjectXAuthenticationError):
            return AuthenticationError(
                f"the gateway at {self.api_url} refused the credentials of user {self.username!r} ({text})"
            )
        if isinstance(exc, ProjectXConnectionError | OSError):
            return GatewayUnreachable(f"cannot reach the gateway at {self.api_url} ({type(exc).__name__}: {text})")
        if isinstance(exc, ProjectXServerError):
            return BrokerError(f"the gateway at {self.api_url} failed during login ({text})")
        if isinstance(exc, ProjectXDataError):
            return BrokerError(f"the gateway at {self.api_url} has no usable Auth/loginKey (is api_url right?): {text}")
        return BrokerError(f"login at {self.api_url} failed ({type(exc).__name__}: {text})")

    def _apply_token(self, token: str) -> None:
        """Set the session token the way ``AuthenticationMixin.authenticate`` does."""
        import base64
        import json

        client = self.client()
        client.session_token = token
        client.headers["Authorization"] = f"Bearer {token}"
        expiry: datetime | None = None
        try:
            part = token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
            expiry = datetime.fromtimestamp(float(claims["exp"]), tz=UTC)
        except Exception:
            expiry = None
        now = datetime.now(UTC)
        client.token_expiry = expiry or now + timedelta(hours=1)
        client._authenticated = True
        self._token_obtained_at = now

    async def relogin_quietly(self) -> None:
        """Log in again; a failure is logged, not raised (the caller goes on with what it has)."""
        try:
            await self.login()
        except BrokerError as exc:
            log.warning("re-login failed: %s", exc)

    async def refresh_if_due(self) -> None:
        """Refresh the session token when it is within ``token_refresh_margin`` (at most a quarter
        of its lifetime) of expiring: ``Auth/validate`` first, a new login if that brings no new
        token. A failed refresh is tried again after a while, not on every call."""
        client = self._client
        if client is None:
            return
        expiry: datetime | None = getattr(client, "token_expiry", None)
        obtained = self._token_obtained_at
        if expiry is None or obtained is None:
            return
        lifetime = max((expiry - obtained).total_seconds(), 0.0)
        margin = min(self._token_refresh_margin, lifetime / 4)
        if datetime.now(UTC) >= expiry - timedelta(seconds=margin):
            await self._refresh()

    async def _refresh(self) -> None:
        client = self.client()
        before = client.session_token
        ok = False
        try:
            async with self.paid(current_priority(), "/Auth/validate"), asyncio.timeout(self.request_timeout):
                ok = bool(await client.validate_session())
        except (TimeoutError, Exception) as exc:
            log.debug("Auth/validate failed: %s", type(exc).__name__)
        if ok and client.session_token and client.session_token != before:
            self._apply_token(client.session_token)
            return
        try:
            await self.login()
        except BrokerError as exc:
            log.warning("token refresh failed: %s", exc)
            # Try again after a while rather than on every tick.
            self._token_obtained_at = datetime.now(UTC)

    # ------------------------------------------------------------------ the request budget

    def _route_through_budget(self, client: Any) -> None:
        """Every request the SDK client sends, ours or its own (``get_instrument``,
        ``validate_session``, its retries), takes a slot of ``self.budget``; a 429 comes back at once.

        - ``_make_request`` carries the SDK's ``handle_rate_limit``, which on a 429 sleeps the
          Retry-After (60 s when the reply names none) and tries again: this client gets the
          undecorated function (``functools.wraps`` keeps it as ``__wrapped__``) instead.
        - ``_execute_http_request`` sends one request: it is wrapped to take a slot first (the
          one the broker call paid for before its time-out started, if any) and to end it when
          the answer is in (an httpx response hook, which also notes a 429 and its Retry-After).
        - The SDK's own limiter is replaced by one that never waits (``_NoSdkLimiter``), and the
          HTTP client keeps at most ``MAX_IDLE_CONNECTIONS`` idle connections.
        """
        client.rate_limiter = _NoSdkLimiter()
        undecorated = getattr(type(client)._make_request, "__wrapped__", None)
        if undecorated is not None:
            client._make_request = types.MethodType(undecorated, client)
        else:  # pragma: no cover - another SDK version
            log.warning("project-x-py's _make_request is not the expected decorated method: a 429 may be slept on")
        send = client._execute_http_request
        budget = self.budget
        on_response = self._on_http_response

        async def budgeted_send(method: str, endpoint: str, *args: Any, **kwargs: Any) -> Any:
            http = await client._ensure_client()
            if on_response not in http.event_hooks["response"]:
                http.event_hooks["response"].append(on_response)
                _keep_fewer_idle_connections(http)
            call = _CALL.get()
            slot: Slot | None = None
            if call is not None and call.budget is budget and call.prepaid is not None:
                slot, call.prepaid = call.prepaid, None
            if slot is None:
                slot = await budget.acquire(current_priority(), _is_history(endpoint))
            token = _SENDING.set(slot)
            try:
                return await send(method, endpoint, *args, **kwargs)
            finally:
                _SENDING.reset(token)
                slot.release()

        client._execute_http_request = budgeted_send

    async def _on_http_response(self, response: Any) -> None:
        """httpx response hook (runs in the request's task, in a copy of the caller's context):
        the answer is in, so the request's slot ends; a 429 pauses the budget and marks the call."""
        slot = _SENDING.get()
        if slot is not None:
            slot.release()
        _uncycle(response)
        if response.status_code != 429:
            return
        retry_after = _retry_after(response.headers.get("Retry-After"))
        pause = self.budget.back_off(retry_after)
        call = _CALL.get()
        if call is not None:
            call.rate_limited, call.retry_after, call.pause = True, retry_after, pause
        self._skipped.warn(
            "rate-limited", "the gateway answered HTTP 429 to %s (Retry-After %s): routine requests pause %.1fs",
            response.request.url.path, "none" if retry_after is None else f"{retry_after:g}s", pause,
        )

    @contextlib.asynccontextmanager
    async def paid(self, priority: Priority, endpoint: str) -> AsyncIterator[_Call]:
        """Wait for the request budget first (that wait is not the gateway's silence, so it comes
        before any time-out starts), then make the call inside: its first request uses the slot
        paid for here, its other requests take their own at ``priority``."""
        slot = await self.budget.acquire(priority, _is_history(endpoint))
        call = _Call(self.budget, slot)
        call_token, priority_token = _CALL.set(call), REQUEST_PRIORITY.set(priority)
        try:
            yield call
        finally:
            REQUEST_PRIORITY.reset(priority_token)
            _CALL.reset(call_token)
            if call.prepaid is not None:
                call.prepaid.cancel()  # nothing was sent (a cached answer, or a failure before sending)

    @staticmethod
    def rate_limited(what: str, call: _Call) -> RateLimited:
        after = "" if call.retry_after is None else f", Retry-After {call.retry_after:g}s"
        return RateLimited(
            f"{what}: rate-limited by the gateway (HTTP 429{after}), not carried out; "
            f"routine requests pause {call.pause:g}s",
            call.retry_after,
        )

    # ------------------------------------------------------------------ requests

    async def post(self, endpoint: str, payload: dict[str, Any], *, what: str, mutating: bool) -> dict[str, Any]:
        """One POST through the SDK's ``_make_request``; a ``BrokerError`` for anything but success.

        It waits for the request budget first, at ENFORCEMENT priority for an action (``mutating``)
        and at the context's priority (``enforcement_priority``) for a read; the time-out starts
        after that. HTTP 429 raises ``RateLimited`` at once (the budget pauses), ``success: false``
        raises ``Refused``. Reads that fail with 401 log in again and are tried once more; actions
        never are."""
        from project_x_py.exceptions import (
            OrderSubmissionUncertainError,
            ProjectXAuthenticationError,
            ProjectXConnectionError,
            ProjectXError,
            ProjectXRateLimitError,
        )

        client = self.client()
        timeout = self.request_timeout
        priority = Priority.ENFORCEMENT if mutating else current_priority()
        for attempt in (0, 1):
            relogin, fail_after_relogin = False, None
            async with self.paid(priority, endpoint) as call:
                deadline = asyncio.timeout(timeout)
                try:
                    async with deadline:
                        reply = await client._make_request("POST", endpoint, data=payload)
                except TimeoutError:
                    if call.rate_limited:
                        raise self.rate_limited(what, call) from None
                    unknown = " (outcome unknown: reconcile by reading)" if mutating else ""
                    raise BrokerError(f"{what}: no answer within {timeout:g}s{unknown}") from None
                except OrderSubmissionUncertainError as exc:
                    # The SDK turns a cancellation of a mutating call into this error: our own
                    # time-out, or the caller being cancelled (which must stay a cancellation).
                    if deadline.expired():
                        raise BrokerError(
                            f"{what}: no answer within {timeout:g}s (outcome unknown: reconcile by reading)"
                        ) from None
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise asyncio.CancelledError() from None
                    if call.rate_limited:  # a 429 means the gateway did not carry it out
                        raise self.rate_limited(what, call) from None
                    text = redact(str(exc), self._api_key)
                    if "401" not in text:
                        raise BrokerError(f"{what}: outcome unknown ({text})") from None
                    relogin, fail_after_relogin = True, BrokerError(f"{what}: outcome unknown ({text})")
                except ProjectXAuthenticationError as exc:
                    if attempt == 0 and not mutating:
                        relogin = True
                    else:
                        raise AuthenticationError(f"{what}: the gateway refused the session ({redact(str(exc))})") from None
                except ProjectXConnectionError as exc:
                    raise GatewayUnreachable(f"{what}: cannot reach the gateway at {self.api_url} ({redact(str(exc))})") from None
                except ProjectXError as exc:
                    if call.rate_limited or isinstance(exc, ProjectXRateLimitError):
                        raise self.rate_limited(what, call) from None
                    raise BrokerError(f"{what}: {type(exc).__name__}: {redact(str(exc), self._api_key)}") from None
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # httpx or anything else the SDK let through
                    if call.rate_limited:  # e.g. a Retry-After the SDK could not read as an int
                        raise self.rate_limited(what, call) from None
                    raise BrokerError(f"{what}: {type(exc).__name__}: {redact(str(exc), self._api_key)}") from None
            if relogin:  # outside the budget's slot: a login takes a slot of its own
                await self.relogin_quietly()
                if fail_after_relogin is not None:
                    raise fail_after_relogin
                continue
            if not isinstance(reply, dict):
                raise BrokerError(f"{what}: unexpected reply ({type(reply).__name__})")
            if reply.get("success") is not True:
                code = reply.get("errorCode")
                message = redact(str(reply.get("errorMessage") or "no message"), self._api_key)
                text = f"{what}: refused by the gateway (errorCode {code}: {message})"
                if reply.get("success") is False:
                    raise Refused(text, code if isinstance(code, int) and not isinstance(code, bool) else None)
                raise BrokerError(text)
            return reply
        raise BrokerError(f"{what}: failed")  # pragma: no cover - the loop always returns or raises

    async def instrument(self, symbol: str) -> Any | None:
        """The SDK's instrument for a symbol ("MNQ") or contract id, through its ``get_instrument``
        (which picks the front month and caches); None when the gateway knows no such contract."""
        from project_x_py.exceptions import ProjectXConnectionError, ProjectXError, ProjectXInstrumentError

        client = self.client()
        what = f"Contract/search {symbol!r}"
        async with self.paid(current_priority(), "/Contract/search") as call:
            try:
                async with asyncio.timeout(self.request_timeout * 2):
                    return await client.get_instrument(symbol)
            except TimeoutError:
                if call.rate_limited:
                    raise self.rate_limited(what, call) from None
                raise BrokerError(f"{what}: no answer within {self.request_timeout * 2:g}s") from None
            except ProjectXInstrumentError as exc:
                if call.rate_limited:
                    raise self.rate_limited(what, call) from None
                log.warning("no contract found for %r: %s", symbol, redact(str(exc)))
                return None
            except ProjectXConnectionError as exc:
                raise BrokerError(f"{what}: cannot reach the gateway at {self.api_url} ({exc})") from None
            except ProjectXError as exc:
                if call.rate_limited:  # not "no such contract": the gateway did not look
                    raise self.rate_limited(what, call) from None
                log.warning("contract lookup for %r failed: %s", symbol, redact(str(exc), self._api_key))
                return None
