"""The findings history on SQLite and PostgreSQL: lifecycle over scans, change-only growth,
mutes and their expiry, trends, diffs, scan summaries, and reading while a scan writes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from agent.domain import Standing, Status
from agent.mutes import MuteRule, MuteSet
from agent.store import FindingFilter, FindingStatus, Store, StoreError
from agent.store.engine import writer
from agent.store.finding_writes import write_findings
from agent.store.tables import (
    CoverageSetRecord,
    FindingEventRecord,
    ScanAccountRecord,
    ScanRecord,
)
from tests.history_helpers import (
    C1,
    C2,
    D1,
    D2,
    D3,
    REGION,
    A,
    B,
    Clock,
    build_history,
    by_resource,
    finding,
    write_scan,
)

F, P, U = Status.FAIL, Status.PASS, Status.UNKNOWN


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hstore(open_store: Callable[..., Store], clock: Clock) -> Iterator[Store]:
    """A migrated, empty store on each engine, on a clock the test moves."""
    with open_store(clock) as s:
        yield s


# -- lifecycle ---------------------------------------------------------------------------------


def test_history_finding_opens_stays_resolves_reopens(hstore: Store, clock: Clock) -> None:
    """One finding: opened, open across scans, resolved (scan and time), reopened."""
    days = [D1 + timedelta(days=n) for n in range(5)]
    statuses = [F, F, F, P, F]
    sids = [write_scan(hstore, clock, at, {A: [finding(C1, A, "r1", st, at)]})[0]
            for at, st in zip(days, statuses, strict=True)]
    [row] = hstore.findings()
    assert row.is_open and row.first_seen_scan_id == sids[0] and row.first_seen_at == days[0]
    assert (row.last_seen_scan_id, row.last_seen_at) == (sids[4], days[4])
    assert row.reopened_at == days[4] and row.resolved_at is None
    [resolved] = hstore.findings(sids[3])
    assert (resolved.status, resolved.resolved_scan_id, resolved.resolved_at) == (
        FindingStatus.PASS, sids[3], days[3])
    [still_open] = hstore.findings(sids[2])
    assert still_open.is_open and still_open.reopened_at is None
    assert [e.status for e in hstore.finding_events(row.key)] == ["FAIL", "PASS", "FAIL"]


def test_history_failed_scope_does_not_resolve(hstore: Store, clock: Clock) -> None:
    """A finding not reported by a scan whose scope failed stays open, marked missing, with
    its last sighting from the scan before; a complete scope then makes it GONE."""
    s1, _ = write_scan(hstore, clock, D1, {A: [finding(C1, A, "r1", F, D1)]})
    s2, _ = write_scan(hstore, clock, D2, {A: [finding(C1, A, "r1", F, D2)]})
    s3, w3 = write_scan(hstore, clock, D3, {A: []}, complete=False, status="partial")
    [row] = hstore.findings()
    assert row.is_open and row.resolved_at is None and w3[A].missing == 1
    assert (row.last_seen_scan_id, row.last_seen_at) == (s2, D2)
    assert row.missing_since_scan_id == s3
    s4, w4 = write_scan(hstore, clock, D3 + timedelta(days=1), {A: []})
    [gone] = hstore.findings()
    assert (gone.status, gone.resolved_scan_id, w4[A].resolved) == (FindingStatus.GONE, s4, 1)
    assert gone.last_seen_scan_id == s2 and s1 < s2


def test_history_unchanged_rescan_writes_no_finding_rows(hstore: Store, clock: Clock) -> None:
    """Re-scanning an unchanged estate inserts or updates no finding, event or resource row;
    the finding still reads as last seen by the new scan."""
    results = [finding(C1, A, f"r{n}", F if n % 2 else P, D1) for n in range(6)]
    write_scan(hstore, clock, D1, {A: results})
    touched: list[str] = []

    def spy(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.split()
        if words[0] == "UPDATE":
            touched.append(words[1].strip('"'))
        elif words[0] in ("INSERT", "DELETE"):
            touched.append(words[2].strip('"'))

    event.listen(hstore.engine, "before_cursor_execute", spy)
    try:
        again = [finding(C1, A, f"r{n}", F if n % 2 else P, D2) for n in range(6)]
        s2, w2 = write_scan(hstore, clock, D2, {A: again})
    finally:
        event.remove(hstore.engine, "before_cursor_execute", spy)
    tables = set(touched)
    assert not tables & {"findings", "finding_events", "resources", "coverage_sets"}, touched
    assert "scan_accounts" in tables and w2[A].events == 0
    assert {r.last_seen_scan_id for r in hstore.findings()} == {s2}
    assert {r.observed_at for r in hstore.findings()} == {D2}


def test_history_coverage_is_shared_between_scans(hstore: Store, clock: Clock) -> None:
    """Identical coverage in two scans is one stored set; each scan still reads it back."""
    s1, _ = write_scan(hstore, clock, D1, {A: [], B: []})
    s2, _ = write_scan(hstore, clock, D2, {A: [], B: []})
    with Session(hstore.engine) as s:
        assert s.scalar(select(func.count()).select_from(CoverageSetRecord)) == 1
        assert s.scalar(select(func.count()).select_from(ScanAccountRecord)) == 4
    for sid in (s1, s2):
        assert {(c.account_id, c.kind, c.state) for c in hstore.coverage(sid)} == {
            (A, "endpoints", "complete"), (B, "endpoints", "complete")}


def test_history_as_of_keeps_evidence_of_each_change(hstore: Store, clock: Clock) -> None:
    """Events that repeat the evidence do not store it, yet every as-of view and event shows
    the evidence in force then."""
    ev1, ev2 = {"InstanceCount": 1}, {"InstanceCount": 3}
    s1, _ = write_scan(hstore, clock, D1, {A: [finding(C2, A, "r1", F, D1, evidence=ev1)]})
    s2, _ = write_scan(hstore, clock, D2, {A: [finding(C2, A, "r1", P, D2, evidence=ev1)]})
    s3, _ = write_scan(hstore, clock, D3, {A: [finding(C2, A, "r1", F, D3, evidence=ev2)]})
    assert [r.evidence for sid in (s1, s2, s3) for r in hstore.findings(sid)] == [ev1, ev1, ev2]
    assert [e.evidence for e in hstore.finding_events(hstore.findings()[0].key)] == [
        ev1, ev1, ev2]
    with Session(hstore.engine) as s:
        stored = s.scalars(select(FindingEventRecord.evidence).order_by(FindingEventRecord.id))
        assert list(stored) == [ev1, None, ev2]


def test_history_as_of_time_picks_latest_scan_by_then(hstore: Store, clock: Clock) -> None:
    """`at` selects the latest scan started by that time; before the first scan, nothing."""
    sids = build_history(hstore, clock)
    assert hstore.resolve_scan("2026-12-02").id == sids[2]  # a date means its end
    assert hstore.resolve_scan("2026-12-02T12:00:00Z").id == sids[1]
    at_d2 = {k: r.status for k, r in by_resource(hstore.findings(at=D2 + timedelta(hours=1)))
             .items()}
    assert at_d2[(C1, "r1")] == FindingStatus.PASS and at_d2[(C1, "r2")] == FindingStatus.FAIL
    assert hstore.findings(at=D1 - timedelta(days=1)) == []
    with pytest.raises(StoreError, match="no finished scan started at or before"):
        hstore.resolve_scan("2020-01-01")
    with pytest.raises(StoreError, match="no scan 'nope'"):
        hstore.resolve_scan("nope")


# -- mutes -------------------------------------------------------------------------------------


def test_history_muted_finding_stored_muted_and_unmuted_on_expiry(
    hstore: Store, clock: Clock
) -> None:
    """A muted finding is stored and shown as muted; past the rule's expiry it reads unmuted
    without a scan; the next scan keeps the lapsed rule (no rewrite), and a new rule is a
    recorded change."""
    rule = MuteRule("risk accepted", check=C1, owner="sec", expires=D3)
    mutes = MuteSet((rule,), "mutes.yaml")
    s1, w1 = write_scan(hstore, clock, D1, {A: [finding(C1, A, "r1", F, D1),
                                                finding(C2, A, "r1", F, D1)]}, mutes=mutes)
    rows = by_resource(hstore.findings())
    muted, other = rows[(C1, "r1")], rows[(C2, "r1")]
    assert w1[A].muted == 1 and muted.muted and not other.muted
    # Failing and muted: muted, not open (the standing every view counts by).
    assert (muted.standing, other.standing) == (Standing.MUTED, Standing.OPEN)
    assert not muted.is_open and other.is_open
    assert muted.mute is not None and (muted.mute.reason, muted.mute.owner) == (
        "risk accepted", "sec")
    assert [r.check_id for r in hstore.findings(where=FindingFilter(muted=True))] == [C1]

    clock.now = D3 + timedelta(minutes=1)  # past the expiry, no scan in between
    expired = by_resource(hstore.findings())[(C1, "r1")]
    assert not expired.muted and expired.mute is not None and expired.is_open
    assert expired.standing is Standing.OPEN
    assert by_resource(hstore.findings(s1))[(C1, "r1")].muted  # as it was then

    s2, w2 = write_scan(hstore, clock, D3 + timedelta(hours=1),
                        {A: [finding(C1, A, "r1", F, D3), finding(C2, A, "r1", F, D3)]},
                        mutes=mutes)
    again = by_resource(hstore.findings())[(C1, "r1")]
    assert not again.muted and again.mute == muted.mute and w2[A].muted == 0
    assert w2[A].events == 0
    renewed = MuteRule("risk accepted again", check=C1, expires=D3 + timedelta(days=30))
    _, w3 = write_scan(hstore, clock, D3 + timedelta(hours=2),
                       {A: [finding(C1, A, "r1", F, D3), finding(C2, A, "r1", F, D3)]},
                       mutes=MuteSet((renewed,), "mutes.yaml"))
    now = by_resource(hstore.findings())[(C1, "r1")]
    assert now.muted and now.mute is not None and now.mute.reason == "risk accepted again"
    assert (w3[A].muted, w3[A].events) == (1, 1)
    assert len(hstore.finding_events(now.key)) == 2 and s2 > s1


def test_history_scan_without_mute_file_keeps_mutes(hstore: Store, clock: Clock) -> None:
    """A scan given no mute file leaves mutes as they were; an empty mute file clears them."""
    mutes = MuteSet((MuteRule("accepted", check=C1),), "mutes.yaml")
    write_scan(hstore, clock, D1, {A: [finding(C1, A, "r1", F, D1)]}, mutes=mutes)
    _, w2 = write_scan(hstore, clock, D2, {A: [finding(C1, A, "r1", F, D2)]})
    [kept] = hstore.findings()
    assert kept.muted and w2[A].events == 0
    _, w3 = write_scan(hstore, clock, D3, {A: [finding(C1, A, "r1", F, D3)]},
                       mutes=MuteSet((), "empty.yaml"))
    [cleared] = hstore.findings()
    assert not cleared.muted and cleared.mute is None and w3[A].events == 1


def test_history_mute_by_tag_reads_resource_and_evidence_tags(
    hstore: Store, clock: Clock
) -> None:
    """A tag rule matches tags found in the resource's data (as the tags collector records
    them, beside the resource under the same ARN) or in the finding's evidence."""
    from agent.domain import Kind, Resource

    rule = MuteRule("sandbox", tags={"env": "sand*"})
    r1 = finding(C1, A, "r1", F, D1).resource_arn
    tagged = [
        Resource(Kind.TAGS, r1, r1, A, REGION,
                 {"ResourceARN": r1, "Tags": [{"Key": "env", "Value": "sandbox"}]}),
        Resource(Kind.ENDPOINTS, r1, "r1", A, REGION, {"EndpointName": "r1"}),
    ]
    clock.now = D1
    sid = hstore.start_scan({})
    hstore.write_account(
        sid, A,
        [finding(C1, A, "r1", F, D1),
         finding(C1, A, "r2", F, D1, evidence={"tags": {"env": "sandbox-2"}}),
         finding(C1, A, "r3", F, D1, evidence={"tags": {"env": "prod"}})],
        [], tagged, [], set(), mutes=MuteSet((rule,)),
    )
    assert {k[1]: r.muted for k, r in by_resource(hstore.findings()).items()} == {
        "r1": True, "r2": True, "r3": False}


# -- trends, diffs, summaries ------------------------------------------------------------------


def _trend(store: Store, **kw: Any) -> dict[tuple[str, str], tuple[int, int, int, int, float]]:
    return {
        (p.bucket, p.group): (p.open, p.muted, p.new, p.resolved,
                              p.mean_time_to_resolve.total_seconds() / 3600
                              if p.mean_time_to_resolve else -1)
        for p in store.trends(**kw)
    }


def test_history_trends_by_day_match_hand_count(hstore: Store, clock: Clock) -> None:
    """Per day and pillar: open, muted, new, resolved and mean hours to resolve."""
    build_history(hstore, clock)
    clock.now = D3 + timedelta(days=30)  # long after the mute expired: history keeps it
    assert _trend(hstore, by="pillar", per="day") == {
        ("2026-12-01", "security"): (2, 0, 2, 0, -1),
        ("2026-12-01", "reliability"): (1, 0, 1, 0, -1),
        ("2026-12-02", "security"): (3, 0, 2, 1, 24.0),
        ("2026-12-02", "reliability"): (0, 0, 0, 1, 30.0),
        ("2026-12-03", "security"): (1, 1, 0, 1, 24.0),
        ("2026-12-03", "reliability"): (1, 0, 1, 0, -1),
    }
    assert _trend(hstore, by="severity", per="day", since=D3) == {
        ("2026-12-03", "high"): (1, 0, 0, 1, 24.0),
        ("2026-12-03", "critical"): (0, 1, 0, 0, -1),
        ("2026-12-03", "medium"): (1, 0, 1, 0, -1),
    }


def test_history_trends_by_scan_and_filters(hstore: Store, clock: Clock) -> None:
    """Per scan buckets, the last-N window, and an account filter."""
    s1, s2, s3, s4 = build_history(hstore, clock)
    assert _trend(hstore, by="account", per="scan", last=2) == {
        (str(s3), A): (2, 0, 1, 1, 30.0),
        (str(s3), B): (1, 0, 0, 0, -1),
        (str(s4), A): (1, 0, 0, 1, 24.0),
        (str(s4), B): (1, 1, 1, 0, -1),
    }
    only_b = _trend(hstore, by="check", per="scan", where=FindingFilter.of(account_id=B))
    assert only_b[(str(s1), C1)] == (1, 0, 1, 0, -1)
    assert only_b[(str(s4), C2)] == (1, 0, 1, 0, -1)
    assert {g for _, g in only_b} == {C1, C2} and s2 < s3
    assert hstore.trends(by="pillar", since=D3 + timedelta(days=1)) == []


def test_history_diff_between_scans(hstore: Store, clock: Clock) -> None:
    """New, resolved and changed between two scans, either order of arguments."""
    s1, _s2, s3, s4 = build_history(hstore, clock)
    last = hstore.diff(s3, s4)
    got = {(e.change, e.check_id, e.resource_arn.rsplit("/", 1)[-1]) for e in last.entries}
    assert got == {("resolved", C1, "r2"), ("changed", C1, "r3"), ("new", C2, "r4")}
    [changed] = last.of("changed")
    assert changed.before is not None and not changed.before.muted
    assert (changed.after.muted, changed.after.unverified, changed.after.status) == (
        True, True, FindingStatus.FAIL)
    whole = hstore.diff(s1, s4)
    got = {(e.change, e.check_id, e.resource_arn.rsplit("/", 1)[-1]) for e in whole.entries}
    assert got == {("resolved", C2, "r1"), ("changed", C1, "r3"), ("new", C2, "r4")}
    back = hstore.diff(s4, s1)
    assert {e.change for e in back.entries if e.check_id == C2} == {"new", "resolved"}
    with pytest.raises(StoreError, match="no scan"):
        hstore.diff(s1, 999)


def test_history_scan_summaries(hstore: Store, clock: Clock) -> None:
    """Each scan lists accounts, coverage, and what it opened and resolved."""
    sids = build_history(hstore, clock)
    rows = hstore.scan_summaries()
    assert [r.scan.id for r in rows] == sids[::-1]
    got = {r.scan.id: (r.accounts, r.new, r.resolved, r.open, r.muted) for r in rows}
    assert got == {
        sids[0]: (2, 3, 0, 3, 0),
        sids[1]: (2, 1, 1, 3, 0),
        sids[2]: (1, 1, 1, 3, 0),
        sids[3]: (2, 1, 1, 2, 1),
    }
    assert rows[0].coverage == {"complete": 2, "partial": 0, "failed": 0, "skipped": 0}
    assert [r.scan.id for r in hstore.scan_summaries(2)] == sids[:1:-1]


def test_history_queries_on_empty_store(hstore: Store) -> None:
    """An empty store answers every query with nothing, not an error."""
    assert hstore.trends() == [] and hstore.scan_summaries() == []
    assert hstore.findings() == [] and hstore.latest_finished() == []


# -- concurrency -------------------------------------------------------------------------------


def test_history_reader_queries_while_a_scan_writes(
    open_store: Callable[..., Store], clock: Clock
) -> None:
    """While one store holds an account's write transaction open, another store (a second
    process) reads findings, trends and scans at once, and sees only committed data."""
    with open_store(clock) as scanner, open_store(clock) as reader:
        write_scan(scanner, clock, D1, {A: [finding(C1, A, "r1", F, D1)]})
        sid = scanner.start_scan({})
        inside, release = threading.Event(), threading.Event()

        def hold_open() -> None:
            with Session(writer(scanner.engine)) as s, s.begin():
                scan = s.get(ScanRecord, sid)
                write_findings(s, scan, A, [finding(C1, A, "r2", F, D2)], [], set(), D2, None,
                               None)
                s.flush()
                inside.set()
                assert release.wait(30), "the reader never finished"

        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(hold_open)
            assert inside.wait(30)
            try:
                seen = {r.resource_arn.rsplit("/", 1)[-1] for r in reader.findings()}
                trend = reader.trends(per="scan")
                listed = reader.scan_summaries()
            finally:
                release.set()
            held.result(timeout=30)
        assert seen == {"r1"} and trend and len(listed) == 2
        assert len(reader.findings()) == 2  # committed now

