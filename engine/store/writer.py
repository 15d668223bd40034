"""One ordered write queue between the event loop and the database.

The loop hands write records (engine/store/write_records.py) to :meth:`Writer.submit`, which never
waits: the record joins a bounded in-memory FIFO. One writer greenlet takes what is queued (up to
``batch_max`` records) and runs it as ONE transaction in the writer's own thread (a gevent
ThreadPool of one: the SQL, the driver's I/O and the commit's fsync never run on the loop). So
rows reach the database in the order the engine made them, from one thread.

**The database going away.** A batch that fails because the database is unavailable
(:func:`engine.store.db.unavailable`: down, read-only, locked, connection lost) is kept and retried
with capped exponential backoff. From the first failure, and whenever the in-memory queue is full,
the queue moves to the *journal*: ``<data_dir>/db_journal.jsonl``, one JSON line per record, appended
and fsync'd in the writer's thread (several records per fsync). The journal is drained in order once
the database is back, and replayed on the next start (``db_journal.offset`` says how far it was
written), so a record survives an engine restart during an outage. While the journal holds
anything, new records go behind it, never ahead.

**A record the database refuses** (a constraint, an unknown agent: it will never succeed) must not
hold up the queue: the batch is rolled back and its records written one transaction each; those
refused are logged, counted (``hotline_db_write_rejected_total{kind}``) and appended with the error
to ``<data_dir>/db_rejected.jsonl``; nothing is dropped silently. A journal line that is not a valid
record (a torn last line after a power cut, an edited file) goes there too, named by file and line.

**Lingering.** With ``linger`` (seconds; ``continuity.write_linger_seconds``), the writer waits that long
after a record arrives for others to join its transaction (not when ``batch_max`` are queued, nor while
someone waits for the queue to be written): a call's few records then share one transaction instead of
three, which costs the engine less CPU per call.

What is lost: records still in memory (not yet journalled) when the process is killed with -9 while
the database is up are normally written within ``linger`` plus a transaction's time; during an outage
they are journalled at once, so a kill -9 loses at most the records of the last few milliseconds. A crash between a
commit and the journal offset's update replays that batch: calls are skipped by uuid, agent-state
rows of that one batch may appear twice.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import gevent
from gevent.event import Event
from gevent.lock import BoundedSemaphore
from gevent.threadpool import ThreadPool
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from engine.metrics import Metrics
from engine.runtime.supervise import supervised
from engine.store.db import unavailable
from engine.store.write_records import Entry, WriteRecord, apply, apply_all, decode, encode

log = logging.getLogger(__name__)
JOURNAL = "db_journal.jsonl"
OFFSET = "db_journal.offset"
REJECTED = "db_rejected.jsonl"
MAX_LINE = 4 << 20  # a journal line longer than this is no record of ours (a CDR's line is a few KiB)
Done = Callable[[], None]


@dataclass(frozen=True)
class Line:
    """A journal line: its length with the newline, its bytes, and its entry (None: blank; str: why it
    is not a record)."""

    length: int
    raw: bytes
    entry: Entry | str | None


@dataclass
class BatchResult:
    """What the writer's thread did with a batch: ``written`` records from its head are committed,
    ``rejected`` (entry, error) were refused for good; ``failed`` is the unavailable database's error
    when the rest must be retried."""

    written: int = 0
    skipped: int = 0
    rejected: list[tuple[Entry, str]] = field(default_factory=list)
    failed: BaseException | None = None


class Writer:
    """The engine's one database writer. ``start()`` replays the journal; ``stop()`` drains or journals."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        data_dir: Path,
        metrics: Metrics,
        *,
        max_queue: int = 10_000,
        batch_max: int = 200,
        backoff: tuple[float, float] = (0.05, 5.0),
        linger: float = 0.0,
    ) -> None:
        self.sessions = sessions
        self.metrics = metrics
        self.max_queue = max_queue
        self.batch_max = batch_max
        self.backoff = backoff
        self.linger = linger
        self.journal_path = data_dir / JOURNAL
        self.offset_path = data_dir / OFFSET
        self.rejected_path = data_dir / REJECTED
        self._memory: deque[Entry] = deque()
        self._spill: list[Entry] = []  # journalled next, in order, by the flusher
        self._spilling = False  # the queue lives in the journal: new records go behind it
        self._inflight = 0  # records at the head of _memory being written now (they stay there)
        self._journal_size = 0  # bytes flushed to the journal
        self._offset = 0  # bytes of the journal already written to the database (or rejected)
        self._line = 0  # journal lines before _offset, for error messages
        self._journal_pending = 0  # records journalled or being journalled, not yet written
        self._done: dict[str, Done] = {}
        self._ids = itertools.count(1)
        self._boot = uuid.uuid4().hex[:8]
        self._wake = Event()  # the writer: something was queued
        self._spilled = Event()  # the flusher: something is waiting to be journalled
        self._flushed = Event()
        self._idle = Event()
        self._hurry = Event()  # someone waits for the queue to be written: no lingering
        self._went_down = Event()  # set while the database is unavailable: stop() does not wait for it
        self._file_lock = BoundedSemaphore()
        self._pool = ThreadPool(1)
        self._known_agents: set[str] = set()  # agents the database had: their state rows skip the query
        self._greenlets: list[gevent.Greenlet] = []
        self._stopped = False
        self.up = True
        metrics.db_queue_depth.set_function(lambda: len(self._memory))
        metrics.db_journal_depth.set_function(lambda: self._journal_pending)
        metrics.db_up.set_function(lambda: 1.0 if self.up else 0.0)

    # ---- the loop's side --------------------------------------------------------------------

    def submit(self, record: WriteRecord, done: Done | None = None) -> None:
        """Queue ``record``; ``done()`` runs on the loop once it is committed (never, if it is refused or
        the engine stops first). Never waits, never raises for the database."""
        entry = Entry(id=f"{self._boot}-{next(self._ids)}", record=record)
        if self._stopped:  # a call that ended after the engine stopped: straight to the journal
            self._append([entry])
            return
        if done is not None:
            self._done[entry.id] = done
        if not self._spilling and len(self._memory) >= self.max_queue:
            log.warning("database write queue full (%d records): journalling to %s", self.max_queue, self.journal_path)
            self._start_spilling()
        if self._spilling:
            self._spill.append(entry)
            self._journal_pending += 1
            self._spilled.set()
        else:
            self._memory.append(entry)
        self._idle.clear()
        if len(self._memory) >= self.batch_max:
            self._hurry.set()
        self._wake.set()

    @property
    def depth(self) -> int:
        """Records not yet written: in memory and in the journal."""
        return len(self._memory) + self._journal_pending

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is written (or refused); False on timeout."""
        if not self.depth:
            return True
        self._hurry.set()
        return self._idle.wait(timeout)

    def start(self) -> None:
        """Open the journal (replayed first, when a previous run left records in it) and start writing."""
        self._open_journal()
        self._greenlets = [
            supervised("db_writer", self._run, self.metrics),
            supervised("db_journal", self._flush_forever, self.metrics),
        ]

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued if the database lets us within ``timeout``; journal the rest."""
        if self._greenlets and self.depth:
            self._hurry.set()
            gevent.wait([self._idle, self._went_down], timeout=timeout, count=1)
        with self._file_lock:  # never while the flusher is appending
            gevent.killall(self._greenlets, timeout=timeout)
            self._stopped = True
        self._done.clear()
        rest = list(self._memory) + self._spill
        self._memory.clear()
        self._spill = []
        if rest:
            self._append(rest)
            log.warning("database writer stopped with %d records unwritten: kept in %s", len(rest), self.journal_path)
        self._pool.kill()

    # ---- moving the queue to the journal ------------------------------------------------------

    def _start_spilling(self) -> None:
        """What is queued in memory goes to the journal, ahead of what comes next (the journal is empty
        now); a batch being written stays at the head of memory, which is written before the journal."""
        self._spilling = True
        moved = list(itertools.islice(self._memory, self._inflight, None))
        for _ in moved:
            self._memory.pop()
        self._spill[:0] = moved
        self._journal_pending += len(moved)
        self._spilled.set()

    def _flush_forever(self) -> None:
        while True:
            self._spilled.wait()
            self._spilled.clear()
            if self._spill:
                self._flush()

    def _flush(self) -> None:
        with self._file_lock:  # taken before the records: stop() never kills the flusher holding some
            batch, self._spill = self._spill, []
            self._pool.apply(self._append, (batch,))
            self._journal_size = self.journal_path.stat().st_size
        self._flushed.set()

    def _append(self, entries: list[Entry]) -> None:
        """Append and fsync (the writer's thread, or the loop at stop)."""
        self.journal_path.parent.mkdir(parents=True, exist_ok=True)
        with _private(self.journal_path) as out:
            out.write(b"".join(encode(e) for e in entries))
            out.flush()
            os.fsync(out.fileno())

    def _open_journal(self) -> None:
        self.journal_path.parent.mkdir(parents=True, exist_ok=True)
        if not self.journal_path.exists():
            return
        size = self.journal_path.stat().st_size
        with self.journal_path.open("rb") as f:
            if size and (f.seek(size - 1), f.read(1))[1] != b"\n":  # a torn last line: keep it apart
                with _private(self.journal_path) as out:
                    out.write(b"\n")
                size += 1
            f.seek(0)
            data = f.read()
        try:
            mark = json.loads(self.offset_path.read_text())
            self._offset, self._line = int(mark["offset"]), int(mark["line"])
        except (OSError, ValueError, KeyError, TypeError):
            self._offset, self._line = 0, 0
        if not 0 <= self._offset <= size:
            self._offset, self._line = 0, 0
        self._journal_size = size
        self._journal_pending = data[self._offset :].count(b"\n")
        if self._journal_pending:
            self._spilling = True
            log.warning("replaying %d database writes journalled by an earlier run", self._journal_pending)
            self._wake.set()
        else:
            self._reset_journal()

    def _reset_journal(self) -> None:
        self.journal_path.write_bytes(b"")
        self.offset_path.write_text(json.dumps({"offset": 0, "line": 0}))
        self._journal_size = self._offset = self._line = 0

    # ---- the writer ---------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.backoff[0]
        while True:
            batch, lines, result = [], [], BatchResult()  # the last batch's records are not kept while idle
            batch, lines = self._next_batch()
            if not batch and not lines:
                continue
            self._inflight = 0 if lines else len(batch)
            try:
                result = self._pool.apply(self._write, (batch,)) if batch else BatchResult()
            finally:
                self._inflight = 0
            if result.failed is None:
                if batch and not self.up:
                    log.warning("database is back: writing %d queued records", self.depth)
                    self.up = True
                    self._went_down.clear()
                delay = self.backoff[0]
                self._settle(batch, lines, result)
                continue
            self._settle(batch, lines, result)  # what went before the failure
            self.metrics.db_write_failures.inc()
            if self.up:
                log.error("database unavailable, writes queued and journalled: %s", _first_line(result.failed))
            self.up = False
            self._went_down.set()
            if not self._spilling:
                self._start_spilling()
            gevent.sleep(delay)  # a backoff timer: the database gets time to come back
            self.metrics.db_write_retries.inc()
            delay = min(delay * 2, self.backoff[1])

    def _next_batch(self) -> tuple[list[Entry], list[Line]]:
        """The head of the queue: from memory, or (spilling) complete journal lines after the offset,
        each with its length and its entry (None: blank or not a record)."""
        while True:
            if self._memory:  # older than anything journalled
                if self.linger and len(self._memory) < self.batch_max and not self._hurry.is_set():
                    self._hurry.wait(self.linger)  # what comes meanwhile joins this transaction
                return list(itertools.islice(self._memory, self.batch_max)), []
            if self._spilling and self._offset < self._journal_size:
                return self._read_journal()
            if self._spilling and not self._spill and self._offset >= self._journal_size:
                with self._file_lock:  # not while the flusher appends; then look again
                    if not self._spill and self._offset >= self._journal_size:
                        self._pool.apply(self._reset_journal)
                        self._spilling = False
                        self._journal_pending = 0
                continue
            if not self._memory and not self._spill:
                self._idle.set()
                self._hurry.clear()
            self._wake.clear()
            self._flushed.clear()
            gevent.wait([self._wake, self._flushed], count=1)

    def _read_journal(self) -> tuple[list[Entry], list[Line]]:
        def read() -> bytes:
            with self.journal_path.open("rb") as f:
                f.seek(self._offset)
                return f.read(min(self._journal_size - self._offset, MAX_LINE))

        data = self._pool.apply(read)
        entries: list[Entry] = []
        lines: list[Line] = []
        if b"\n" not in data:  # only a line longer than any record (the flusher writes whole lines)
            end = self._pool.apply(self._line_end)
            return [], [Line(end - self._offset, data[:200], f"a line longer than {MAX_LINE} bytes")]
        for raw in data.split(b"\n")[:-1][: self.batch_max]:
            try:
                entry: Entry | str | None = decode(raw) if raw.strip() else None
            except ValidationError as exc:
                entry = str(exc)
            lines.append(Line(len(raw) + 1, raw, entry))
            if isinstance(entry, Entry):
                entries.append(entry)
        return entries, lines

    def _line_end(self) -> int:
        """The offset just past the newline that ends the line at the offset (the writer's thread)."""
        with self.journal_path.open("rb") as f:
            f.seek(self._offset)
            at = self._offset
            while chunk := f.read(1 << 20):
                if (cut := chunk.find(b"\n")) >= 0:
                    return at + cut + 1
                at += len(chunk)
        return at

    def _write(self, batch: list[Entry]) -> BatchResult:
        """In the writer's thread: the batch in one transaction; if the database refuses part of it, one
        transaction per record."""
        result = BatchResult()
        try:
            with self.sessions.begin() as s:
                skipped = apply_all(s, [e.record for e in batch], self._known_agents)
            result.written, result.skipped = len(batch), skipped
            return result
        except Exception as exc:
            if unavailable(exc):
                result.failed = exc
                return result
        for entry in batch:
            try:
                with self.sessions.begin() as s:
                    result.skipped += not apply(s, entry.record, self._known_agents)
            except Exception as exc:
                if unavailable(exc):
                    result.failed = exc
                    return result
                result.rejected.append((entry, _first_line(exc)))
            result.written += 1
        return result

    def _settle(self, batch: list[Entry], lines: list[Line], result: BatchResult) -> None:
        """On the loop: take what was written (or refused) off the head of the queue, tell its listeners."""
        rejected = {e.id: error for e, error in result.rejected}
        for entry in batch[: result.written]:
            kind = entry.record.kind
            if entry.id in rejected:
                self.metrics.db_write_rejected.labels(kind).inc()
                log.error(
                    "database refused a %s record, set aside in %s: %s", kind, self.rejected_path, rejected[entry.id]
                )
                self._reject_line(kind, encode(entry).rstrip(b"\n"), rejected[entry.id])
                self._done.pop(entry.id, None)
                continue
            self.metrics.db_writes.labels(kind).inc()
            done = self._done.pop(entry.id, None)
            if done is not None:
                try:
                    done()
                except Exception:
                    log.exception("after writing a %s record", kind)
        if not lines:
            for _ in range(result.written):
                self._memory.popleft()
            return
        # journal lines: advance past the written entries and the invalid lines among them
        count, consumed = 0, 0
        for line in lines:
            valid = isinstance(line.entry, Entry)
            if valid and count == result.written:
                break
            consumed += line.length
            self._line += 1
            self._journal_pending -= 1
            count += valid
            if isinstance(line.entry, str):
                where = f"{self.journal_path}:{self._line}"
                log.error("%s: not a write record, set aside in %s: %s", where, self.rejected_path, line.entry)
                self.metrics.db_write_rejected.labels("journal_line").inc()
                self._reject_line(where, line.raw, line.entry)
        if consumed:
            self._offset += consumed
            self._pool.apply(self._save_offset)

    def _save_offset(self) -> None:
        tmp = self.offset_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"offset": self._offset, "line": self._line}))
        os.replace(tmp, self.offset_path)

    def _reject_line(self, what: str, raw: bytes, error: str) -> None:
        line: dict[str, Any] = {"at": datetime.now(UTC).isoformat(), "what": what, "error": error}
        line["record"] = raw.decode("utf-8", "replace")
        with _private(self.rejected_path) as out:
            out.write(json.dumps(line).encode() + b"\n")


@contextlib.contextmanager
def degraded(metrics: Metrics, read: str) -> Iterator[None]:
    """Around a read the call path can do without: an unavailable database is logged, counted in
    ``hotline_db_read_failures_total{read}`` and swallowed (the code after the block runs: the default);
    any other error is raised."""
    try:
        yield
    except Exception as exc:
        if not unavailable(exc):
            raise
        metrics.db_read_failures.labels(read).inc()
        log.warning("%s without the database: %s", read, _first_line(exc))


def _private(path: Path) -> BinaryIO:
    """``path`` opened for appending; created readable by its owner only (it holds callers' numbers)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
