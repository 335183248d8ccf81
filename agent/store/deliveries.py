"""The notification ledger: where each scan's summary stands on each channel, in the store.

A channel (one SNS topic, one webhook) gets one summary per finished scan, at least once and
without duplicates, whichever process sends it:

- `claim` takes the (scan, channel) row atomically (a unique key): one process wins. A row
  that failed, or that a process claimed and never settled (it died while sending) once its
  lease has run out, can be claimed again; a delivered one never is, nor a scan older than one
  already delivered on the channel (its findings went out with that one).
- `baseline` says what the channel's "new findings" are measured against: the last scan
  delivered on it (sent, or found with nothing new), and which finished scans since then
  failed to reach it, so their findings go out with this summary, once.
- `settle` records the outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlmodel import col

from agent.store.rows import DeliveryState, ScanStatus
from agent.store.tables import DeliveryRecord, ScanRecord, metadata

# A claim not settled within this time belongs to a process that died: it may be taken over.
# Far longer than a sender's retries take (attempts x timeout + capped backoff).
LEASE = timedelta(minutes=15)
DELIVERED = (DeliveryState.SENT.value, DeliveryState.EMPTY.value)
FINISHED = (ScanStatus.COMPLETE.value, ScanStatus.PARTIAL.value)

Claim = Literal["claimed", "already sent", "in progress", "superseded"]


@dataclass(frozen=True)
class Baseline:
    """What one channel's new findings are measured against."""

    # The scan whose state counts as "before": the last one delivered on the channel, or (never
    # delivered) the last finished scan before the first undelivered one. None: nothing before.
    scan_id: int | None
    # Finished scans after it whose summary failed on this channel: their accounts count too.
    undelivered: tuple[int, ...] = ()


class Deliveries:
    """The ledger of one store (`Store.deliveries`)."""

    def __init__(
        self,
        session: Callable[..., AbstractContextManager[Session]],
        clock: Callable[[], datetime],
    ) -> None:
        self._session = session
        self._clock = clock

    def claim(self, scan_id: int, channel: str, key: str) -> Claim:
        """Take (scan, channel) for sending; what stands in the way otherwise."""
        now = self._clock()
        with self._session(f"claiming the notification of scan {scan_id}", write=True) as s:
            later = s.scalar(select(func.max(col(DeliveryRecord.scan_id))).where(
                col(DeliveryRecord.channel) == channel, col(DeliveryRecord.state).in_(DELIVERED),
                col(DeliveryRecord.scan_id) > scan_id))
            if later is not None:
                return "superseded"
            table = metadata.tables["notification_deliveries"]
            insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
            inserted = s.connection().execute(
                insert(table).values(
                    scan_id=scan_id, channel=channel, key=key, claimed_at=now,
                    state=DeliveryState.SENDING.value, findings=0, attempts=0,
                ).on_conflict_do_nothing(index_elements=["scan_id", "channel"])
                .returning(table.c.id)).first()
            if inserted is not None:
                return "claimed"
            row = s.scalars(select(DeliveryRecord).where(
                col(DeliveryRecord.scan_id) == scan_id, col(DeliveryRecord.channel) == channel)
                .with_for_update()).one()
            if row.state in DELIVERED:
                return "already sent"
            if row.state == DeliveryState.SENDING.value and row.claimed_at > now - LEASE:
                return "in progress"
            row.state, row.claimed_at, row.key = DeliveryState.SENDING.value, now, key
            row.error, row.finished_at = None, None
            return "claimed"

    def settle(
        self,
        scan_id: int,
        channel: str,
        state: DeliveryState,
        *,
        findings: int = 0,
        attempts: int = 0,
        error: str | None = None,
    ) -> None:
        with self._session(f"recording the notification of scan {scan_id}", write=True) as s:
            s.execute(update(DeliveryRecord).where(
                col(DeliveryRecord.scan_id) == scan_id, col(DeliveryRecord.channel) == channel,
            ).values(state=state.value, findings=findings, attempts=attempts,
                     error=error[:2000] if error else None, finished_at=self._clock()))

    def baseline(self, scan_id: int, channel: str) -> Baseline:
        """What `channel`'s summary of `scan_id` measures "new" against (see `Baseline`)."""
        stale = self._clock() - LEASE
        with self._session("reading the notification ledger") as s:
            delivered = s.scalar(select(func.max(col(DeliveryRecord.scan_id))).where(
                col(DeliveryRecord.channel) == channel, col(DeliveryRecord.state).in_(DELIVERED),
                col(DeliveryRecord.scan_id) < scan_id))
            undelivered = tuple(s.scalars(
                select(col(DeliveryRecord.scan_id)).where(
                    col(DeliveryRecord.channel) == channel,
                    col(DeliveryRecord.scan_id) < scan_id,
                    col(DeliveryRecord.scan_id) > (delivered or 0),
                    or_(col(DeliveryRecord.state) == DeliveryState.FAILED.value,
                        (col(DeliveryRecord.state) == DeliveryState.SENDING.value)
                        & (col(DeliveryRecord.claimed_at) < stale)),
                ).order_by(col(DeliveryRecord.scan_id))))
            if delivered is not None:
                return Baseline(delivered, undelivered)
            before = min((*undelivered, scan_id))
            return Baseline(last_finished_before(s, before), undelivered)

    def rows(self, channel: str | None = None) -> list[dict[str, object]]:
        """The ledger, oldest first (for tests and inspection)."""
        with self._session("reading the notification ledger") as s:
            q = select(DeliveryRecord).order_by(col(DeliveryRecord.scan_id),
                                                col(DeliveryRecord.channel))
            if channel is not None:
                q = q.where(col(DeliveryRecord.channel) == channel)
            return [{"scan_id": r.scan_id, "channel": r.channel, "state": r.state,
                     "findings": r.findings, "attempts": r.attempts, "error": r.error}
                    for r in s.scalars(q)]


def last_finished_before(s: Session, scan_id: int) -> int | None:
    """The latest complete or partial scan older than `scan_id`."""
    return s.scalar(select(func.max(col(ScanRecord.id))).where(
        col(ScanRecord.id) < scan_id, col(ScanRecord.status).in_(FINISHED)))
