"""``[accounts."NAME"]``: per-account profiles, starting balances and rule values in config.toml —
validation, precedence, round-trip saves, tighten-now / loosen-at-reset per account, check-config."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from deskguard.config import (
    ConfigError,
    DeskGuardConfig,
    check_config,
    default_config_text,
    dumps_config,
    loads_config,
    plan_config_change,
)
from deskguard.config.accounts import AccountConfig

CT = ZoneInfo("America/Chicago")
MONDAY_MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=CT)
COMBINE, XFA = "50KTC-V2-123456-789", "XFA-50K-42"

TWO_ACCOUNTS = f"""\
# my two Topstep accounts
[rules.max_contracts]
limit = 3            # I never trade more than 3

[accounts."{COMBINE}"]
profile = "topstep_combine_50k"

[accounts."{COMBINE}".rules.daily_realized_loss]
max_loss = 400       # this one is on thin ice

[accounts."{XFA}"]
profile = "topstep_xfa_50k"
starting_balance = 51200
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        loads_config(text)
    return [e.line_text() for e in info.value.errors]


def test_each_account_gets_its_effective_rules():
    config = loads_config(TWO_ACCOUNTS)
    combine = config.effective(COMBINE.lower()).settings  # names match case-insensitively
    assert combine.profile == "topstep_combine_50k" and combine.starting_balance == 50_000
    assert combine.rules["max_contracts"].limit == 3  # the user's 3 is tighter than the firm's 5
    assert combine.rules["daily_realized_loss"].max_loss == 400
    assert combine.rules["consistency"].enabled and combine.rules["consistency"].action == "stop"
    xfa = config.effective(XFA).settings
    assert xfa.starting_balance == 51_200 and xfa.rules["trailing_drawdown"].stop_trailing_at == 51_200
    assert xfa.rules["daily_realized_loss"].max_loss == 500  # the shared 003
    assert not xfa.rules["consistency"].enabled
    other = config.effective("PRAC-1").settings  # no table: the shared rules
    assert other.profile == "" and other.rules == config.rule_params()
    engine = config.engine_settings()
    assert engine.for_account(1, COMBINE) is not engine.for_account(2, XFA)
    assert engine.for_account(3, "PRAC-1").rules == config.rule_params()


def test_an_account_by_its_numeric_id():
    config = loads_config('[accounts."12345"]\nprofile = "topstep_combine_100k"\n')
    assert config.engine_settings().for_account(12345, "whatever").profile == "topstep_combine_100k"


def test_the_first_run_file_does_not_outvote_a_profile():
    """The commented default file writes every key with its default: those are not the user's
    choices, so the 100K Combine keeps the firm's 10 contracts and 3,000 drawdown, and 017 stops."""
    text = default_config_text() + '\n[accounts."100KTC-1"]\nprofile = "topstep_combine_100k"\n'
    rules = loads_config(text).effective("100KTC-1").settings.rules
    assert rules["max_contracts"].limit == 10
    assert rules["trailing_drawdown"].max_drawdown == 3_000
    assert rules["consistency"].action == "stop"
    # A value written by hand in a short table is the user's, even when it is the default.
    short = '[rules.consistency]\naction = "warn"\n[accounts."100KTC-1"]\nprofile = "topstep_combine_100k"\n'
    assert loads_config(short).effective("100KTC-1").settings.rules["consistency"].action == "warn"


def test_a_top_level_enabled_false_does_not_switch_off_the_profiles_rules():
    text = ('[rules.trailing_drawdown]\nenabled = false\n[accounts."A"]\nprofile = "topstep_combine_50k"\n'
            '[accounts."B"]\nprofile = "topstep_combine_50k"\n[accounts."B".rules.trailing_drawdown]\nenabled = false\n')
    config = loads_config(text)
    assert config.effective("A").settings.rules["trailing_drawdown"].enabled
    assert not config.effective("B").settings.rules["trailing_drawdown"].enabled


def test_unknown_account_keys_and_profiles_name_the_closest_valid_one():
    found = problems('[accounts."A"]\nprofil = "topstep_combine_50k"\n[accounts."B"]\nprofile = "topstep_combin_50k"\n'
                     '[accounts."B".rules.daily_realised_loss]\nmax_loss = 1\n'
                     '[accounts."C".rules.daily_realized_loss]\nmax_los = 1\n')
    assert "config.toml: line 2: accounts.A.profil: unknown key; did you mean profile?" in found
    assert ('config.toml: line 4: accounts.B.profile: unknown profile "topstep_combin_50k"; '
            "did you mean topstep_combine_50k?") in found
    assert "config.toml: line 5: accounts.B.rules.daily_realised_loss: unknown rule; did you mean daily_realized_loss?" \
        in found
    assert "config.toml: line 8: accounts.C.rules.daily_realized_loss.max_los: unknown key; did you mean max_loss?" \
        in found


def test_account_values_are_validated_like_the_shared_rules():
    found = problems('[accounts."A"]\nstarting_balance = -5\n[accounts."A".rules.daily_realized_loss]\nmax_loss = -400\n')
    assert "config.toml: line 2: accounts.A.starting_balance: must be a positive amount (got -5)" in found
    assert "config.toml: line 4: accounts.A.rules.daily_realized_loss.max_loss: must be a positive amount (got -400)" \
        in found
    assert problems('[accounts."a"]\n[accounts."A"]\n') == [
        'config.toml: line 1: accounts: "a" and "A" name the same account; keep one']


def test_saving_keeps_the_users_account_tables_and_writes_new_ones_as_tables():
    config = loads_config(TWO_ACCOUNTS)
    assert dumps_config(config, TWO_ACCOUNTS) == TWO_ACCOUNTS  # nothing changed: nothing rewritten
    table = config.account_table(XFA)
    assert table is not None
    changed = config.with_account("NEW-1", AccountConfig(profile="topstep_combine_150k")) \
        .with_account(XFA, table[1].with_overrides({"daily_realized_loss": {"max_loss": 350.0}}))
    text = dumps_config(changed, TWO_ACCOUNTS)
    assert "# this one is on thin ice" in text and "# my two Topstep accounts" in text
    assert '[accounts.NEW-1]\nprofile = "topstep_combine_150k"' in text
    assert '[accounts."XFA-50K-42".rules.daily_realized_loss]\nmax_loss = 350' in text  # the user's quoting kept
    again = loads_config(text)
    assert again == changed
    assert again.effective(XFA).settings.rules["daily_realized_loss"].max_loss == 350
    assert again.account_table(XFA)[1].overrides == {"daily_realized_loss": {"max_loss": 350.0}}  # type: ignore[index]


def test_loosening_one_account_waits_for_the_reset_and_tightening_applies_now():
    before = loads_config(TWO_ACCOUNTS)
    looser = TWO_ACCOUNTS.replace("max_loss = 400", "max_loss = 600")
    plan = plan_config_change(before, loads_config(looser), MONDAY_MORNING)
    assert plan.messages == [
        "accounts.50KTC-V2-123456-789.daily_realized_loss.max_loss 400 → 600 (looser) takes effect at 17:00 CT"]
    assert plan.effective.effective(COMBINE).settings.rules["daily_realized_loss"].max_loss == 400
    assert plan.pending is not None and plan.pending.effective(COMBINE).settings.rules["daily_realized_loss"].max_loss == 600
    tighter = plan_config_change(before, loads_config(TWO_ACCOUNTS.replace("max_loss = 400", "max_loss = 300")),
                                 MONDAY_MORNING)
    assert tighter.pending is None
    assert tighter.effective.effective(COMBINE).settings.rules["daily_realized_loss"].max_loss == 300
    assert [c.key for c in tighter.applied_changes] == [f"accounts.{COMBINE}.daily_realized_loss.max_loss"]


def test_dropping_a_profile_waits_and_keeps_the_firms_rules_in_force_until_the_reset():
    before = loads_config(TWO_ACCOUNTS)
    plan = plan_config_change(before, loads_config(TWO_ACCOUNTS.replace('profile = "topstep_xfa_50k"', 'profile = ""')),
                              MONDAY_MORNING)
    now = plan.effective.effective(XFA).settings.rules
    assert now["trailing_drawdown"].enabled and now["max_contracts"].scaling  # still guarded by the profile's
    assert f"accounts.{XFA}.trailing_drawdown on → off (looser) takes effect at 17:00 CT" in plan.messages
    assert plan.pending is not None and not plan.pending.effective(XFA).settings.rules["trailing_drawdown"].enabled
    # The other account is untouched by it.
    assert plan.effective.effective(COMBINE).settings == before.effective(COMBINE).settings
    # The config in force survives being written and read back (the store keeps it that way).
    assert loads_config(dumps_config(plan.effective)).effective(XFA).settings.rules == now


def test_a_profile_added_applies_at_once():
    plan = plan_config_change(DeskGuardConfig(), loads_config(TWO_ACCOUNTS), MONDAY_MORNING)
    rules = plan.effective.effective(COMBINE).settings.rules
    assert rules["trailing_drawdown"].enabled and rules["consistency"].enabled
    assert f"accounts.{COMBINE}.trailing_drawdown off → on (tighter) applied now" in [c.text for c in plan.applied_changes]


def test_check_config_prints_each_accounts_rules_and_where_each_value_came_from(tmp_path: Path,
                                                                               capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "config.toml"
    path.write_text(TWO_ACCOUNTS)
    assert check_config(path) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"  {COMBINE}: profile topstep_combine_50k (Topstep Trading Combine 50K); starting balance $50,000 [profile]" \
        in out
    assert ("    003 daily_realized_loss           on  [default]  max_loss $400 [account], count_open_pnl false [default], "
            "warn_at 0.8 [default]") in out
    assert any(line.startswith("    001 max_contracts                 on  [profile]  limit 3 [top-level], count gross "
                               "[default], action reduce [default], micro_weight 0.1 [profile]") for line in out)
    assert f"  {XFA}: profile topstep_xfa_50k (Topstep Express Funded Account 50K); starting balance $51,200 [account]" \
        in out
    assert any(line.startswith("    017 consistency                   on  [profile]  max_share 0.5 [profile], "
                               "action stop [profile]") for line in out)


def test_001s_new_parameters_and_017_are_validated_with_the_files_messages():
    config = loads_config('[rules.max_contracts]\nmicro_weight = 0.1\n'
                          'scaling = [{ profit = 0, limit = 2 }, { profit = 1500, limit = 3 }]\n')
    assert [(t.profit, t.limit) for t in config.rule("max_contracts").scaling] == [(0, 2), (1500, 3)]
    assert problems('[rules.max_contracts]\nscaling = [{ profit = -1, limit = 2 }]\n') == [
        "config.toml: line 2: rules.max_contracts.scaling[0].profit: must be a positive amount or 0 (got -1)"]
    assert problems('[rules.max_contracts]\nscaling = [{ profit = 0, limt = 2 }]\n') == [
        "config.toml: line 2: rules.max_contracts.scaling[0].limt: unknown key; did you mean limit?"]
    assert problems('[rules.max_contracts]\nmicro_weight = 0\n') == [
        "config.toml: line 2: rules.max_contracts.micro_weight: must be more than 0 and at most 1 (got 0)"]
    assert problems('[rules.consistency]\naction = "stp"\n') == [
        'config.toml: line 2: rules.consistency.action: must be one of "warn", "stop" (got "stp"); did you mean "stop"?']


def test_a_scaling_plan_that_only_restrains_applies_now_and_one_that_loosens_waits():
    base = loads_config("[rules.max_contracts]\nlimit = 5\n")
    plan_ = '[rules.max_contracts]\nlimit = 5\nscaling = [{ profit = 0, limit = 2 }, { profit = 2000, limit = 5 }]\n'
    tighter = plan_config_change(base, loads_config(plan_), MONDAY_MORNING)
    assert tighter.pending is None  # 2 then 5: never above the 5 in force
    looser = plan_config_change(loads_config(plan_), loads_config(plan_.replace("limit = 2 }", "limit = 3 }")),
                                MONDAY_MORNING)
    assert [c.key for c in looser.pending_changes] == ["max_contracts.scaling"]
