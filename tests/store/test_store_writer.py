"""The store's writer process (store/writer.py, issue 18): the guard's routine writes made by a
process of its own — in order, stamped with the guard's moment, redacted, each failure reported
alone, and nothing lost when the writer dies (bookkeeping.py writes what it had not confirmed)."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deskguard.guardian.bookkeeping import StoreQueue
from deskguard.store import Store, StoreError
from deskguard.store.writer import WriterGone, WriterProcess, command, encode_op

from .conftest import make_lock

AT = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
KEY = "sk-live-0123456789abcdef"


def _op(name: str, *args: object, **kwargs: object) -> bytes:
    return encode_op(name, args, kwargs)


def test_the_writer_writes_in_order_with_the_guard_s_moment_and_redacts(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Store(path).close()  # the guard opens (and migrates) the file before its writer does
    writer = WriterProcess(path, secrets=[KEY])
    writer.start()
    assert writer.running and writer.pid != os.getpid()
    assert command()[-1] == "store-writer"
    writer.post([_op("audit", 7, "max_contracts", "broker_call", f"first, key {KEY}"),
                 _op("audit", 7, "max_contracts", "broker_call", "second")], AT)
    later = "webhook-token-abcdefgh"
    writer.post([_op("audit", None, None, "status", f"third {later}")], AT, secrets=[KEY, later])
    assert writer.sync() == []
    assert writer.close() == []
    with Store(path) as store:
        entries = store.audit_entries()
    assert [e.detail for e in entries] == ["first, key [redacted]", "second", "third [redacted]"]
    assert {e.at for e in entries} == {AT}  # the batch's moment, not the writer's clock
    assert KEY.encode() not in path.read_bytes() and later.encode() not in path.read_bytes()


def test_a_failing_write_is_reported_and_undone_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Store(path).close()
    writer = WriterProcess(path)
    writer.start()
    writer.post([_op("audit", 1, None, "info", "kept before"),
                 _op("end_lock", "not a lock id", AT, "why"),  # raises inside the writer
                 _op("no_such_method"),
                 _op("audit", 1, None, "info", "kept after")], AT)
    errors = writer.sync()
    writer.close()
    assert len(errors) == 2
    assert "end_lock" in errors[0] and "not a store method: 'no_such_method'" in errors[1]
    with Store(path) as store:
        assert [e.detail for e in store.audit_entries()] == ["kept before", "kept after"]


def test_a_writer_that_cannot_open_its_file_says_so(tmp_path: Path) -> None:
    target = tmp_path / "state.db"
    target.write_bytes(b"this is not a database" * 100)
    writer = WriterProcess(target)
    with pytest.raises(WriterGone, match="did not open"):
        writer.start()


def test_a_batch_is_one_transaction_whose_writes_fail_alone(tmp_path: Path) -> None:
    with Store(tmp_path / "state.db") as store:
        with store.batch():
            store.audit(1, None, "info", "one")
            with pytest.raises(StoreError):
                store.audit(1, None, "info", object())  # SQLite cannot bind it
            store.audit(1, None, "info", "two")
            with pytest.raises(StoreError, match="durable"):
                store.save_lock(make_lock())  # a lock is committed on its own, fsync'd
        assert [e.detail for e in store.audit_entries()] == ["one", "two"]
        assert store.active_locks() == []


@pytest.mark.asyncio
async def test_the_queue_posts_the_store_s_writes_and_keeps_order_with_its_other_calls(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db", redact=[KEY])
    queue = StoreQueue(delay=0.001, store=store, writer=lambda: WriterProcess(store.path or "", store.secrets))
    seen: list[list[str]] = []
    queue.submit(store.audit, 1, None, "info", "written by the writer")  # starts the writer (thread)
    await queue.drain()
    assert queue.writer_pid is not None
    for i in range(3):
        queue.submit(store.audit, 1, None, "info", f"posted {i} {KEY}")
    queue.submit(lambda: seen.append([e.detail for e in store.audit_entries()]))  # runs here, after them
    await queue.drain()
    assert seen == [["written by the writer", "posted 0 [redacted]", "posted 1 [redacted]", "posted 2 [redacted]"]]
    queue.shutdown()
    assert queue.writer_pid is None
    store.close()


@pytest.mark.asyncio
async def test_when_the_writer_dies_the_guard_writes_what_it_had_not_confirmed(tmp_path: Path, caplog) -> None:
    store = Store(tmp_path / "state.db")
    made: list[WriterProcess] = []

    def make() -> WriterProcess:
        made.append(WriterProcess(store.path or "", store.secrets))
        return made[-1]

    queue = StoreQueue(delay=0.001, store=store, writer=make)
    queue.submit(store.audit, 1, None, "info", "before")
    await queue.drain()
    made[0].kill()  # the writer is gone; the loop does not know yet
    await asyncio.sleep(0.05)
    with caplog.at_level(logging.ERROR, logger="deskguard.guardian"):
        for i in range(3):
            queue.submit(store.audit, 1, None, "info", f"after {i}")
            await asyncio.sleep(0.01)
        await queue.drain()
    assert [e.detail for e in store.audit_entries()] == ["before", "after 0", "after 1", "after 2"]
    assert "writes state.db itself from now on" in caplog.text
    assert len(made) == 1 and queue.writer_pid is None  # not started again: written here from now on
    queue.shutdown()
    store.close()


@pytest.mark.asyncio
async def test_a_store_in_memory_or_a_closure_never_goes_to_a_writer(tmp_path: Path) -> None:
    store = Store(":memory:")
    queue = StoreQueue(delay=0.001, store=store, writer=None)
    queue.submit(store.audit, 1, None, "info", "here")
    await queue.drain()
    assert queue.writer_pid is None and [e.detail for e in store.audit_entries()] == ["here"]
    queue.shutdown()
    store.close()


@pytest.mark.skipif(not hasattr(os, "kill") or os.name == "nt", reason="POSIX signals")
def test_ctrl_c_and_sigterm_to_the_group_do_not_end_the_writer_before_its_guard(tmp_path: Path) -> None:
    """A terminal's Ctrl-C and systemd's stop reach the whole process group; the guard's last writes
    at its own shutdown must still go through the writer (measured: before, the writer died first
    and the guard logged an error at every Ctrl-C)."""
    import signal
    import time

    path = tmp_path / "state.db"
    Store(path).close()
    writer = WriterProcess(path)
    writer.start()
    assert writer.pid is not None
    os.kill(writer.pid, signal.SIGINT)
    os.kill(writer.pid, signal.SIGTERM)
    time.sleep(0.2)
    assert writer.running
    writer.post([_op("audit", 1, None, "info", "after the signals")], AT)
    assert writer.close() == []
    with Store(path) as store:
        assert [e.detail for e in store.audit_entries()] == ["after the signals"]


def test_a_full_pipe_and_many_failures_never_deadlock_and_a_sync_says_how_many_failed(tmp_path: Path) -> None:
    """Review of the writer: the writer answers only a sync (never blocks on its own output while
    the guard writes to it), and a sync first writes out the whole backlog, itself included."""
    import threading

    from deskguard.store.writer import MAX_ERRORS

    path = tmp_path / "state.db"
    Store(path).close()
    writer = WriterProcess(path)
    writer.start()
    big = "x" * 300_000  # more than any pipe holds: the post leaves a backlog
    writer.post([_op("audit", 1, None, "info", big)], AT)
    assert writer.backlogged
    for i in range(200):  # each fails in the writer, with a long text
        writer.post([_op("no_such_method", "y" * 2_000, i)], AT)
    result: list[list[str]] = []
    thread = threading.Thread(target=lambda: result.append(writer.sync()), daemon=True)
    thread.start()
    thread.join(30)
    assert result, "sync did not return"
    errors = result[0]
    assert len(errors) == MAX_ERRORS + 1 and errors[-1] == f"... and {200 - MAX_ERRORS} more failed store write(s)"
    assert not writer.backlogged
    writer.close()
    with Store(path) as store:
        assert [len(e.detail) for e in store.audit_entries()] == [300_000]


def test_a_writer_known_to_be_gone_takes_nothing_more(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Store(path).close()
    writer = WriterProcess(path)
    writer.start()
    writer.kill()
    with pytest.raises(WriterGone):
        writer.sync()
    assert writer.post([_op("audit", 1, None, "info", "lost?")], AT) is False  # the caller writes it


def test_when_sqlite_aborts_the_batch_its_writes_are_made_again_one_by_one() -> None:
    """A full disk or an I/O error rolls the whole transaction back: what ran before in the batch
    must not be reported written."""
    from contextlib import contextmanager

    from deskguard.store import writer as w

    class Fake:
        def __init__(self) -> None:
            self.in_transaction = False
            self.batches = 0
            self.committed: list[str] = []
            self.pending: list[str] = []

        @contextmanager
        def batch(self):
            self.batches += 1
            self.in_transaction = True
            yield
            self.committed += self.pending
            self.pending = []
            self.in_transaction = False

        def note(self, text: str) -> None:
            if self.in_transaction:
                self.pending.append(text)
            else:
                self.committed.append(text)

        def abort(self) -> None:
            if self.in_transaction:  # as SQLite does on SQLITE_FULL: the whole transaction is gone
                self.pending = []
                self.in_transaction = False
                raise OSError("database or disk is full")
            self.committed.append("abort, alone")

    store = Fake()
    errors = w._write_all(store, [_op("note", "one"), _op("abort"), _op("note", "two")])
    assert store.committed == ["one", "abort, alone", "two"] and errors == []


def test_another_thread_s_write_waits_for_a_batch_and_is_never_part_of_it(tmp_path: Path) -> None:
    import threading
    import time

    with Store(tmp_path / "state.db") as store:
        other = threading.Thread(target=lambda: store.audit(1, None, "info", "other thread"))
        with pytest.raises(RuntimeError), store.batch():
            store.audit(1, None, "info", "inside, then rolled back")
            other.start()
            time.sleep(0.1)
            assert other.is_alive()  # waits for the batch's mutex
            raise RuntimeError("the batch fails")
        other.join(5)
        assert [e.detail for e in store.audit_entries()] == ["other thread"]
