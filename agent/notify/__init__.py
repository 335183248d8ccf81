"""Notifications: one summary per finished scan and channel of the findings new in it.

"New" means open (failing, not muted) after the scan and not open after the channel's baseline:
the last scan whose summary was delivered on that channel (`agent.store.deliveries`), so the
findings of a summary that failed go out with the channel's next one, once. They are first
seen, reopened after a resolution, failing after having passed or been unknown, or no longer
muted (the mute expired or its rule was removed). Only findings of the accounts the scan (and
the undelivered scans since the baseline) wrote are considered, so a concurrent scan of other
accounts is never reported here. The message is built by a pure function; the senders (SNS, a
Slack-compatible webhook) are injected; the ledger in the store makes delivery at-least-once
and a re-run for the same scan send nothing again.
"""

from __future__ import annotations

import asyncio
import hashlib
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
from agent.store.deliveries import Baseline, Claim
from agent.store.rows import DeliveryState, ScanStatus

log = structlog.get_logger(__name__)

__all__ = [
    "SCHEMA",
    "Change",
    "Delivery",
    "FindingSource",
    "Ledger",
    "NewFinding",
    "Notification",
    "NotifyError",
    "NotifyOutcome",
    "NotifySource",
    "SendFailed",
    "Sender",
    "SnsSender",
    "WebhookSender",
    "build_notification",
    "channel_id",
    "idempotency_key",
    "notify_scan",
    "previous_scan_id",
    "select_new",
    "senders_from_settings",
]


class NotifyError(Exception):
    """The scan cannot be notified about (unknown, or still running)."""


class Ledger(Protocol):
    """Where each (scan, channel) summary stands: `agent.store.deliveries.Deliveries`."""

    def claim(self, scan_id: int, channel: str, key: str) -> Claim: ...
    def baseline(self, scan_id: int, channel: str) -> Baseline: ...
    def settle(self, scan_id: int, channel: str, state: DeliveryState, *, findings: int = 0,
               attempts: int = 0, error: str | None = None) -> None: ...


class NotifySource(FindingSource, Protocol):
    """The store: findings to select from, and the ledger."""

    @property
    def deliveries(self) -> Ledger: ...


def channel_id(sender: Sender) -> str:
    """The ledger's name for a sender: its kind and a digest of its destination (a webhook URL
    is a secret, so only the digest is stored), so a new topic or webhook is a new channel."""
    digest = hashlib.sha256(sender.destination.encode()).hexdigest()[:16]
    return f"{sender.channel}:{digest}"


# -- one scan ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str
    state: Literal["sent", "nothing new", "already sent", "in progress", "superseded",
                   "failed"]
    attempts: int = 0
    error: str | None = None
    findings: int = 0  # new findings in this channel's summary


@dataclass(frozen=True)
class NotifyOutcome:
    key: str
    new_findings: int  # the most any channel's summary carried
    deliveries: tuple[Delivery, ...] = field(default=())


async def notify_scan(
    store: NotifySource,
    scan_id: int,
    senders: Sequence[Sender],
    *,
    min_severity: Severity = Severity.HIGH,
    top_n: int = 10,
    titles: Mapping[str, str] | None = None,
) -> NotifyOutcome:
    """Send the scan's summary through every sender, at least once and once only per channel
    (`agent.store.deliveries`). A channel that fails is recorded so; its findings go out with
    its next summary. Store failures raise StoreError."""
    scan = await asyncio.to_thread(store.scan, scan_id)
    if scan is None:
        raise NotifyError(f"no scan with id {scan_id}")
    if scan.status is ScanStatus.RUNNING:
        raise NotifyError(f"scan {scan.uid} is still running")
    key = idempotency_key(scan)
    if scan.status not in (ScanStatus.COMPLETE, ScanStatus.PARTIAL):
        # A failed scan read nothing, an interrupted one changed nothing: nothing is new.
        log.info("notification_skipped", scan=scan.uid, reason=f"scan {scan.status.value}")
        return NotifyOutcome(key, 0)
    if titles is None:
        from checks import by_id

        titles = {cid: c.title for cid, c in by_id().items()}
    ledger = store.deliveries

    async def deliver(sender: Sender) -> Delivery:
        channel = channel_id(sender)
        claim = await asyncio.to_thread(ledger.claim, scan.id, channel, key)
        if claim != "claimed":
            log.info("notification_skipped", channel=sender.channel, scan=scan.uid,
                     reason=claim)
            return Delivery(sender.channel, claim)
        count = 0
        try:
            base = await asyncio.to_thread(ledger.baseline, scan.id, channel)
            new = await asyncio.to_thread(select_new, store, scan, min_severity, base)
            carried = [c for c in [await asyncio.to_thread(store.scan, sid)
                                   for sid in base.undelivered] if c is not None]
            n = build_notification(scan, new, min_severity=min_severity, top_n=top_n,
                                   titles=titles, carried=carried)
            if n is None:
                await asyncio.to_thread(ledger.settle, scan.id, channel, DeliveryState.EMPTY)
                log.info("notification_skipped", channel=sender.channel, scan=scan.uid,
                         reason="no new findings")
                return Delivery(sender.channel, "nothing new")
            count = len(new)
            attempts = await sender.send(n)
        except SendFailed as exc:
            await asyncio.to_thread(ledger.settle, scan.id, channel, DeliveryState.FAILED,
                                    findings=count, error=str(exc))
            log.error("notification_failed", channel=sender.channel, scan=scan.uid,
                      error=str(exc), findings=count,
                      next_delivery="carries these findings")
            return Delivery(sender.channel, "failed", error=str(exc), findings=count)
        except BaseException as exc:
            # Cancelled, or the store failed: leave the claim failed (not held until its lease
            # runs out), so the channel's next summary carries these findings.
            try:
                await asyncio.shield(asyncio.to_thread(
                    ledger.settle, scan.id, channel, DeliveryState.FAILED, findings=count,
                    error=f"not delivered: {type(exc).__name__}"))
            except Exception:  # boundary: the claim's lease ends it instead
                log.warning("notification_not_recorded", channel=sender.channel,
                            scan=scan.uid)
            raise
        await asyncio.to_thread(ledger.settle, scan.id, channel, DeliveryState.SENT,
                                findings=count, attempts=attempts)
        log.info("notification_sent", channel=sender.channel, scan=scan.uid,
                 findings=count, attempts=attempts, carried_over=len(carried))
        return Delivery(sender.channel, "sent", attempts, findings=count)

    deliveries = await asyncio.gather(*(deliver(s) for s in senders))
    return NotifyOutcome(key, max((d.findings for d in deliveries), default=0),
                         tuple(deliveries))
