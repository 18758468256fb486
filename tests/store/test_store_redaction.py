from __future__ import annotations

import string
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deskguard.engine.decisions import Action, Decision, LockKind
from deskguard.engine.models import Side, Trade
from deskguard.store import REDACTED, Store
from deskguard.store.redaction import Redactor

from .conftest import T0, make_lock

SECRET = "pX9kQ2mZr7LwT4vB8nC1sD6fG3hJ0aY5eU"


def _write_everywhere(store: Store, text: str) -> None:
    """Put ``text`` into every text column of every table."""
    lock = make_lock(reason=text, rule=f"rule {text}", symbol=text, kind=LockKind.UNTIL_RESET)
    store.save_lock(lock)
    store.end_lock(store.save_lock(make_lock(reason=f"other {text}")), T0 + timedelta(minutes=1), f"ended {text}")
    store.audit(
        7, f"rule {text}", f"event {text}", f"detail {text}",
        decision=Decision(7, Action.CLOSE_POSITION, "r", "x", contract_id=text),
        broker_call=f"call {text}", result=f"failed: {text}", latency_ms=3.0,
    )
    store.audit(7, None, "string decision", "d", decision=f"decided {text}")
    store.record_trades(7, [Trade(1, 7, text, T0, 100.0, -5.0, 1.0, Side.SELL, 1)])
    store.set_memory(7, f"key {text}", f'"{text}"')
    store.record_rule_change(T0, f"k {text}", f"old {text}", f"new {text}", T0, False, f"note {text}")
    enforcement = store.begin_enforcement(7, Action.FLATTEN, text, f"reason {text}")
    store.finish_enforcement(enforcement, f"result {text}")
    store.begin_enforcement(7, f"action {text}", None, "pending")


def _file_bytes(db_path: Path) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-journal"):
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():
            data += side.read_bytes()
    return data


def test_the_secret_is_in_no_byte_of_the_database_files(db_path: Path) -> None:
    store = Store(db_path)
    store.add_redaction(SECRET)
    _write_everywhere(store, f"Bearer {SECRET} from the login")

    assert db_path.with_name("state.db-wal").exists()  # the WAL holds the fresh rows: check it too
    on_disk = _file_bytes(db_path)
    assert SECRET.encode() not in on_disk
    assert REDACTED.encode() in on_disk
    store.close()
    assert SECRET.encode() not in _file_bytes(db_path)


def test_what_comes_back_is_redacted(store: Store) -> None:
    store.add_redaction(SECRET)
    _write_everywhere(store, f"key={SECRET}")
    wanted = f"key={REDACTED}"
    assert {lock.reason for lock in store.active_locks()} == {wanted}
    assert store.lock_history()[1].end_reason == f"ended {wanted}"
    entry = store.audit_entries()[0]
    assert (entry.detail, entry.decision, entry.broker_call, entry.result) == (
        f"detail {wanted}", f"close_position {wanted}", f"call {wanted}", f"failed: {wanted}",
    )
    assert store.trades(7, T0)[0].contract_id == wanted
    assert store.memory(7) == {f"key {wanted}": f'"{wanted}"'}
    change = store.rule_changes()[0]
    assert (change.key, change.old, change.new, change.note) == (
        f"k {wanted}", f"old {wanted}", f"new {wanted}", f"note {wanted}")
    assert store.unfinished_enforcements()[0].action == f"action {wanted}"


def test_secrets_can_be_given_when_opening(db_path: Path) -> None:
    with Store(db_path, redact=[SECRET]) as store:
        store.audit(7, None, "login", f"logged in with {SECRET}")
        assert store.audit_entries()[0].detail == f"logged in with {REDACTED}"


def test_an_empty_secret_is_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        store.add_redaction("")


_KEYS = st.text(alphabet=string.ascii_letters + string.digits + "+/=", min_size=12, max_size=64)


@given(secret=_KEYS, before=st.text(max_size=40), after=st.text(max_size=40), other=_KEYS)
def test_redaction_removes_every_occurrence(secret: str, before: str, after: str, other: str) -> None:
    redact = Redactor()
    redact.add(secret)
    redact.add(other)
    text = redact(before + secret + after + secret + other)
    assert secret not in text.replace(REDACTED, "\0")
    assert other not in text.replace(REDACTED, "\0")
