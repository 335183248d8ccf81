"""Finding lifecycle across scans, on SQLite and PostgreSQL, plus the pure state machine."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.domain import Pillar, Result, Severity, Status
from agent.store import GONE_REASON, AccountWrite, FindingRow, FindingStatus, Store
from agent.store import lifecycle as lc

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
REGION = "us-east-1"
CHECK = "sagemaker_endpoint_data_capture_enabled"
ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/ep-1"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def result(
    status: Status,
    *,
    reason: str | None = None,
    severity: Severity = Severity.HIGH,
    at: datetime = T0,
    account: str = ACCOUNT,
    arn: str = ARN,
) -> Result:
    return Result(
        check_id=CHECK,
        status=status,
        resource_arn=arn,
        reason=reason or f"data capture is {status.value.lower()}",
        account_id=account,
        region=REGION,
        severity=severity,
        pillar=Pillar.RELIABILITY,
        resource_kind="endpoints",
        evidence={"EndpointName": arn.rsplit("/", 1)[-1]},
        observed_at=at,
    )


def scan(
    store: Store,
    results: Sequence[Result],
    *,
    complete: bool = True,
    account: str = ACCOUNT,
) -> tuple[int, AccountWrite]:
    """One finished scan of one account; `complete` says whether CHECK's scope was complete."""
    sid = store.start_scan({"accounts": [account]})
    scopes = {(REGION, CHECK)} if complete else set()
    written = store.write_account(sid, account, results, [], [], [], scopes)
    store.finish_scan(sid, "complete", 0, {})
    return sid, written


def only(store: Store, scan_id: int | None = None) -> FindingRow:
    rows = store.findings(scan_id)
    assert len(rows) == 1, rows
    return rows[0]


def test_lifecycle_fail_stays_open_without_new_events(store: Store) -> None:
    """An unchanged FAIL across three scans keeps one finding and one event."""
    s1, w1 = scan(store, [result(Status.FAIL, at=T0)])
    scan(store, [result(Status.FAIL, at=T0 + timedelta(days=1))])
    s3, _ = scan(store, [result(Status.FAIL, at=T0 + timedelta(days=2))])
    row = only(store)
    assert (row.status, row.is_open) == (FindingStatus.FAIL, True)
    assert (row.first_seen_scan_id, row.last_seen_scan_id) == (s1, s3)
    assert row.first_seen_at == T0 and row.last_seen_at == T0 + timedelta(days=2)
    assert w1.opened == 1
    assert [e.scan_id for e in store.finding_events(row.key)] == [s1]


def test_lifecycle_pass_resolves(store: Store) -> None:
    """PASS after FAIL resolves the finding at that scan."""
    scan(store, [result(Status.FAIL)])
    s2, w2 = scan(store, [result(Status.PASS, at=T0 + timedelta(hours=1))])
    row = only(store)
    assert row.status == FindingStatus.PASS and not row.is_open
    assert (row.resolved_scan_id, row.resolved_at) == (s2, T0 + timedelta(hours=1))
    assert w2.resolved == 1
    assert store.findings(status="FAIL") == []
    assert [e.status for e in store.finding_events(row.key)] == ["FAIL", "PASS"]


def test_lifecycle_not_applicable_resolves(store: Store) -> None:
    """NOT_APPLICABLE after FAIL resolves the finding too."""
    scan(store, [result(Status.FAIL)])
    s2, _ = scan(store, [result(Status.NOT_APPLICABLE)])
    assert only(store).resolved_scan_id == s2


def test_lifecycle_gone_in_complete_scope_resolves(store: Store) -> None:
    """A finding no longer reported by a complete scope becomes GONE and resolves."""
    scan(store, [result(Status.FAIL)])
    s2, w2 = scan(store, [], complete=True)
    row = only(store)
    assert row.status == FindingStatus.GONE
    assert row.resolved_scan_id == s2
    assert row.evidence == {"EndpointName": "ep-1"}  # what it looked like when last seen
    assert (w2.gone, w2.resolved) == (1, 1)
    last = store.finding_events(row.key)[-1]
    assert (last.status, last.reason, last.scan_id) == (FindingStatus.GONE, GONE_REASON, s2)


def test_lifecycle_missing_in_incomplete_scope_stays_open(store: Store) -> None:
    """A finding missing from a scan whose scope was incomplete is left open and unchanged."""
    s1, _ = scan(store, [result(Status.FAIL)])
    _, w2 = scan(store, [], complete=False)
    row = only(store)
    assert row.status == FindingStatus.FAIL and row.resolved_at is None
    assert row.last_seen_scan_id == s1
    assert (w2.gone, w2.events) == (0, 0)


def test_lifecycle_unknown_never_resolves(store: Store) -> None:
    """UNKNOWN after FAIL keeps the FAIL open, marks it unverified, and logs one event."""
    s1, _ = scan(store, [result(Status.FAIL, reason="no capture")])
    s2, w2 = scan(store, [result(Status.UNKNOWN, reason="inventory not collected")])
    _, w3 = scan(store, [result(Status.UNKNOWN, reason="inventory not collected")])
    row = only(store)
    assert row.status == FindingStatus.FAIL and row.resolved_at is None
    assert row.reason == "no capture"
    assert (row.unknown_since_scan_id, row.unknown_reason) == (s2, "inventory not collected")
    assert (w2.events, w3.events, w2.resolved) == (1, 0, 0)

    s4, _ = scan(store, [result(Status.FAIL, reason="no capture")])
    row = only(store)
    assert row.unknown_since_at is None and row.last_seen_scan_id == s4
    statuses = [e.status for e in store.finding_events(row.key)]
    assert statuses == ["FAIL", "UNKNOWN", "FAIL"]
    assert only(store, s2).status == FindingStatus.FAIL  # as-of view agrees
    assert only(store, s1).unknown_since_at is None


def test_lifecycle_unknown_first_is_not_open(store: Store) -> None:
    """A finding only ever UNKNOWN carries its latest UNKNOWN and is not open."""
    scan(store, [result(Status.UNKNOWN, reason="first")])
    scan(store, [result(Status.UNKNOWN, reason="second")])
    row = only(store)
    assert (row.status, row.reason, row.is_open) == (FindingStatus.UNKNOWN, "second", False)


def test_lifecycle_fail_after_resolution_reopens(store: Store) -> None:
    """FAIL after PASS reopens: reopened_at set and the resolution cleared."""
    scan(store, [result(Status.FAIL)])
    scan(store, [result(Status.PASS)])
    later = T0 + timedelta(days=3)
    _, w3 = scan(store, [result(Status.FAIL, at=later)])
    row = only(store)
    assert row.is_open and row.resolved_at is None and row.resolved_scan_id is None
    assert row.reopened_at == later
    assert (w3.reopened, w3.opened) == (1, 0)


def test_lifecycle_fail_after_gone_reopens(store: Store) -> None:
    """A deleted resource that comes back failing reopens its finding."""
    scan(store, [result(Status.FAIL)])
    scan(store, [])
    _, w3 = scan(store, [result(Status.FAIL)])
    assert only(store).is_open and w3.reopened == 1


def test_lifecycle_severity_change_records_event(store: Store) -> None:
    """A changed severity is history; the same severity again is not."""
    scan(store, [result(Status.FAIL, severity=Severity.HIGH)])
    _, w2 = scan(store, [result(Status.FAIL, severity=Severity.CRITICAL)])
    _, w3 = scan(store, [result(Status.FAIL, severity=Severity.CRITICAL)])
    assert only(store).severity == Severity.CRITICAL
    assert (w2.events, w3.events) == (1, 0)


def test_lifecycle_complete_scope_spares_other_accounts(store: Store) -> None:
    """A complete scope in one account never touches another account's findings."""
    other_arn = ARN.replace(ACCOUNT, OTHER_ACCOUNT)
    scan(store, [result(Status.FAIL, account=OTHER_ACCOUNT, arn=other_arn)], account=OTHER_ACCOUNT)
    scan(store, [], complete=True, account=ACCOUNT)
    assert only(store).status == FindingStatus.FAIL


def test_lifecycle_duplicate_results_keep_fail(store: Store) -> None:
    """When one finding is reported twice in a scan, FAIL wins over PASS."""
    _, w = scan(store, [result(Status.PASS), result(Status.FAIL)])
    assert only(store).status == FindingStatus.FAIL and w.findings == 1


def test_lifecycle_as_of_earlier_scan(store: Store) -> None:
    """Viewing an earlier scan replays history up to it; later scans do not leak in."""
    s1, _ = scan(store, [result(Status.FAIL)])
    s2, _ = scan(store, [result(Status.PASS), result(Status.FAIL, arn=ARN + "-new")])
    past = store.findings(s1)
    assert [(r.resource_arn, r.status) for r in past] == [(ARN, FindingStatus.FAIL)]
    assert past[0].last_seen_at is None and past[0].resolved_at is None
    assert {r.resource_arn for r in store.findings(s1, status=FindingStatus.FAIL)} == {ARN}
    assert {r.resource_arn for r in store.findings(s2, status="FAIL")} == {ARN + "-new"}


# -- the pure state machine ------------------------------------------------------------------


def _obs(rng: random.Random, scan_id: int) -> lc.Observation:
    status = rng.choice([*FindingStatus])
    severity = rng.choice(["high", "low"])
    reason = rng.choice(["a", "b"])
    return lc.Observation(
        scan_id, T0 + timedelta(hours=scan_id), status, severity, reason, {"s": status.value}
    )


def test_lifecycle_replay_of_events_matches_live_state() -> None:
    """Replaying only the recorded events rebuilds the state the writes produced."""
    rng = random.Random(20261201)
    for _ in range(300):
        first = _obs(rng, 1)
        if first.status == FindingStatus.GONE:
            continue
        live = lc.begin(first)
        events = [first]
        for scan_id in range(2, 12):
            obs = _obs(rng, scan_id)
            if obs.status == FindingStatus.GONE:
                if live.status == FindingStatus.GONE:
                    continue  # the store never marks a GONE finding gone again
                obs = lc.gone(live, scan_id, obs.at)
            if lc.is_change(live, obs):
                events.append(obs)
            live = lc.advance(live, obs)
        replayed = lc.begin(events[0])
        for obs in events[1:]:
            replayed = lc.advance(replayed, obs)
        # Sightings without change are not history, by design.
        ignore: dict[str, Any] = {
            "last_seen_at": None,
            "last_seen_scan_id": None,
            "observed_at": T0,
        }
        assert replace(replayed, **ignore) == replace(live, **ignore)


def test_lifecycle_fold_agrees_with_advance() -> None:
    """The history queries' cheap fold gives the same status, severity, reason, mute and
    unverified flag as the full state machine, over random histories."""
    rng = random.Random(20261204)
    for _ in range(300):
        first = _obs(rng, 1)
        if first.status == FindingStatus.GONE:
            continue
        first = replace(first, mute_id=rng.choice([None, 1, 2]))
        state = lc.begin(first)
        brief = lc.fold(None, first.status.value, first.severity, first.reason, first.mute_id)
        for scan_id in range(2, 12):
            obs = replace(_obs(rng, scan_id), mute_id=rng.choice([None, 1, 2]))
            if obs.status == FindingStatus.GONE:
                if state.status == FindingStatus.GONE:
                    continue
                obs = lc.gone(state, scan_id, obs.at)
            state = lc.advance(state, obs)
            brief = lc.fold(brief, obs.status.value, obs.severity, obs.reason, obs.mute_id)
            assert brief == (state.status.value, state.severity, state.reason, state.mute_id,
                             state.unknown_since_at is not None)


def test_lifecycle_unknown_resource_holds_its_variants_open(store: Store) -> None:
    """A resource judged UNKNOWN as a whole (its describe failed) in a complete scope does not
    resolve its per-variant findings: they stay open, unverified with that reason, and the next
    full answer is no reopening."""
    variants = [replace(result(Status.FAIL), sub_resource=v) for v in ("primary", "shadow")]
    s1, _ = scan(store, variants)
    whole = result(Status.UNKNOWN, reason="resource not fully described: throttled")
    s2, w2 = scan(store, [whole])
    rows = {r.sub_resource: r for r in store.findings()}
    assert {k: (r.status, r.is_open) for k, r in rows.items()} == {
        "primary": (FindingStatus.FAIL, True), "shadow": (FindingStatus.FAIL, True),
        "": (FindingStatus.UNKNOWN, False)}
    assert rows["primary"].unknown_since_scan_id == s2
    assert rows["primary"].unknown_reason == "resource not fully described: throttled"
    assert (w2.gone, w2.resolved) == (0, 0)
    _, w3 = scan(store, variants)
    rows = {r.sub_resource: r for r in store.findings()}
    assert rows["primary"].first_seen_scan_id == s1 and rows["primary"].unknown_since_at is None
    assert (w3.reopened, w3.opened) == (0, 0)


def test_lifecycle_region_unknown_holds_every_finding_of_the_check(store: Store) -> None:
    """A check answered UNKNOWN for the whole region (it crashed) in a scope whose inputs were
    complete resolves none of its findings there."""
    other = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/ep-2"
    scan(store, [result(Status.FAIL), result(Status.FAIL, arn=other)])
    crash = Result(CHECK, Status.UNKNOWN, f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:region",
                   "check error: KeyError: 'x'", ACCOUNT, REGION, Severity.HIGH,
                   Pillar.RELIABILITY, resource_kind="region")
    _, w2 = scan(store, [crash])
    open_rows = [r for r in store.findings() if r.resource_kind == "endpoints"]
    assert [(r.status, r.is_open) for r in open_rows] == [(FindingStatus.FAIL, True)] * 2
    assert all(r.unknown_reason == "check error: KeyError: 'x'" for r in open_rows)
    assert (w2.gone, w2.resolved) == (0, 0)


def test_lifecycle_unknown_elsewhere_does_not_hold_a_deleted_resource(store: Store) -> None:
    """Only the same check and resource hold a finding: another resource's UNKNOWN does not
    keep a deleted one from going GONE."""
    other = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/ep-2"
    scan(store, [result(Status.FAIL), result(Status.FAIL, arn=other)])
    _, w2 = scan(store, [result(Status.UNKNOWN, arn=other)])
    gone = [r for r in store.findings() if r.resource_arn == ARN]
    assert [r.status for r in gone] == [FindingStatus.GONE] and w2.resolved == 1


def test_lifecycle_unknown_after_gone_is_unknown_not_gone(store: Store) -> None:
    """A deleted resource that comes back and cannot be judged reads as UNKNOWN (it exists),
    not as still deleted; a later FAIL reopens it."""
    scan(store, [result(Status.FAIL)])
    scan(store, [])
    s3, w3 = scan(store, [result(Status.UNKNOWN, reason="not reported")])
    row = only(store)
    assert (row.status, row.reason, row.is_open) == (FindingStatus.UNKNOWN, "not reported",
                                                     False)
    assert row.last_seen_scan_id == s3 and w3.events == 1
    assert only(store, s3).status == FindingStatus.UNKNOWN  # the as-of replay agrees
    _, w4 = scan(store, [result(Status.FAIL)])
    assert only(store).is_open and w4.reopened == 1
