"""Notifications: one summary per scan of the findings that are new in it.

"New" means open (failing, not muted) after the scan and not open before it: first seen in
this scan, reopened after a resolution, failing after having passed or been unknown, or no
longer muted (its mute expired or its rule was removed). Only findings of
the accounts the scan wrote are considered, so a concurrent scan of other accounts is never
reported here. The message is built by a pure function; the senders (SNS, a Slack-compatible
webhook) are injected; a ledger makes a re-run for the same scan send nothing again.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import structlog

from agent.domain import Severity
from agent.notify.message import SCHEMA, Notification, build_notification, idempotency_key
from agent.notify.select import Change, FindingSource, NewFinding, previous_scan_id, select_new
from agent.notify.senders import (
    Sender,
    SendFailed,
    SnsSender,
    WebhookSender,
    senders_from_settings,
)
from agent.store.rows import ScanStatus

log = structlog.get_logger(__name__)

__all__ = [
    "SCHEMA",
    "Change",
    "Delivery",
    "FindingSource",
    "Ledger",
    "MemoryLedger",
    "NewFinding",
    "Notification",
    "NotifyError",
    "NotifyOutcome",
    "SendFailed",
    "Sender",
    "SnsSender",
    "WebhookSender",
    "build_notification",
    "idempotency_key",
    "notify_scan",
    "previous_scan_id",
    "select_new",
    "senders_from_settings",
]

class NotifyError(Exception):
    """The scan cannot be notified about (unknown, or still running)."""


# -- exactly once ------------------------------------------------------------------------------


class Ledger(Protocol):
    """Which (notification, channel) pairs were sent. `claim` is atomic: one caller wins."""

    def claim(self, key: str) -> bool: ...
    def confirm(self, key: str) -> None: ...
    def release(self, key: str) -> None: ...


class MemoryLedger:
    """For one process (the daemon). A store column will make it survive restarts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken: set[str] = set()

    def claim(self, key: str) -> bool:
        with self._lock:
            if key in self._taken:
                return False
            self._taken.add(key)
            return True

    def confirm(self, key: str) -> None:
        with self._lock:
            self._taken.add(key)

    def release(self, key: str) -> None:
        with self._lock:
            self._taken.discard(key)


# -- one scan ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str
    state: Literal["sent", "already sent", "failed"]
    attempts: int = 0
    error: str | None = None


@dataclass(frozen=True)
class NotifyOutcome:
    key: str
    new_findings: int
    deliveries: tuple[Delivery, ...] = field(default=())


async def notify_scan(
    store: FindingSource,
    scan_id: int,
    senders: Sequence[Sender],
    ledger: Ledger,
    *,
    min_severity: Severity = Severity.HIGH,
    top_n: int = 10,
    titles: Mapping[str, str] | None = None,
) -> NotifyOutcome:
    """Send the scan's summary once through every sender. A failed channel is released in the
    ledger, so a later call may try it again; a sent one is never sent twice."""
    scan = await asyncio.to_thread(store.scan, scan_id)
    if scan is None:
        raise NotifyError(f"no scan with id {scan_id}")
    if scan.status is ScanStatus.RUNNING:
        raise NotifyError(f"scan {scan.uid} is still running")
    if titles is None:
        from checks import by_id

        titles = {cid: c.title for cid, c in by_id().items()}
    new = await asyncio.to_thread(select_new, store, scan, min_severity)
    n = build_notification(scan, new, min_severity=min_severity, top_n=top_n, titles=titles)
    if n is None:
        log.info("notification_skipped", scan=scan.uid, reason="no new findings")
        return NotifyOutcome(idempotency_key(scan), 0)

    async def deliver(sender: Sender) -> Delivery:
        slot = f"{n.key}:{sender.channel}"
        if not ledger.claim(slot):
            return Delivery(sender.channel, "already sent")
        try:
            attempts = await sender.send(n)
        except SendFailed as exc:
            ledger.release(slot)
            log.error("notification_failed", channel=sender.channel, scan=scan.uid,
                      error=str(exc))
            return Delivery(sender.channel, "failed", error=str(exc))
        ledger.confirm(slot)
        log.info("notification_sent", channel=sender.channel, scan=scan.uid,
                 findings=len(new), attempts=attempts)
        return Delivery(sender.channel, "sent", attempts)

    deliveries = await asyncio.gather(*(deliver(s) for s in senders))
    return NotifyOutcome(n.key, len(new), tuple(deliveries))

