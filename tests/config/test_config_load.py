"""Loading config.toml: the rule book's example, defaults, and a clear message for each mistake."""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from deskguard.config import ConfigError, DeskGuardConfig, default_config_text, load_config, loads_config
from deskguard.engine.calendar import TradingCalendar
from deskguard.engine.rules import ALL_RULES
from deskguard.engine.rules.cooldown_after_loss import Tier
from deskguard.engine.rules.session_block import Window
from deskguard.engine.schema import UNTIL_RESET
from deskguard.engine.settings import EngineSettings

# The example from docs/rules.md, verbatim.
RULE_BOOK_EXAMPLE = """\
[connection]
username = "trader@example.com"        # the API key is in the OS keyring, never in this file
accounts = ["50KTC-V2-123456-789"]     # names or ids; empty = every active account
instruments = ["MNQ", "MES"]           # quote streams for unrealized P&L (open positions' symbols are added)

[trading_day]
reset_time = "17:00"
timezone = "America/Chicago"

[rules.daily_realized_loss]
enabled = true
max_loss = 500

[rules.cooldown_after_loss]
tiers = [{ loss = 100, cooldown = "5m" }, { loss = 300, cooldown = "30m" }]

[rules.session_block]
windows = [{ days = "Mon-Fri", start = "08:30", end = "15:10", timezone = "America/Chicago" }]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        loads_config(text, "config.toml")
    return [e.line_text() for e in info.value.errors]


def only_problem(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def test_rule_book_example_loads_exactly():
    cfg = loads_config(RULE_BOOK_EXAMPLE)
    assert cfg.connection.username == "trader@example.com"
    assert cfg.connection.accounts == ("50KTC-V2-123456-789",)
    assert cfg.connection.instruments == ("MNQ", "MES")
    assert cfg.trading_day.reset_time == time(17, 0)
    assert cfg.trading_day.timezone == "America/Chicago"
    loss = cfg.rules.daily_realized_loss
    assert loss.enabled is True and loss.max_loss == 500.0 and isinstance(loss.max_loss, float)
    assert cfg.rules.cooldown_after_loss.tiers == (
        Tier(100.0, timedelta(minutes=5)),
        Tier(300.0, timedelta(minutes=30)),
    )
    assert cfg.rules.session_block.windows == (Window("Mon-Fri", time(8, 30), time(15, 10), "America/Chicago"),)
    # Everything the example does not name keeps its default.
    defaults = DeskGuardConfig()
    assert cfg.rules.session_block.holidays == defaults.rules.session_block.holidays
    for rule in ALL_RULES:
        if rule.key not in ("daily_realized_loss", "cooldown_after_loss", "session_block"):
            assert cfg.rule(rule.key) == rule.Params()


def test_engine_settings_from_config():
    cfg = loads_config(RULE_BOOK_EXAMPLE + '\n[pnl]\ninclude_fees = false\nstale_quote_seconds = 3\n')
    settings = cfg.engine_settings()
    assert isinstance(settings, EngineSettings)
    assert settings.calendar == TradingCalendar(time(17, 0), ZoneInfo("America/Chicago"))
    assert settings.include_fees is False and settings.stale_quote_seconds == 3.0
    assert list(settings.rules) == [r.key for r in ALL_RULES]
    assert all(isinstance(settings.rules[r.key], r.Params) for r in ALL_RULES)
    assert settings.rules["cooldown_after_loss"].tiers[1].loss == 300.0


def test_missing_file_and_empty_file_give_defaults(tmp_path: Path):
    assert load_config(tmp_path / "nope.toml") == DeskGuardConfig()
    (tmp_path / "empty.toml").write_text("")
    assert load_config(tmp_path / "empty.toml") == DeskGuardConfig()
    assert DeskGuardConfig().engine_settings().rules == EngineSettings().rules


def test_default_text_loads_back_to_the_defaults_and_documents_every_rule():
    text = default_config_text()
    assert loads_config(text) == DeskGuardConfig()
    for rule in ALL_RULES:
        assert f"[rules.{rule.key}]" in text
        assert rule.summary.split()[0] in text
    assert "# Stop for the day at this loss (a positive amount)." in text
    assert "# username = " in text  # optional keys are shown, commented out


def test_all_sections_and_kinds_of_values_parse():
    cfg = loads_config(
        """
[connection]
accounts = ["PRAC-1", 12345]
api_url = "http://127.0.0.1:8765/api"
user_hub_url = "https://rtc.example.com/hubs/user"

[notifications]
enabled = false
sound = true

[ui]
theme = "dark"

[rules.trade_frequency]
minute_cooldown = "45s"
hour_cooldown = "1h30m"
day_cooldown = "until_reset"

[rules.losing_streak]
cooldown = "until_reset"

[rules.max_contracts_per_instrument]
limits = { MNQ = 2, ES = 1 }
unknown_symbols = "block"

[rules.session_block]
holidays = ["2026-07-03", 2026-12-25]
early_closes = { "2026-11-27" = "12:00", 2026-12-24 = 12:15:00 }

[rules.trade_management.trailing]
distance_ticks = 6
"""
    )
    assert cfg.connection.accounts == ("PRAC-1", 12345)
    assert cfg.notifications.enabled is False and cfg.notifications.sound is True
    assert cfg.ui.theme == "dark"
    tf = cfg.rules.trade_frequency
    assert (tf.minute_cooldown, tf.hour_cooldown, tf.day_cooldown) == (
        timedelta(seconds=45), timedelta(hours=1, minutes=30), UNTIL_RESET,
    )
    assert cfg.rules.losing_streak.cooldown == UNTIL_RESET
    assert cfg.rules.max_contracts_per_instrument.limits == {"MNQ": 2, "ES": 1}
    sb = cfg.rules.session_block
    assert sb.holidays == (date(2026, 7, 3), date(2026, 12, 25))
    assert sb.early_closes == {date(2026, 11, 27): time(12, 0), date(2026, 12, 24): time(12, 15)}
    tm = cfg.rules.trade_management
    assert tm.trailing.distance_ticks == 6 and tm.trailing.activation_ticks == 20 and tm.breakeven.trigger_ticks == 10


# --- each kind of mistake ------------------------------------------------------------------------


def test_negative_money_says_it_must_be_positive():
    msg = only_problem("[rules.daily_realized_loss]\nmax_loss = -500\n")
    assert msg == "config.toml: line 2: rules.daily_realized_loss.max_loss: must be a positive amount (got -500)"
    assert "must be a positive amount" in only_problem("[rules.daily_realized_loss]\nmax_loss = 0\n")
    assert "must be a positive amount" in only_problem(
        '[rules.cooldown_after_loss]\ntiers = [{ loss = -100, cooldown = "5m" }]\n'
    )
    assert "must be a positive amount or 0 (got -50)" in only_problem("[rules.trailing_drawdown]\nbuffer = -50\n")


def test_single_problem_str_is_one_line():
    with pytest.raises(ConfigError) as info:
        loads_config("[rules.daily_realized_loss]\nmax_loss = -500\n", "config.toml")
    err = info.value
    assert str(err) == "config.toml: line 2: rules.daily_realized_loss.max_loss: must be a positive amount (got -500)"
    assert (err.path, err.key, err.line) == ("config.toml", "rules.daily_realized_loss.max_loss", 2)
    assert err.problem == "must be a positive amount (got -500)"


def test_unknown_key_names_file_key_and_closest_name():
    msg = only_problem("[rules.daily_realized_loss]\nmax_los = 500\n")
    assert msg == "config.toml: line 2: rules.daily_realized_loss.max_los: unknown key; did you mean max_loss?"
    assert only_problem("[conection]\n") == "config.toml: line 1: conection: unknown key; did you mean connection?"
    assert "did you mean trigger_ticks?" in only_problem("[rules.trade_management.breakeven]\ntrigger_tick = 5\n")
    assert "rules.session_block.windows[0].tz: unknown key" in only_problem(
        '[rules.session_block]\nwindows = [{ days = "Mon", start = "08:30", end = "15:00", tz = "UTC" }]\n'
    )
    far = only_problem("[ui]\nzzzz = 1\n")
    assert far == "config.toml: line 2: ui.zzzz: unknown key; valid keys: theme"


def test_unknown_rule():
    msg = only_problem("[rules.daily_realised_loss]\nmax_loss = 500\n")
    assert msg == "config.toml: line 1: rules.daily_realised_loss: unknown rule; did you mean daily_realized_loss?"
    assert "unknown rule; valid rules: max_contracts, " in only_problem("[rules.xyzzy]\n")


def test_bad_durations_name_the_key():
    msg = only_problem('[rules.losing_streak]\ncooldown = "30 minutes"\n')
    assert msg.startswith("config.toml: line 2: rules.losing_streak.cooldown: ")
    assert "not a duration" in msg
    assert "rules.trade_frequency.hour_cooldown: " in only_problem("[rules.trade_frequency]\nhour_cooldown = 30\n")
    assert "not a positive duration" in only_problem('[rules.no_stop_loss_grace]\ngrace = "0s"\n')


def test_until_reset_only_where_allowed():
    msg = only_problem('[rules.no_stop_loss_grace]\ngrace = "until_reset"\n')
    assert msg.startswith("config.toml: line 2: rules.no_stop_loss_grace.grace: ")
    assert '"until_reset" is not allowed here' in msg


def test_bad_time_zones():
    assert only_problem('[trading_day]\ntimezone = "America/Chicgo"\n').startswith(
        "config.toml: line 2: trading_day.timezone: unknown time zone"
    )
    msg = only_problem(
        '[rules.session_block]\nwindows = [{ days = "Mon-Fri", start = "08:30", end = "15:10", timezone = "CT" }]\n'
    )
    assert msg.startswith("config.toml: line 2: rules.session_block.windows[0].timezone: unknown time zone")


def test_bad_days():
    msg = only_problem(
        '[rules.session_block]\nwindows = [{ days = "Mon-Fry", start = "08:30", end = "15:10", timezone = "America/Chicago" }]\n'
    )
    assert msg.startswith("config.toml: line 2: rules.session_block.windows[0].days: unknown day")


def test_bad_times_and_dates():
    assert only_problem('[trading_day]\nreset_time = "5pm"\n') == (
        'config.toml: line 2: trading_day.reset_time: must be a time like "17:00" (got "5pm")'
    )
    assert "windows[0].end: must be a time" in only_problem(
        '[rules.session_block]\nwindows = [{ days = "Mon", start = "08:30", end = "24:00", timezone = "UTC" }]\n'
    )
    assert "trading_day.reset_time: must be a time" in only_problem("[trading_day]\nreset_time = 17:00:30\n")
    assert "rules.session_block.holidays[1]: must be a date" in only_problem(
        '[rules.session_block]\nholidays = ["2026-12-25", "2026-02-30"]\n'
    )
    assert 'rules.session_block.early_closes."Nov 27": must be a date' in only_problem(
        '[rules.session_block]\nearly_closes = { "Nov 27" = "12:00" }\n'
    )


def test_empty_window_is_refused_at_the_window():
    msg = only_problem(
        '[rules.session_block]\nwindows = [{ days = "Mon", start = "08:30", end = "08:30", timezone = "UTC" }]\n'
    )
    assert msg.startswith("config.toml: line 2: rules.session_block.windows[0]: start and end are the same time")


def test_wrong_types():
    assert only_problem('[rules.max_contracts]\nlimit = "5"\n') == (
        'config.toml: line 2: rules.max_contracts.limit: must be a whole number (got "5")'
    )
    assert "must be a whole number (got 2.5)" in only_problem("[rules.max_contracts]\nlimit = 2.5\n")
    assert "must be true or false (got 1)" in only_problem("[rules.max_contracts]\nenabled = 1\n")
    assert "must be a number (got true)" in only_problem("[rules.daily_realized_loss]\nmax_loss = true\n")
    assert "rules.symbol_blocks.symbols: must be a list" in only_problem('[rules.symbol_blocks]\nsymbols = "ES"\n')
    assert "rules.daily_realized_loss: must be a table (got 5)" in only_problem("[rules]\ndaily_realized_loss = 5\n")
    assert "rules.max_contracts_per_instrument.limits.MNQ: must be a whole number" in only_problem(
        '[rules.max_contracts_per_instrument]\nlimits = { MNQ = "two" }\n'
    )
    assert "must be at least 0 (got -1)" in only_problem("[rules.max_contracts_per_instrument]\nlimits = { MNQ = -1 }\n")
    assert 'must be one of "gross", "net" (got "grose"); did you mean "gross"?' in only_problem(
        '[rules.max_contracts]\ncount = "grose"\n'
    )
    assert "must be more than 0 and at most 1 (got 1.5)" in only_problem("[rules.weekly_realized_loss]\nwarn_at = 1.5\n")
    assert "connection.api_url: must be an https:// URL" in only_problem('[connection]\napi_url = "http://example.com/api"\n')
    assert "must be a finite number" in only_problem("[rules.daily_realized_loss]\nmax_loss = inf\n")


def test_toml_syntax_error_names_file_and_line(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text('[trading_day]\nreset_time = "17:00"\ntimezone = America/Chicago\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.line == 3 and err.path == str(path)
    assert str(err).startswith(f"{path}: line 3: invalid TOML: ")
    assert "\n" not in str(err)


def test_duplicate_key_is_a_syntax_error_with_line():
    [msg] = problems("[rules.daily_realized_loss]\nmax_loss = 500\nmax_loss = 600\n")
    assert msg.startswith("config.toml: line 3: invalid TOML: ")


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as info:
        loads_config(
            '[rules.daily_realized_loss]\nmax_loss = -1\nmax_los = 2\n[rules.losing_streak]\ncooldown = "soon"\n'
            '[ui]\ntheme = "blue"\n',
            "config.toml",
        )
    keys = [e.key for e in info.value.errors]
    assert set(keys) == {
        "rules.daily_realized_loss.max_loss",
        "rules.daily_realized_loss.max_los",
        "rules.losing_streak.cooldown",
        "ui.theme",
    }
    assert len(str(info.value).splitlines()) == 4


LINES_EXAMPLE = '''\
# my rules
[connection]
note = """
max_loss = -1
"""

[rules.daily_realized_loss]
enabled = true
"max_loss" = -500          # line 9

[rules.cooldown_after_loss]
tiers = [
  { loss = 100, cooldown = "5m" },
  # a comment inside the array
  { loss = 300, cooldwn = "30m" },
]

[[rules.session_block.windows]]
days = "Mon-Fri"
start = "08:30"
end = "15:10"
timezone = "America/Chicago"
[[rules.session_block.windows]]
days = "Sat"
start = "25:00"
end = "12:00"
timezone = "UTC"

[rules.max_contracts_per_instrument]
limits = { MNQ = 2, ES = "one" }
rules_note.x = 1
'''


def test_validation_errors_name_the_line_of_their_key(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(LINES_EXAMPLE)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = {e.key: e.line for e in info.value.errors}
    assert lines == {
        "connection.note": 3,
        "rules.daily_realized_loss.max_loss": 9,
        "rules.cooldown_after_loss.tiers[1].cooldwn": 15,  # inside a multi-line array
        "rules.cooldown_after_loss.tiers[1].cooldown": 15,  # missing: the line of its table
        "rules.session_block.windows[1].start": 25,  # the second [[array table]]
        "rules.max_contracts_per_instrument.limits.ES": 30,
        "rules.max_contracts_per_instrument.rules_note": 31,  # a dotted key
    }
    for problem in info.value.errors:
        assert problem.line_text().startswith(f"{path}: line {problem.line}: {problem.key}: ")
        assert LINES_EXAMPLE.splitlines()[problem.line - 1].strip()  # a real, non-blank line
    assert path.read_text() == LINES_EXAMPLE  # reading never rewrites the user's file


def test_a_key_that_cannot_be_placed_falls_back_to_its_table():
    with pytest.raises(ConfigError) as info:
        loads_config("# top\n\n[rules.cooldown_after_loss]\ntiers = [{ loss = 100 }]\n")
    [problem] = info.value.errors
    assert (problem.key, problem.line) == ("rules.cooldown_after_loss.tiers[0].cooldown", 4)


def test_not_utf8_is_an_error(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_bytes(b'[ui]\ntheme = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_byte_order_mark_is_accepted(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_bytes(b'\xef\xbb\xbf[ui]\ntheme = "light"\n')
    assert load_config(path).ui.theme == "light"


def test_with_rule_validates_like_the_file():
    cfg = DeskGuardConfig()
    assert cfg.with_rule("daily_realized_loss", max_loss=800).rules.daily_realized_loss.max_loss == 800
    with pytest.raises(ConfigError) as info:
        cfg.with_rule("daily_realized_loss", max_loss=-5)
    assert str(info.value) == "config: rules.daily_realized_loss.max_loss: must be a positive amount (got -5)"
    with pytest.raises(ConfigError, match="trading_day.timezone: unknown time zone"):
        cfg.with_section("trading_day", timezone="Nowhere/Land")


def test_one_symbol_listed_twice_is_refused():
    msg = only_problem("[rules.max_contracts_per_instrument]\nlimits = { ES = 1, EP = 2 }\n")
    assert msg == "config.toml: line 2: rules.max_contracts_per_instrument.limits: ES and EP name the same symbol (ES); keep one"


def test_demo_config_is_the_defaults_without_session_block_and_three_profiles():
    from deskguard.config import demo_config
    from deskguard.simulator import demo_accounts

    demo = demo_config()
    assert demo.rules.session_block.enabled is False
    assert demo.with_rule("session_block", enabled=True).model_copy(update={"accounts": {}}) == DeskGuardConfig()
    profiles = {a.name: demo.effective(a.name).settings.profile for a in demo_accounts()}
    assert len(set(profiles.values())) == 3 and all(profiles.values())
    for account in demo_accounts():
        assert not demo.effective(account.name).settings.rules["session_block"].enabled  # any hour
