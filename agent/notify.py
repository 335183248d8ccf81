"""Notifications: one summary per scan of the findings that are new in it.

"New" means open (FAIL) after the scan and not open before it: first seen in this scan,
reopened after a resolution, or failing after having passed or been unknown. Only findings of
the accounts the scan wrote are considered, so a concurrent scan of other accounts is never
reported here. The message is built by a pure function; the senders (SNS, a Slack-compatible
webhook) are injected; a ledger makes a re-run for the same scan send nothing again.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import structlog

from agent.domain import Severity
from agent.store.rows import FindingRow, FindingStatus, ScanRow, ScanStatus

log = structlog.get_logger(__name__)

SCHEMA = "mllens.notification/v1"
Change = Literal["new", "reopened", "now failing"]
_CHANGE_ORDER = {"new": 0, "reopened": 1, "now failing": 2}


class NotifyError(Exception):
    """The scan cannot be notified about (unknown, or still running)."""


class SendFailed(Exception):
    """A channel did not accept the message after its retries. The text holds no secret."""


# -- which findings are new --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewFinding:
    row: FindingRow
    change: Change


class FindingSource(Protocol):
    """The part of `agent.store.Store` the selection reads."""

    def scan(self, uid_or_id: int | str) -> ScanRow | None: ...
    def latest_scans(self, n: int = 10) -> list[ScanRow]: ...
    def coverage(self, scan_id: int) -> Sequence[Any]: ...
    def findings(self, scan_id: int | None = None, *, status: Any = None) -> list[FindingRow]: ...


def previous_scan_id(store: FindingSource, scan_id: int) -> int | None:
    n = 16
    while True:
        scans = store.latest_scans(n)
        earlier = [s.id for s in scans if s.id < scan_id]
        if earlier or len(scans) < n:
            return max(earlier, default=None)
        n *= 4


def select_new(store: FindingSource, scan: ScanRow, min_severity: Severity) -> list[NewFinding]:
    """The findings open after `scan` that were not open before it, at or above a severity."""
    # The accounts the scan wrote: their coverage rows, and the scope it started with.
    accounts = {c.account_id for c in store.coverage(scan.id)}
    accounts.update(str(a) for a in scan.scope.get("accounts") or ())
    prior = previous_scan_id(store, scan.id)
    before = (
        {f.key for f in store.findings(prior, status=FindingStatus.FAIL)}
        if prior is not None else set()
    )
    out = []
    for f in store.findings(scan.id, status=FindingStatus.FAIL):
        if f.account_id in accounts and f.key not in before \
                and f.severity.rank >= min_severity.rank:
            out.append(NewFinding(f, _change(f, scan)))
    return out


def _change(f: FindingRow, scan: ScanRow) -> Change:
    if f.first_seen_scan_id == scan.id:
        return "new"
    # Only a finding that failed before and was resolved carries `reopened_at`; one that is
    # new in this scan and carries it was therefore reopened by this scan.
    if f.reopened_at is not None:
        return "reopened"
    return "now failing"


# -- the message -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    key: str  # idempotency key: one per scan
    subject: str  # SNS subject: ASCII, no line breaks, at most 100 characters
    text: str  # plain text, no links
    data: Mapping[str, Any]  # the same, structured (`SCHEMA`)
    max_severity: Severity

    def slack(self) -> dict[str, Any]:
        """A Slack-compatible webhook body: plain-text blocks, so nothing in a finding's reason
        can format, link or mention anyone."""
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": _plain(self.subject[:150])},
            {"type": "section", "text": _plain(self.data["headline"])},
            {"type": "section", "fields": [
                _plain("By severity\n" + _counts(self.data["by_severity"])),
                _plain("By pillar\n" + _counts(self.data["by_pillar"])),
            ]},
        ]
        for i, f in enumerate(self.data["top"], 1):
            blocks.append({"type": "section", "text": _plain(_finding_text(i, f)[:3000])})
        if self.data["not_listed"]:
            blocks.append({"type": "context", "elements": [
                _plain(f"...and {self.data['not_listed']} more; `mllens findings` lists them.")
            ]})
        return {"text": _slack_escape(self.text), "blocks": blocks}

    def sns_message(self) -> str:
        """Per-protocol bodies: text for people (email, SMS), JSON for machines."""
        body = json.dumps(self.data, sort_keys=True)
        return json.dumps({"default": self.text, "email": self.text, "sqs": body,
                           "lambda": body, "http": body, "https": body, "firehose": body})


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": False}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def _unlink(text: str) -> str:
    # Reasons are written by checks; keep the message link-free whatever they contain.
    return re.sub(r"\b([a-z][a-z0-9+.-]*)://", r"\1[:]//", text, flags=re.I)


def _finding_text(i: int, f: Mapping[str, Any]) -> str:
    where = f"{f['account_id']} {f['region']}"
    sub = f" / {f['sub_resource']}" if f["sub_resource"] else ""
    return (f"{i}. [{f['severity']}] {f['check_id']} ({f['change']}): {f['title']}\n"
            f"   resource: {f['resource_arn']}{sub} ({where})\n"
            f"   reason: {f['reason']}")


def build_notification(
    scan: ScanRow,
    new: Sequence[NewFinding],
    *,
    min_severity: Severity,
    top_n: int,
    titles: Mapping[str, str],
) -> Notification | None:
    """The summary of one scan's new findings, or None when there is none."""
    if not new:
        return None
    ranked = sorted(new, key=lambda n: (-n.row.severity.rank, _CHANGE_ORDER[n.change],
                                        n.row.check_id, n.row.account_id, n.row.resource_arn,
                                        n.row.sub_resource))
    by_severity = Counter(n.row.severity.value for n in ranked)
    by_pillar = Counter(n.row.pillar.value for n in ranked)
    top = [
        {
            "finding_id": n.row.key,
            "check_id": n.row.check_id,
            "title": titles.get(n.row.check_id, n.row.check_id),
            "severity": n.row.severity.value,
            "pillar": n.row.pillar.value,
            "change": n.change,
            "account_id": n.row.account_id,
            "region": n.row.region,
            "resource_arn": n.row.resource_arn,
            "sub_resource": n.row.sub_resource,
            "reason": _unlink(n.row.reason)[:500],
        }
        for n in ranked[:top_n]
    ]
    count = len(ranked)
    worst = ranked[0].row.severity
    severities = ", ".join(f"{v} {k}" for k, v in by_severity.items())
    noun = "finding" if count == 1 else "findings"
    subject = f"mllens: {count} new {noun} ({severities}) in scan {scan.uid[:8]}"
    finished = f"{scan.finished_at:%Y-%m-%d %H:%M} UTC" if scan.finished_at else "not finished"
    headline = (f"Scan {scan.uid} ({scan.status.value}, finished {finished}) has {count} new "
                f"{noun} at {min_severity.value} severity or above.")
    lines = [headline, f"By severity: {_counts(by_severity)}", f"By pillar: {_counts(by_pillar)}",
             ""]
    lines += [_finding_text(i, f) for i, f in enumerate(top, 1)]
    if count > len(top):
        lines.append(f"...and {count - len(top)} more; `mllens findings` lists them.")
    data = {
        "schema": SCHEMA,
        "idempotency_key": idempotency_key(scan),
        "headline": headline,
        "scan": {"uid": scan.uid, "id": scan.id, "status": scan.status.value,
                 "started_at": scan.started_at.isoformat(),
                 "finished_at": scan.finished_at.isoformat() if scan.finished_at else None},
        "min_severity": min_severity.value,
        "new_findings": count,
        "by_severity": dict(by_severity),
        "by_pillar": dict(by_pillar),
        "top": top,
        "not_listed": count - len(top),
    }
    return Notification(idempotency_key(scan), subject[:100], "\n".join(lines), data, worst)


def idempotency_key(scan: ScanRow) -> str:
    return f"mllens-scan-{scan.uid}"


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


# -- senders -----------------------------------------------------------------------------------


class Sender(Protocol):
    channel: str

    async def send(self, n: Notification) -> int:
        """Deliver; the number of attempts it took. Raises SendFailed."""
        ...


Sleep = Callable[[float], Awaitable[None]]


@dataclass
class SnsSender:
    """Publish through aioboto3, the scan's own async AWS stack; botocore's standard retry
    mode retries throttling, 5xx answers and connection errors."""

    topic_arn: str
    session_factory: Callable[[], Any]
    retries: int = 3
    timeout_s: float = 10.0
    endpoint_url: str | None = None
    channel: str = "sns"

    async def send(self, n: Notification) -> int:
        from aiobotocore.config import AioConfig
        from botocore.exceptions import BotoCoreError, ClientError

        region = self.topic_arn.split(":")[3]
        config = AioConfig(retries={"mode": "standard", "max_attempts": self.retries + 1},
                           connect_timeout=self.timeout_s, read_timeout=self.timeout_s,
                           user_agent_extra="mllens")
        params: dict[str, Any] = {
            "TopicArn": self.topic_arn,
            "Subject": n.subject,
            "Message": n.sns_message(),
            "MessageStructure": "json",
            "MessageAttributes": {
                "mllens_scan": {"DataType": "String", "StringValue": n.data["scan"]["uid"]},
                "mllens_max_severity": {"DataType": "String",
                                        "StringValue": n.max_severity.value},
            },
        }
        if self.topic_arn.endswith(".fifo"):
            params.update(MessageGroupId="mllens", MessageDeduplicationId=n.key[:128])
        try:
            async with self.session_factory().client(
                "sns", region_name=region, endpoint_url=self.endpoint_url, config=config
            ) as sns:
                resp = await sns.publish(**params)
        except ClientError as exc:
            raise SendFailed(f"sns: {exc.response.get('Error', {}).get('Code', 'error')}") \
                from exc
        except BotoCoreError as exc:
            raise SendFailed(f"sns: {type(exc).__name__}") from exc
        return 1 + int(resp.get("ResponseMetadata", {}).get("RetryAttempts") or 0)


@dataclass
class WebhookSender:
    """POST the Slack-compatible body; retry 5xx, 429 and timeouts with capped, jittered
    exponential backoff. The URL is a secret (Slack's path is the credential): only its host
    is ever logged."""

    url: str
    retries: int = 3
    timeout_s: float = 10.0
    backoff_s: float = 1.0
    sleep: Sleep = asyncio.sleep
    channel: str = "webhook"
    max_backoff_s: float = 30.0

    @property
    def host(self) -> str:
        return re.sub(r"^[a-z]+://([^/@]*@)?([^/:?#]+).*$", r"\2", self.url, flags=re.I)

    async def send(self, n: Notification) -> int:
        import aiohttp

        body = json.dumps(n.slack())
        headers = {"Content-Type": "application/json", "Idempotency-Key": n.key,
                   "User-Agent": "mllens"}
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        reason = ""
        async with aiohttp.ClientSession(timeout=timeout, trust_env=True) as http:
            for attempt in range(1, self.retries + 2):
                wait: float | None = None
                try:
                    async with http.post(self.url, data=body, headers=headers) as resp:
                        await resp.read()
                        if resp.status < 300:
                            return attempt
                        reason = f"HTTP {resp.status}"
                        if resp.status != 429 and resp.status < 500:
                            raise SendFailed(f"webhook {self.host}: {reason} (not retried)")
                        wait = _retry_after(resp.headers.get("Retry-After"))
                except (aiohttp.ClientError, TimeoutError) as exc:
                    reason = type(exc).__name__
                if attempt > self.retries:
                    break
                delay = wait if wait is not None else random.uniform(
                    0, min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))
                log.warning("notification_retry", channel=self.channel, host=self.host,
                            attempt=attempt, reason=reason, delay_s=round(delay, 2))
                await self.sleep(min(delay, self.max_backoff_s))
        raise SendFailed(f"webhook {self.host}: {reason} after {self.retries + 1} attempts")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def senders_from_settings(
    settings: Any,
    session_factory: Callable[[], Any],
    endpoint_url: str | None = None,
) -> list[Sender]:
    """The senders `agent.config.NotificationsSettings` asks for."""
    out: list[Sender] = []
    if settings.sns_topic_arn:
        out.append(SnsSender(settings.sns_topic_arn, session_factory, settings.retries,
                             settings.timeout_s, endpoint_url))
    if settings.webhook_url is not None:
        out.append(WebhookSender(settings.webhook_url.get_secret_value(), settings.retries,
                                 settings.timeout_s))
    return out


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
