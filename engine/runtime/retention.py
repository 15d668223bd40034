"""Retention's shell: deletes the files the policy says are due, marks their rows (audited), counts it in the
metrics, and runs every day at ``retention.run_at`` inside the engine (``hotline recordings purge`` on demand).

A file is deleted only when it resolves (symlinks followed) to a regular file inside the data directory;
anything else, or a file the OS will not delete, is refused, logged and left alone, row included. A file
already gone is marked deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import gevent
from sqlalchemy.orm import Session, sessionmaker

from engine.config.model import Retention
from engine.metrics import Metrics
from engine.retention.policy import Item, Kind, Policy, due
from engine.retention.schedule import seconds_until
from engine.runtime.supervise import supervised
from engine.store import retention as store

log = logging.getLogger(__name__)

BATCH = 500


@dataclass
class Tally:
    """One kind's result: files deleted (or due, in a dry run), their bytes, files already gone, refused."""

    files: int = 0
    bytes: int = 0
    missing: int = 0
    refused: int = 0


@dataclass
class Report:
    """What one run deleted, or would delete in a dry run."""

    at: datetime
    dry_run: bool
    kinds: dict[Kind, Tally] = field(default_factory=lambda: {kind: Tally() for kind in Kind})

    def view(self) -> dict[str, object]:
        """The report as the CLI and the logs show it."""
        return {
            "at": self.at.isoformat(),
            "dry_run": self.dry_run,
            "kinds": {str(kind): vars(tally) for kind, tally in self.kinds.items()},
        }


def policy_of(settings: Retention) -> Policy:
    return Policy(
        settings.call_recordings_days, settings.voicemail_days, settings.amd_samples_days, settings.amd_unlabelled_days
    )


def purge(
    sessions: sessionmaker[Session],
    data_dir: Path,
    policy: Policy,
    now: datetime,
    *,
    live: Collection[str] = (),
    dry_run: bool = False,
    metrics: Metrics | None = None,
) -> Report:
    """Delete every file due at ``now`` (none in a dry run), never one of a call in ``live``."""
    report = Report(now, dry_run)
    root = data_dir.resolve()
    for kind in Kind:
        oldest_kept = policy.oldest_kept(kind, now)
        if oldest_kept is None:
            continue
        tally, after_id = report.kinds[kind], 0
        while True:
            with sessions.begin() as s:
                batch = store.on_disk(s, kind, oldest_kept, after_id=after_id, limit=BATCH)
                for item in due(batch, now, policy, live):
                    _purge_one(s, item, root, now, tally, dry_run)
            if len(batch) < BATCH:
                break
            after_id = batch[-1].id
        if metrics is not None and not dry_run:
            metrics.retention_files.labels(str(kind)).inc(tally.files)
            metrics.retention_bytes.labels(str(kind)).inc(tally.bytes)
            metrics.retention_refused.labels(str(kind)).inc(tally.refused)
    if metrics is not None and not dry_run:
        metrics.retention_last_run.set(now.timestamp())
    return report


def _purge_one(s: Session, item: Item, root: Path, now: datetime, tally: Tally, dry_run: bool) -> None:
    path = Path(item.path).resolve()
    if not path.is_relative_to(root) or path == root or (path.exists() and not path.is_file()):
        log.warning("retention: %s %s: %s is not a file inside %s; left alone", item.kind, item.id, item.path, root)
        tally.refused += 1
        return
    try:
        size = path.stat().st_size
        if not dry_run:
            path.unlink()
    except FileNotFoundError:
        size = None
        tally.missing += 1
    except OSError as exc:
        log.warning("retention: %s %s: cannot delete %s: %s; left alone", item.kind, item.id, item.path, exc)
        tally.refused += 1
        return
    else:
        tally.files += 1
        tally.bytes += size
    if not dry_run:
        store.mark_deleted(s, item, now, size)


class DailyPurge:
    """The engine's daily run at ``run_at`` (local time in ``zone``), on a greenlet; ``live`` names the calls the
    engine carries now; ``clock`` (aware now) and ``sleep`` are for tests."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        data_dir: Path,
        settings: Retention,
        zone: ZoneInfo,
        metrics: Metrics,
        live: Callable[[], Collection[str]],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = gevent.sleep,
    ) -> None:
        self.sessions, self.data_dir, self.settings, self.zone = sessions, data_dir, settings, zone
        self.metrics, self.live, self.clock, self.sleep = metrics, live, clock, sleep
        self._greenlet: gevent.Greenlet | None = None

    def run(self, now: datetime | None = None) -> Report:
        """Purge now (``now``: for tests); the report is logged."""
        at = now or self.clock()
        report = purge(
            self.sessions, self.data_dir, policy_of(self.settings), at, live=self.live(), metrics=self.metrics
        )
        log.info("retention run: %s", report.view())
        return report

    def start(self) -> None:
        if not policy_of(self.settings).keeps_everything():
            self._greenlet = supervised("retention", self.loop, self.metrics)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()

    def loop(self) -> None:
        """Forever: sleep until ``run_at``, run; a failed run is logged and retried the next day."""
        while True:
            self.sleep(seconds_until(self.settings.run_at, self.clock().astimezone(self.zone)))
            try:
                self.run()
            except Exception:
                log.exception("retention run failed; next run tomorrow")
