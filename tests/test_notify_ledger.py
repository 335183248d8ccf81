"""Durable notifications: the delivery ledger lives in the store, so a summary that failed is
carried by the channel's next one (once), each channel keeps its own baseline, a claim is
atomic across processes, and a sender that died mid-send is taken over after its lease."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agent.domain import Status, utcnow
from agent.notify import WebhookSender, channel_id, notify_scan
from agent.store import Store
from agent.store.rows import DeliveryState
from tests.test_notify import REGION, TITLES, res, scan


class Hook:
    """Webhook endpoints on one local server; a path in `down` answers 500."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                hook.requests.append((self.path, dict(self.headers), body))
                self.send_response(500 if self.path in hook.down else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return self.base + "/hook"

    @property
    def bodies(self) -> list[Any]:
        return [body for _p, _h, body in self.requests]

    def sender(self, path: str) -> WebhookSender:
        async def no_sleep(_: float) -> None:
            return None

        return WebhookSender(self.base + path, retries=1, sleep=no_sleep)

    def to(self, path: str) -> list[Any]:
        return [body for p, _h, body in self.requests if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


def _notify(store: Store, sid: int, senders: Sequence[WebhookSender]) -> Any:
    return asyncio.run(notify_scan(store, sid, senders, titles=TITLES))


def _names(body: Any) -> list[str]:
    return sorted(line.split("/")[-1].split()[0] for line in body["text"].splitlines()
                  if "resource: " in line)


def test_ledger_failed_summary_is_carried_by_the_next_one_once(store: Store, hook: Hook) -> None:
    """The webhook is down for one scan's summary; the next scan, though it has nothing new
    against the previous scan, delivers those findings (naming the scan they came from); the
    one after carries nothing again."""
    hook.down.add("/a")
    s1 = scan(store, [res("c_high", "x", Status.FAIL), res("c_crit", "y", Status.FAIL)])
    failed = _notify(store, s1, [hook.sender("/a")])
    assert [d.state for d in failed.deliveries] == ["failed"]
    hook.down.clear()
    s2 = scan(store, [res("c_high", "x", Status.FAIL), res("c_crit", "y", Status.FAIL)])
    carried = _notify(store, s2, [hook.sender("/a")])
    assert [(d.state, d.findings) for d in carried.deliveries] == [("sent", 2)]
    s3 = scan(store, [res("c_high", "x", Status.FAIL), res("c_crit", "y", Status.FAIL),
                      res("c_high", "z", Status.FAIL)])
    later = _notify(store, s3, [hook.sender("/a")])
    assert [(d.state, d.findings) for d in later.deliveries] == [("sent", 1)]
    bodies = hook.to("/a")
    assert [_names(b) for b in bodies] == [["x", "y"], ["x", "y"], ["x", "y"], ["z"]]
    row1, row2 = store.scan(s1), store.scan(s2)
    assert row1 is not None and row2 is not None
    assert row1.uid[:8] in bodies[2]["text"] and "not delivered here" in bodies[2]["text"]
    keys = [h["Idempotency-Key"] for p, h, _b in hook.requests]
    assert keys[-2] == f"mllens-scan-{row2.uid}"
    states = [r["state"] for r in store.deliveries.rows()]
    assert states == ["failed", "sent", "sent"]
    # The failed scan is never sent on its own any more: its findings went out with s2.
    again = _notify(store, s1, [hook.sender("/a")])
    assert [d.state for d in again.deliveries] == ["superseded"] and len(hook.requests) == 4


def test_ledger_each_channel_has_its_own_baseline(store: Store, hook: Hook) -> None:
    """One channel delivered a scan and another failed it: the next scan sends nothing to the
    first and the missed findings to the second."""
    s1 = scan(store, [res("c_high", "x", Status.FAIL)])
    hook.down.add("/b")
    first = _notify(store, s1, [hook.sender("/a"), hook.sender("/b")])
    assert [d.state for d in first.deliveries] == ["sent", "failed"]
    hook.down.clear()
    s2 = scan(store, [res("c_high", "x", Status.FAIL)])
    second = _notify(store, s2, [hook.sender("/a"), hook.sender("/b")])
    assert [(d.state, d.findings) for d in second.deliveries] == [("nothing new", 0),
                                                                  ("sent", 1)]
    assert len(hook.to("/a")) == 1 and [_names(b) for b in hook.to("/b")] == [["x"]] * 3
    assert channel_id(hook.sender("/a")) != channel_id(hook.sender("/b"))
    assert "127.0.0.1" not in channel_id(hook.sender("/a"))  # a digest, not the URL


def test_ledger_baseline_is_the_last_delivered_finished_scan(store: Store, hook: Hook) -> None:
    """A scan interrupted between two finished ones is never the baseline: a finding it wrote
    is new in the next finished scan, and is sent."""
    s1 = scan(store, [res("c_high", "x", Status.FAIL)])
    _notify(store, s1, [hook.sender("/a")])
    killed = store.start_scan({"accounts": [res("c_high", "x", Status.FAIL).account_id]})
    store.write_account(killed, res("c_high", "x", Status.FAIL).account_id,
                        [res("c_high", "x", Status.FAIL), res("c_high", "w", Status.FAIL)],
                        [], [], [(REGION, "endpoints", "complete", "")], set())
    store.mark_interrupted(killed)
    s3 = scan(store, [res("c_high", "x", Status.FAIL), res("c_high", "w", Status.FAIL)])
    out = _notify(store, s3, [hook.sender("/a")])
    assert [(d.state, d.findings) for d in out.deliveries] == [("sent", 1)]
    assert [_names(b) for b in hook.to("/a")] == [["x"], ["w"]]


def test_ledger_claim_is_atomic_across_stores(db_url: str, hook: Hook) -> None:
    """Two processes (two Store objects) notifying the same scan at once send it once."""
    with Store.open(db_url) as one, Store.open(db_url) as two:
        sid = scan(one, [res("c_high", "x", Status.FAIL)])

        async def both() -> list[Any]:
            return list(await asyncio.gather(
                notify_scan(one, sid, [hook.sender("/a")], titles=TITLES),
                notify_scan(two, sid, [hook.sender("/a")], titles=TITLES)))

        outs = asyncio.run(both())
    states = sorted(d.state for o in outs for d in o.deliveries)
    assert states in (["already sent", "sent"], ["in progress", "sent"]), states
    assert len(hook.to("/a")) == 1


def test_ledger_dead_senders_claim_is_taken_over_after_its_lease(
    open_store: Any, hook: Hook
) -> None:
    """A claim that was never settled (its process died while sending) blocks others while its
    lease runs, then is taken over: delivered at least once, with the same Idempotency-Key."""
    now = [utcnow()]

    def clock() -> datetime:
        return now[0]

    with open_store(clock) as store:
        sid = scan(store, [res("c_high", "x", Status.FAIL)])
        sender = hook.sender("/a")
        row = store.scan(sid)
        assert row is not None
        assert store.deliveries.claim(sid, channel_id(sender), f"mllens-scan-{row.uid}") \
            == "claimed"
        busy = _notify(store, sid, [sender])
        now[0] += timedelta(minutes=16)
        taken = _notify(store, sid, [sender])
        done = _notify(store, sid, [sender])
    assert [d.state for d in busy.deliveries] == ["in progress"]
    assert [d.state for d in taken.deliveries] == ["sent"]
    assert [d.state for d in done.deliveries] == ["already sent"]
    assert [h["Idempotency-Key"] for _p, h, _b in hook.requests] == [f"mllens-scan-{row.uid}"]
    assert [r["state"] for r in store.deliveries.rows()] == [DeliveryState.SENT.value]


def test_after_scan_uses_the_store_ledger(store: Store, hook: Hook) -> None:
    """`after_scan` (what `mllens scan` and the agent run after a scan) delivers through the
    store's ledger: a failed summary is reported as carried by the next, which carries it."""
    from collections import Counter

    from agent.job import AfterScan, after_scan
    from agent.scan import ScanOutcome

    def outcome(sid: int) -> ScanOutcome:
        now = utcnow()
        return ScanOutcome("u", sid, "complete", now, now, [], 0, Counter())

    after = AfterScan(senders=(hook.sender("/a"),))
    hook.down.add("/a")
    s1 = scan(store, [res("c_high", "x", Status.FAIL)])
    first = asyncio.run(after_scan(store, outcome(s1), after, TITLES))
    assert first.problems and "go out with the channel's next summary" in first.problems[0]
    hook.down.clear()
    s2 = scan(store, [res("c_high", "x", Status.FAIL)])
    second = asyncio.run(after_scan(store, outcome(s2), after, TITLES))
    assert second.problems == () and second.notified is not None
    assert [(d.state, d.findings) for d in second.notified.deliveries] == [("sent", 1)]
