"""The typed ``config.toml``: its sections, the whole file's model, and its conversion to the engine.

:class:`DeskGuardConfig` is both the validated file and what the app works with: its ``rules``
attribute holds each rule's engine ``Params`` (``config.rules.daily_realized_loss.max_loss``), and
:meth:`DeskGuardConfig.engine_settings` gives the engine's :class:`EngineSettings`.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    StrictBool,
    StrictFloat,
    ValidationError,
    model_validator,
)

from ..engine.calendar import TradingCalendar
from ..engine.effective import Effective, resolve
from ..engine.profiles import PROFILES
from ..engine.rules import ALL_RULES, RULES_BY_KEY
from ..engine.schema import ParamInfo, Unit, format_duration, parse_duration
from ..engine.settings import EngineSettings
from .accounts import AccountConfig, account_key, written_top_level
from .codec import check_timezone, format_hhmm, key_text, parse_hhmm, render, to_toml
from .errors import ConfigError
from .rules_schema import KNOWN_KEYS, RulesSection, Text, bounds_check, config_error

if TYPE_CHECKING:
    # Built at import from the rule book, so to mypy it is a model like any other; pydantic reads
    # the annotation below at runtime, where the name is the real RulesSection.
    RulesSectionModel = BaseModel
else:
    RulesSectionModel = RulesSection

_SECTION = ConfigDict(extra="forbid", frozen=True)

HHMM = Annotated[time, PlainValidator(parse_hhmm), PlainSerializer(format_hhmm)]
TimeZoneName = Annotated[str, PlainValidator(check_timezone)]


_LOOPBACK = ("localhost", "127.0.0.1")


def _check_url(value: str) -> str:
    # The SDK accepts plain http only on loopback (a local simulator); anything else would send the
    # API key in clear text, so the file refuses it before the SDK does.
    parts = urlsplit(value.strip())
    secure = parts.scheme == "https" and bool(parts.hostname)
    local = parts.scheme == "http" and parts.hostname in _LOOPBACK
    if not (secure or local):
        raise config_error(
            f'must be an https:// URL like "https://api.topstepx.com/api" (http:// only for localhost or 127.0.0.1) '
            f"(got {render(value)})"
        )
    return value.strip()


Url = Annotated[Text, AfterValidator(_check_url)]


def _check_account(value: object) -> str | int:
    # One validator rather than a str | int union, so an error reads as one problem, not one per type.
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise config_error(f"must be an account name in quotes or a numeric account id (got {render(value)})")


Account = Annotated[str | int, PlainValidator(_check_account)]


class ConnectionSettings(BaseModel):
    """``[connection]``: who to log in as, which accounts to guard, and where the gateway is."""

    model_config = _SECTION

    username: Text | None = Field(default=None, description="ProjectX username; the API key is in the OS keyring.")
    accounts: tuple[Account, ...] = Field(default=(), description="Account names or ids; empty = every active account.")
    instruments: tuple[Text, ...] = Field(
        default=(), description="Quote streams for unrealized P&L (open positions' symbols are added).")
    api_url: Url | None = Field(default=None, description="Gateway REST URL (default: TopstepX).")
    user_hub_url: Url | None = Field(default=None, description="Gateway user hub URL (default: TopstepX).")
    market_hub_url: Url | None = Field(default=None, description="Gateway market hub URL (default: TopstepX).")


class TradingDaySettings(BaseModel):
    """``[trading_day]``: when the day (and the week, on Sunday) resets for every daily figure."""

    model_config = _SECTION

    reset_time: HHMM = Field(default=time(17, 0), description="Wall-clock time the trading day starts (HH:MM).")
    timezone: TimeZoneName = Field(default="America/Chicago", description="IANA time zone of reset_time.")

    def calendar(self) -> TradingCalendar:
        return TradingCalendar(reset_time=self.reset_time, timezone=ZoneInfo(self.timezone))


_STALE_INFO = ParamInfo(help="", unit=Unit.DURATION, gt=0)


class PnlSettings(BaseModel):
    """``[pnl]``: how P&L figures are computed."""

    model_config = _SECTION

    include_fees: StrictBool = Field(default=True, description="Subtract fees from realized P&L.")
    stale_quote_seconds: Annotated[StrictFloat, AfterValidator(bounds_check(_STALE_INFO))] = Field(
        default=5.0, description="A quote older than this makes unrealized P&L stale (shown grey, triggers nothing)."
    )


WebhookFormat = Literal["json", "discord", "slack", "ntfy", "telegram", "apprise"]
WebhookEvent = Literal["enforcement", "lock", "lock_end", "warning", "not_guarding", "guarding_again", "alert"]
#: The webhook formats of rules.md "Notifications".
WEBHOOK_FORMATS: tuple[WebhookFormat, ...] = get_args(WebhookFormat)
#: The events a webhook may ask for (``on``), in the rule book's order.
WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = get_args(WebhookEvent)


def _check_not_guarding_after(value: object) -> timedelta:
    if isinstance(value, timedelta):
        parsed: object = value
    elif isinstance(value, str):
        try:
            parsed = parse_duration(value)
        except ValueError as exc:
            raise config_error(str(exc)) from None
    else:
        raise config_error(f'must be a duration like "30s", "2m" or "1h30m" (got {render(value)})')
    assert isinstance(parsed, timedelta)
    if parsed <= timedelta(0):
        raise config_error(f'must be longer than 0s (got {render(value)})')
    return parsed


NotGuardingAfter = Annotated[timedelta, PlainValidator(_check_not_guarding_after), PlainSerializer(format_duration)]


def _distinct_events(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise config_error("must name at least one event: " + ", ".join(WEBHOOK_EVENTS))
    twice = sorted({e for e in value if value.count(e) > 1})
    if twice:
        raise config_error(f"names {', '.join(twice)} more than once")
    return value


class Webhook(BaseModel):
    """One entry of ``[notifications] webhooks``: where to send which events, in which format."""

    model_config = _SECTION

    url: Text = Field(description="Where to send (it may hold a token: it is redacted in logs like a secret).")
    format: WebhookFormat = Field(default="json", description="json, discord, slack, ntfy, telegram or apprise.")
    on: Annotated[tuple[WebhookEvent, ...], AfterValidator(_distinct_events)] = Field(
        default=WEBHOOK_EVENTS, description="The events to send: " + ", ".join(WEBHOOK_EVENTS) + ".")

    def model_post_init(self, context: Any, /) -> None:
        _check_webhook_url(self.url, self.format)

    @model_validator(mode="wrap")
    @classmethod
    def _a_bad_url_is_named_even_with_a_bad_format(cls, data: Any, handler: Any) -> Any:
        """A bad format stops the model before its url is checked against it: a url that no
        format takes (not even Apprise's "scheme://…") is named in the same report."""
        try:
            return handler(data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            url = data.get("url") if isinstance(data, dict) else None
            format_bad = any(e["loc"][:1] == ("format",) for e in errors)
            if (not format_bad or not isinstance(url, str) or any(e["loc"][:1] == ("url",) for e in errors)
                    or _ANY_URL.match(url)):
                raise
            problem = _FieldProblem("url", f"is not a URL for any format: https://… (Apprise: scheme://…); got {_hidden(url)}")
            details: list[Any] = [{k: e[k] for k in ("type", "loc", "input", "ctx") if k in e} for e in errors]
            details.append({"type": "value_error", "loc": (), "input": data, "ctx": {"error": problem}})
            raise ValidationError.from_exception_data(exc.title, details) from None


class _FieldProblem(ValueError):
    """A check of one field that needs another (a webhook's url against its format), raised after
    the model's fields are read; the error names ``field`` like a field's own check would."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


_ANY_URL = re.compile(r"^[a-z][a-z0-9+.-]*://.+", re.IGNORECASE)  # the loosest format's (Apprise's) test


def _check_webhook_url(url: str, fmt: str) -> None:
    parts = urlsplit(url)
    if fmt == "apprise":
        if not _ANY_URL.match(url):
            raise _FieldProblem("url", f'must be an Apprise URL like "tgram://bottoken/ChatID" (got {_hidden(url)})')
        return
    secure = parts.scheme == "https" and bool(parts.hostname)
    local = parts.scheme == "http" and parts.hostname in _LOOPBACK
    if not (secure or local):
        raise _FieldProblem("url", f"must be an https:// URL (http:// only for localhost or 127.0.0.1) (got {_hidden(url)})")
    if fmt == "telegram" and "chat_id=" not in parts.query:
        raise _FieldProblem("url", "a telegram webhook is the bot's sendMessage URL with chat_id in the query, "
                                   '"https://api.telegram.org/bot<token>/sendMessage?chat_id=<chat>"')


def _hidden(url: str) -> str:
    """A webhook URL in an error message: its scheme and host only (the rest may be a token)."""
    parts = urlsplit(url)
    if parts.scheme and parts.hostname:
        return render(f"{parts.scheme}://{parts.hostname}/…")
    return "text that is not a URL"


class NotificationSettings(BaseModel):
    """``[notifications]``: tray notifications, and webhooks that reach the trader elsewhere."""

    model_config = _SECTION

    enabled: StrictBool = Field(default=True, description="Show tray notifications for warnings and enforcement.")
    sound: StrictBool = Field(default=False, description="Play a sound with notifications.")
    not_guarding_after: NotGuardingAfter = Field(
        default=timedelta(seconds=30),
        description="How long the app may be unable to guard an account before it sends not_guarding.")
    webhooks: tuple[Webhook, ...] = Field(
        default=(), description='Webhooks: { url = "https://…", format = "json", on = ["enforcement", "lock"] }.')


class UiSettings(BaseModel):
    """``[ui]``: the window's look."""

    model_config = _SECTION

    theme: Literal["system", "light", "dark"] = Field(default="system", description="system, light or dark.")


def _distinct_accounts(accounts: dict[str, AccountConfig]) -> dict[str, AccountConfig]:
    seen: dict[str, str] = {}
    for name in accounts:
        key = account_key(name)
        if key in seen:
            raise config_error(f"{render(seen[key])} and {render(name)} name the same account; keep one")
        seen[key] = name
    return accounts


class DeskGuardConfig(BaseModel):
    """The whole ``config.toml``, validated. Sections left out of the file hold their defaults."""

    model_config = _SECTION

    connection: ConnectionSettings = Field(default_factory=ConnectionSettings)
    trading_day: TradingDaySettings = Field(default_factory=TradingDaySettings)
    pnl: PnlSettings = Field(default_factory=PnlSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    ui: UiSettings = Field(default_factory=UiSettings)
    rules: RulesSectionModel = Field(default_factory=RulesSection)
    accounts: Annotated[dict[Text, AccountConfig], AfterValidator(_distinct_accounts)] = Field(
        default_factory=dict, description="Per-account tables: profile, starting balance, own rule values.")

    #: The (rule, parameter) pairs the user wrote at the top level: only those are weighed against
    #: a profile's figures (rules.md precedence). A hint about the file, not part of its meaning
    #: for equality: a file and its re-written copy are the same config.
    _written: frozenset[tuple[str, str]] = PrivateAttr(default=frozenset())

    @model_validator(mode="wrap")
    @classmethod
    def _note_written(cls, data: Any, handler: Any) -> Any:
        config = handler(data)
        if isinstance(data, Mapping):
            config._written = written_top_level(data.get("rules"), config.rules)
        return config

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DeskGuardConfig):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable-looking model: never a dict key

    @property
    def written(self) -> frozenset[tuple[str, str]]:
        return self._written

    def with_written(self, written: frozenset[tuple[str, str]]) -> DeskGuardConfig:
        copy = self.model_copy()
        copy._written = written
        return copy

    # ----- accounts ----------------------------------------------------------------------------

    def account_table(self, name_or_id: str | int) -> tuple[str, AccountConfig] | None:
        """The ``[accounts."NAME"]`` table of an account (by its name or id), with its key as written."""
        key = account_key(name_or_id)
        return next(((k, a) for k, a in self.accounts.items() if account_key(k) == key), None)

    def effective(self, name_or_id: str | int) -> Effective:
        """One account's effective rules and where each value came from (account / profile /
        top-level / default); an account without a table has the shared rules."""
        found = self.account_table(name_or_id)
        table = found[1] if found is not None else AccountConfig()
        profile = PROFILES.get(table.profile) if table.profile else None
        return resolve(self.rule_params(), self._written, profile, table.overrides, table.starting_balance)

    @property
    def calendar(self) -> TradingCalendar:
        return self.trading_day.calendar()

    def rule(self, key: str) -> Any:
        """One rule's engine ``Params``."""
        if key not in RULES_BY_KEY:
            raise KeyError(key)
        return getattr(self.rules, key)

    def rule_params(self) -> dict[str, Any]:
        """Every rule's ``Params``, by key, in rule-book order."""
        return {r.key: getattr(self.rules, r.key) for r in ALL_RULES}

    def engine_settings(self) -> EngineSettings:
        return EngineSettings(
            rules=self.rule_params(),
            calendar=self.calendar,
            include_fees=self.pnl.include_fees,
            stale_quote_seconds=self.pnl.stale_quote_seconds,
            accounts={account_key(name): self.effective(name).settings for name in self.accounts},
        )

    def to_data(self) -> dict[str, Any]:
        """The whole config as TOML-ready data (every key, defaults included)."""
        data: dict[str, Any] = _drop_none(to_toml(self.model_dump(mode="python")))
        return data

    def with_rule(self, key: str, params: Any = None, /, **changes: Any) -> DeskGuardConfig:
        """A copy with one rule's params replaced (or some of its fields changed), validated like the
        file is: an out-of-range value raises :class:`ConfigError` naming ``rules.<key>.<field>``."""
        current = self.rule(key)
        new = dataclasses.replace(params if params is not None else current, **changes)
        data = self.to_data()
        data["rules"][key] = to_toml(new)
        changed = {(key, f.name) for f in dataclasses.fields(new) if getattr(new, f.name) != getattr(current, f.name)}
        return config_from_data(data).with_written(self._written | changed)

    def with_section(self, name: str, **changes: Any) -> DeskGuardConfig:
        """A copy with some keys of a non-rule section changed, validated."""
        if name in ("rules", "accounts") or name not in type(self).model_fields:
            raise KeyError(name)
        data = self.to_data()
        data.setdefault(name, {}).update(to_toml(changes))
        return config_from_data(data).with_written(self._written)

    def with_account(self, name: str, account: AccountConfig | None) -> DeskGuardConfig:
        """A copy with one account's table replaced (None removes it), validated."""
        data = self.to_data()
        accounts = data.setdefault("accounts", {})
        found = self.account_table(name)
        if found is not None:
            del accounts[found[0]]
        if account is not None:
            accounts[found[0] if found is not None else name] = account.model_dump(mode="python")
        return config_from_data(data).with_written(self._written)


KNOWN_KEYS[""] = tuple(DeskGuardConfig.model_fields)
for _name, _field in DeskGuardConfig.model_fields.items():
    if _name not in ("rules", "accounts"):
        KNOWN_KEYS[_name] = tuple(_field.annotation.model_fields)  # type: ignore[union-attr]  # each section is a model
KNOWN_KEYS["notifications.webhooks.*"] = tuple(Webhook.model_fields)


def _drop_none(data: Any) -> Any:
    # TOML has no null: an unset optional key is simply absent.
    if isinstance(data, dict):
        return {k: _drop_none(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [_drop_none(v) for v in data]
    return data


def config_from_data(data: Mapping[str, Any], path: str | Path | None = None) -> DeskGuardConfig:
    """Validate parsed TOML data. Raises :class:`ConfigError` listing every problem found."""
    try:
        return DeskGuardConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError.collect(_errors(exc, path)) from None


# --- turning pydantic's errors into messages a trader can act on -------------------------------

_TYPE_WORDS = {
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "string_type": "must be text in quotes",
    "list_type": "must be a list, e.g. [ ... ]",
    "tuple_type": "must be a list, e.g. [ ... ]",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "dataclass_type": "must be a table",
}


def dotted_key(loc: tuple[int | str, ...]) -> str:
    """``('rules', 'cooldown_after_loss', 'tiers', 0, 'loss')`` → ``rules.cooldown_after_loss.tiers[0].loss``."""
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for an error in a map's key rather than its value
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + key_text(part)
    return out


def _pattern(loc: tuple[int | str, ...]) -> str:
    # An account's table is known by its shape, whatever the account is called.
    parts = ["*" if isinstance(p, int) or (i == 1 and loc[0] == "accounts") else p for i, p in enumerate(loc)]
    return ".".join(parts)


def _got(value: Any) -> str:
    if isinstance(value, dict):
        return " (got a table)"
    if isinstance(value, float) and value.is_integer():
        return f" (got {value!r})"  # "must be a whole number (got 5.0)", not "(got 5)"
    return f" (got {render(value)})"


def _suggest(name: str, valid: tuple[str, ...]) -> str | None:
    close = difflib.get_close_matches(name.lower(), valid, n=1, cutoff=0.6)
    return close[0] if close else None


def _problem(err: Any) -> str:
    kind: str = err["type"]
    loc: tuple[int | str, ...] = tuple(err["loc"])
    if kind == "extra_forbidden":
        parent, name = loc[:-1], str(loc[-1])
        valid = KNOWN_KEYS.get(_pattern(parent), ())
        is_rules = _pattern(parent) in ("rules", "accounts.*.rules")
        what = "unknown rule" if is_rules else "unknown key"
        close = _suggest(name, valid)
        if close:
            return f"{what}; did you mean {close}?"
        noun = "rules" if is_rules else "keys"
        return f"{what}; valid {noun}: {', '.join(valid)}" if valid else what
    if kind == "config":
        return str(err["msg"])
    if kind == "value_error":
        return str(err["ctx"]["error"])
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
        text = "must be one of " + ", ".join(f'"{c}"' for c in choices) + _got(err["input"])
        value = err["input"]
        close = _suggest(value, tuple(choices)) if isinstance(value, str) else None
        return text + (f'; did you mean "{close}"?' if close else "")
    if kind == "missing":
        return "is required"
    if kind in _TYPE_WORDS:
        return _TYPE_WORDS[kind] + _got(err["input"])
    return str(err["msg"]) + _got(err.get("input"))


def _errors(exc: ValidationError, path: str | Path | None) -> list[ConfigError]:
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        problem = err.get("ctx", {}).get("error")
        if isinstance(problem, _FieldProblem):
            loc = (*loc, problem.field)
        out.append(ConfigError(path, dotted_key(loc) or None, _problem(err)))
    return out
