"""Notifications: which findings are new, the summary message, SNS and webhook delivery with
retries, and exactly one message per scan."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aioboto3
import pytest
import structlog

from agent.domain import Pillar, Result, Severity, Status
from agent.emulator import Emulator
from agent.mutes import MuteRule, MuteSet
from agent.notify import (
    NewFinding,
    NotifyError,
    SendFailed,
    SnsSender,
    WebhookSender,
    build_notification,
    notify_scan,
    select_new,
    senders_from_settings,
)
from agent.store import FindingRow, FindingStatus, Store

ACCOUNT = "111122223333"
OTHER = "444455556666"
REGION = "us-east-1"
T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
TITLES = {"c_high": "High check", "c_crit": "Critical check", "c_low": "Low check"}
SEVERITY = {"c_high": Severity.HIGH, "c_crit": Severity.CRITICAL, "c_low": Severity.LOW}


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """CliRunner runs the CLI callback, which binds structlog to a stream CliRunner closes
    afterwards; later in-process logging would write to it. Start and end with defaults."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


def res(check: str, name: str, status: Status, *, account: str = ACCOUNT,
        reason: str = "") -> Result:
    return Result(
        check_id=check,
        status=status,
        resource_arn=f"arn:aws:sagemaker:{REGION}:{account}:endpoint/{name}",
        reason=reason or f"{name} is {status.value}",
        account_id=account,
        region=REGION,
        severity=SEVERITY[check],
        pillar=Pillar.SECURITY if check == "c_crit" else Pillar.RELIABILITY,
        resource_kind="endpoints",
        observed_at=T0,
    )


def scan(store: Store, results: Sequence[Result], account: str = ACCOUNT,
         mutes: MuteSet | None = None) -> int:
    """One finished scan of one account, every check's scope complete, like a real scan."""
    sid = store.start_scan({"accounts": [account]})
    scopes = {(REGION, c) for c in SEVERITY}
    store.write_account(sid, account, results, [], [], [(REGION, "endpoints", "complete", "")],
                        scopes, mutes=mutes)
    store.finish_scan(sid, "complete", 0, {})
    return sid


def new_in(store: Store, sid: int, floor: Severity = Severity.HIGH) -> dict[str, str]:
    row = store.scan(sid)
    assert row is not None
    return {n.row.resource_arn.rsplit("/", 1)[1]: n.change for n in select_new(store, row, floor)}


# -- selection, on both engines ----------------------------------------------------------------


def test_select_new_first_seen_reopened_and_now_failing(store: Store) -> None:
    """New means open now and not open before: first seen, reopened, or failing after PASS or
    UNKNOWN; still-open, resolved and low-severity findings are left out."""
    s1 = scan(store, [res("c_high", "open", Status.FAIL), res("c_high", "fixed", Status.FAIL),
                      res("c_high", "passed", Status.PASS), res("c_high", "unk", Status.UNKNOWN),
                      res("c_low", "low", Status.PASS)])
    assert new_in(store, s1) == {"open": "new", "fixed": "new"}
    s2 = scan(store, [res("c_high", "open", Status.FAIL), res("c_high", "fixed", Status.PASS),
                      res("c_high", "passed", Status.FAIL), res("c_high", "unk", Status.FAIL),
                      res("c_crit", "fresh", Status.FAIL), res("c_low", "low", Status.FAIL)])
    assert new_in(store, s2) == {"passed": "now failing", "unk": "now failing", "fresh": "new"}
    assert "low" in new_in(store, s2, Severity.LOW)
    s3 = scan(store, [res("c_high", "open", Status.FAIL), res("c_high", "fixed", Status.FAIL),
                      res("c_high", "passed", Status.FAIL), res("c_high", "unk", Status.FAIL),
                      res("c_crit", "fresh", Status.FAIL)])
    assert new_in(store, s3) == {"fixed": "reopened"}
    # An earlier scan still answers the same, after later scans were written.
    assert new_in(store, s2) == {"passed": "now failing", "unk": "now failing", "fresh": "new"}


def test_select_new_leaves_muted_out_and_says_when_a_mute_ends(store: Store) -> None:
    """A new failure a mute accepts is not news; while muted it stays out; once its mute is
    gone it is open again and reported as no longer muted."""
    accept = MuteSet((MuteRule("accepted risk", resource="*/accepted"),), "m.yaml")
    results = [res("c_high", "accepted", Status.FAIL), res("c_high", "plain", Status.FAIL)]
    s1 = scan(store, results, mutes=accept)
    assert new_in(store, s1) == {"plain": "new"}
    s2 = scan(store, results)  # no mute file: mutes stay as they were
    assert new_in(store, s2) == {}
    s3 = scan(store, results, mutes=MuteSet((), "m.yaml"))  # an empty file clears them
    assert new_in(store, s3) == {"accepted": "no longer muted"}


def test_select_new_ignores_accounts_the_scan_did_not_write(store: Store) -> None:
    """A finding opened by a scan of another account is never reported as new in this one."""
    mine = scan(store, [res("c_high", "a", Status.FAIL)])
    scan(store, [res("c_high", "b", Status.FAIL, account=OTHER)], account=OTHER)
    assert new_in(store, mine) == {"a": "new"}


# -- the message (pure) ------------------------------------------------------------------------


def _row(check: str, name: str, *, reason: str = "bad", account: str = ACCOUNT) -> FindingRow:
    r = res(check, name, Status.FAIL, reason=reason, account=account)
    return FindingRow(
        id=1, key=r.key, check_id=check, account_id=account, region=REGION,
        resource_arn=r.resource_arn, sub_resource="", resource_kind="endpoints",
        status=FindingStatus.FAIL, severity=r.severity, pillar=r.pillar, reason=reason, evidence={},
        observed_at=T0, first_seen_at=T0, first_seen_scan_id=7, last_seen_at=T0,
        last_seen_scan_id=7, resolved_at=None, resolved_scan_id=None, reopened_at=None,
        unknown_since_at=None, unknown_since_scan_id=None, unknown_reason=None,
    )


def _scan_row() -> Any:
    from agent.store import ScanRow, ScanStatus

    return ScanRow(id=7, uid="0123456789abcdef", started_at=T0, finished_at=T0,
                   status=ScanStatus.COMPLETE, scope={}, api_calls=0, summary={}, error=None,
                   tool_version="0")


def test_build_notification_summarises_by_severity_and_pillar() -> None:
    """Counts by severity and pillar, the worst first, top N listed and the rest counted."""
    new = [NewFinding(_row("c_high", f"h{i}"), "new") for i in range(3)]
    new.append(NewFinding(_row("c_crit", "boom"), "reopened"))
    n = build_notification(_scan_row(), new, min_severity=Severity.HIGH, top_n=2, titles=TITLES)
    assert n is not None
    assert n.data["by_severity"] == {"critical": 1, "high": 3}
    assert n.data["by_pillar"] == {"security": 1, "reliability": 3}
    assert [f["check_id"] for f in n.data["top"]] == ["c_crit", "c_high"]
    assert n.data["top"][0]["change"] == "reopened" and n.data["not_listed"] == 2
    assert n.max_severity is Severity.CRITICAL
    assert n.subject == "mllens: 4 new findings (1 critical, 3 high) in scan 01234567"
    assert "Critical check" in n.text and "...and 2 more" in n.text
    assert n.key == "mllens-scan-0123456789abcdef"


def test_build_notification_nothing_new_is_none() -> None:
    """No new finding: no message at all."""
    assert build_notification(_scan_row(), [], min_severity=Severity.HIGH, top_n=5,
                              titles=TITLES) is None


def test_build_notification_is_link_free_and_cannot_mention() -> None:
    """URLs in a reason are defused; Slack gets plain-text blocks and an escaped text."""
    row = _row("c_high", "x", reason="see https://evil.example/x <!channel> & more")
    n = build_notification(_scan_row(), [NewFinding(row, "new")], min_severity=Severity.HIGH,
                           top_n=5, titles=TITLES)
    assert n is not None
    assert "://" not in n.text and "://" not in json.dumps(n.data)
    slack = n.slack()
    assert "<!channel>" not in slack["text"] and "&lt;!channel&gt;" in slack["text"]
    kinds = {b["text"]["type"] for b in slack["blocks"] if "text" in b}
    assert kinds == {"plain_text"}
    sns = json.loads(n.sns_message())
    assert sns["default"] == n.text and json.loads(sns["sqs"]) == json.loads(
        json.dumps(n.data))


# -- delivery ----------------------------------------------------------------------------------


@dataclass
class Receiver:
    """A local webhook endpoint: answers each POST with the next scripted status."""

    statuses: list[int] = field(default_factory=list)
    delay_first_s: float = 0.0
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            rec.requests.append((self.path, dict(self.headers), json.loads(body)))
            if len(rec.requests) == 1 and rec.delay_first_s:
                time.sleep(rec.delay_first_s)
            status = rec.statuses.pop(0) if rec.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/services/T0/B0/s3cr3tT0ken"
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        yield e


@pytest.fixture
def topic(emu: Emulator) -> Iterator[tuple[str, str]]:
    """An SNS topic with an SQS queue subscribed: (topic ARN, queue URL)."""
    emu.reset()
    sns, sqs = emu.client("sns", REGION), emu.client("sqs", REGION)
    arn = sns.create_topic(Name="mllens-findings")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    yield arn, queue


def _session() -> Any:
    return aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name=REGION)


def _arrived(emu: Emulator, queue: str) -> list[dict[str, Any]]:
    sqs = emu.client("sqs", REGION)
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        msgs = got.get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])


async def _no_sleep(_: float) -> None:
    return None


def _notify(store: Store, sid: int, senders: Sequence[Any]) -> Any:
    return asyncio.run(notify_scan(store, sid, senders, titles=TITLES))


def test_notify_scan_reaches_sns_and_webhook_exactly_once(
    sqlite_url: str, emu: Emulator, topic: tuple[str, str], receiver: Receiver
) -> None:
    """One message per scan with new findings reaches the SQS-subscribed topic and the webhook;
    re-running the notification (a new Store: another process) sends nothing; a scan with
    nothing new sends nothing."""
    arn, queue = topic
    senders = [SnsSender(arn, _session, endpoint_url=emu.url),
               WebhookSender(receiver.url, sleep=_no_sleep)]
    with Store.open(sqlite_url) as store:
        s1 = scan(store, [res("c_high", "a", Status.FAIL), res("c_crit", "b", Status.FAIL),
                          res("c_low", "c", Status.FAIL)])
        first = _notify(store, s1, senders)
    with Store.open(sqlite_url) as store:
        again = _notify(store, s1, senders)
        s2 = scan(store, [res("c_high", "a", Status.FAIL), res("c_crit", "b", Status.FAIL)])
        quiet = _notify(store, s2, senders)
        s3 = scan(store, [res("c_high", "a", Status.FAIL), res("c_high", "d", Status.FAIL)])
        later = _notify(store, s3, senders)
    assert [d.state for d in first.deliveries] == ["sent", "sent"] and first.new_findings == 2
    assert [d.state for d in again.deliveries] == ["already sent", "already sent"]
    assert quiet.new_findings == 0
    assert [d.state for d in quiet.deliveries] == ["nothing new", "nothing new"]
    assert later.new_findings == 1
    arrived = _arrived(emu, queue)
    assert len(arrived) == 2
    one = json.loads(arrived[0]["Message"])
    assert arrived[0]["Subject"].startswith("mllens: 2 new findings (1 critical, 1 high)")
    assert one["schema"] == "mllens.notification/v1" and one["new_findings"] == 2
    assert [f["check_id"] for f in one["top"]] == ["c_crit", "c_high"]
    assert json.loads(arrived[1]["Message"])["top"][0]["resource_arn"].endswith("/d")
    assert len(receiver.requests) == 2
    path, headers, body = receiver.requests[0]
    assert path == "/services/T0/B0/s3cr3tT0ken"
    assert set(body) == {"text", "blocks"} and "Critical check" in body["text"]
    assert headers["Idempotency-Key"] == first.key


def test_webhook_retries_500_then_delivers(receiver: Receiver) -> None:
    """Two 500 answers are retried with backoff; the third attempt delivers."""
    receiver.statuses = [500, 503]
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)

    n = build_notification(_scan_row(), [NewFinding(_row("c_high", "x"), "new")],
                           min_severity=Severity.HIGH, top_n=5, titles=TITLES)
    assert n is not None
    sender = WebhookSender(receiver.url, retries=3, backoff_s=0.5, sleep=sleep)
    assert asyncio.run(sender.send(n)) == 3
    assert len(receiver.requests) == 3 and len(waits) == 2
    assert 0 <= waits[0] <= 0.5 and 0 <= waits[1] <= 1.0
    assert {r[1]["Idempotency-Key"] for r in receiver.requests} == {n.key}


def test_webhook_gives_up_after_retries_and_channel_can_retry_later(
    sqlite_url: str, receiver: Receiver
) -> None:
    """Retries are bounded; a failed channel is left failed in the ledger, so the next run
    delivers it once."""
    receiver.statuses = [500, 500, 500]
    sender = WebhookSender(receiver.url, retries=2, sleep=_no_sleep)
    with Store.open(sqlite_url) as store, structlog.testing.capture_logs() as logs:
        sid = scan(store, [res("c_high", "a", Status.FAIL)])
        failed = _notify(store, sid, [sender])
        sent = _notify(store, sid, [sender])
        again = _notify(store, sid, [sender])
    assert failed.deliveries[0].state == "failed" and "HTTP 500 after 3 attempts" in str(
        failed.deliveries[0].error)
    assert sent.deliveries[0].state == "sent" and again.deliveries[0].state == "already sent"
    assert len(receiver.requests) == 4
    assert "s3cr3tT0ken" not in repr(logs) and "127.0.0.1" in repr(logs)


def test_webhook_client_error_is_not_retried(receiver: Receiver) -> None:
    """A 404 (a revoked webhook, say) fails at once: retrying cannot help."""
    receiver.statuses = [404]
    n = build_notification(_scan_row(), [NewFinding(_row("c_high", "x"), "new")],
                           min_severity=Severity.HIGH, top_n=5, titles=TITLES)
    assert n is not None
    with pytest.raises(SendFailed, match="HTTP 404") as exc:
        asyncio.run(WebhookSender(receiver.url, sleep=_no_sleep).send(n))
    assert len(receiver.requests) == 1 and "s3cr3t" not in str(exc.value)


def test_webhook_timeout_is_retried(receiver: Receiver) -> None:
    """An attempt that outlives its timeout is retried."""
    receiver.delay_first_s = 0.6
    n = build_notification(_scan_row(), [NewFinding(_row("c_high", "x"), "new")],
                           min_severity=Severity.HIGH, top_n=5, titles=TITLES)
    assert n is not None
    sender = WebhookSender(receiver.url, retries=1, timeout_s=0.2, sleep=_no_sleep)
    assert asyncio.run(sender.send(n)) == 2


def test_sns_unknown_topic_is_send_failed(emu: Emulator) -> None:
    """Publishing to a topic that does not exist fails with the error code, no traceback."""
    n = build_notification(_scan_row(), [NewFinding(_row("c_high", "x"), "new")],
                           min_severity=Severity.HIGH, top_n=5, titles=TITLES)
    assert n is not None
    sender = SnsSender(f"arn:aws:sns:{REGION}:123456789012:absent", _session, retries=0,
                       endpoint_url=emu.url)
    with pytest.raises(SendFailed, match="sns: NotFound"):
        asyncio.run(sender.send(n))


def test_notify_scan_refuses_unknown_and_running_scans(sqlite_url: str) -> None:
    """Only a finished scan has a settled set of new findings."""
    with Store.open(sqlite_url) as store:
        running = store.start_scan({"accounts": [ACCOUNT]})
        with pytest.raises(NotifyError, match="still running"):
            _notify(store, running, [])
        with pytest.raises(NotifyError, match="no scan"):
            _notify(store, running + 1, [])


def test_senders_from_settings_follow_the_config(tmp_path: Any) -> None:
    """Settings with a topic and a webhook give one sender each, with their retry budget."""
    from agent.config import load_settings

    conf = tmp_path / "n.toml"
    conf.write_text('[notifications]\nsns_topic_arn = "arn:aws:sns:eu-west-1:111122223333:t"\n'
                    'webhook_url = "https://hooks.example/x"\nretries = 5\n')
    senders = senders_from_settings(load_settings(conf).notifications, _session)
    assert [s.channel for s in senders] == ["sns", "webhook"]
    assert all(s.retries == 5 for s in senders)  # type: ignore[attr-defined]
