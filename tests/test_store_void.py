"""A scan that stops before it finishes takes back what it changed in the findings, on SQLite
and PostgreSQL, however it is closed (its own process, a later scan, a sharded run)."""

from __future__ import annotations

from collections.abc import Callable

from agent.domain import Status
from agent.store import Store
from tests.history_helpers import (
    C1,
    D1,
    D2,
    D3,
    REGION,
    A,
    B,
    Clock,
    arn,
    finding,
)

F, P = Status.FAIL, Status.PASS
COVERAGE = [(REGION, "endpoints", "complete", None)]
SCOPES = {(REGION, C1)}


def write(store: Store, sid: int, account: str, results: list) -> None:
    store.write_account(sid, account, results, [], [], COVERAGE, SCOPES)


def states(store: Store) -> dict[str, tuple[str, bool, int | None]]:
    return {f.resource_arn.rsplit("/", 1)[1]: (f.status.value, f.is_open, f.resolved_scan_id)
            for f in store.findings()}


def test_void_interrupted_scan_resolves_and_opens_nothing(open_store: Callable[..., Store]) -> None:
    """A scan that fixed one finding, deleted another's resource and opened a third in an
    account it wrote completely, then was interrupted: afterwards every finding is as the last
    finished scan left it; the next finished scan makes those changes its own."""
    clock = Clock(D1)
    store = open_store(clock)
    s1 = store.start_scan({"accounts": [A]})
    write(store, s1, A, [finding(C1, A, "fixed", F, D1), finding(C1, A, "deleted", F, D1)])
    store.finish_scan(s1, "complete", 0, {})
    clock.now = D2
    s2 = store.start_scan({"accounts": [A]})
    write(store, s2, A, [finding(C1, A, "fixed", P, D2), finding(C1, A, "brand-new", F, D2)])
    assert states(store)["fixed"] == ("PASS", False, s2)
    store.finish_scan(s2, "interrupted", 0, {}, "interrupted by a signal")
    assert states(store) == {"fixed": ("FAIL", True, None), "deleted": ("FAIL", True, None)}
    assert all(e.scan_id == s1 for k in ("fixed", "deleted")
               for e in store.finding_events(_key(store, k)))
    row = {f.resource_arn: f for f in store.findings()}[arn(A, "fixed")]
    assert row.last_seen_scan_id == s1  # the interrupted scan's sighting does not count
    clock.now = D3
    s3 = store.start_scan({"accounts": [A]})
    written = store.write_account(
        s3, A, [finding(C1, A, "fixed", P, D3), finding(C1, A, "brand-new", F, D3)], [], [],
        COVERAGE, SCOPES)
    store.finish_scan(s3, "complete", 0, {})
    assert states(store) == {"fixed": ("PASS", False, s3), "deleted": ("GONE", False, s3),
                             "brand-new": ("FAIL", True, None)}
    assert (written.opened, written.resolved) == (1, 2)
    assert [s.id for s in store.latest_finished(5)] == [s3, s1]
    diff = store.diff(s1, s3)
    assert {e.resource_arn.rsplit("/", 1)[1]: e.change for e in diff.entries} == {
        "fixed": "resolved", "deleted": "resolved", "brand-new": "new"}


def _key(store: Store, name: str) -> str:
    return next(f.key for f in store.findings() if f.resource_arn == arn(A, name))


def test_void_by_a_later_scan_closing_a_stale_one(open_store: Callable[..., Store]) -> None:
    """A scan whose process died is closed by the next one that takes the lock, with the same
    effect: its changes are taken back, and trends skip it."""
    clock = Clock(D1)
    store = open_store(clock)
    s1 = store.start_scan({"accounts": [A, B]})
    write(store, s1, A, [finding(C1, A, "ep", F, D1)])
    store.finish_scan(s1, "complete", 0, {})
    clock.now = D2
    dead = store.start_scan({"accounts": [A, B]})
    write(store, dead, A, [finding(C1, A, "ep", P, D2)])
    write(store, dead, B, [finding(C1, B, "other", F, D2)])
    assert store.close_stale(exclusive=True, alive=lambda *_: True) == [dead]
    assert states(store) == {"ep": ("FAIL", True, None)}
    points = store.trends(by="pillar", per="scan", last=10)
    assert points and {p.scan_id for p in points} == {s1}  # no bucket for the closed scan


def test_void_a_sharded_run_with_a_shard_that_stopped(open_store: Callable[..., Store]) -> None:
    """When one shard of a run was interrupted, the run counts for nothing: the accounts the
    other shards wrote are taken back when the run is closed."""
    clock = Clock(D1)
    store = open_store(clock)
    s1 = store.start_scan({"accounts": [A, B], "caller": "c"})
    write(store, s1, A, [finding(C1, A, "a-ep", F, D1)])
    write(store, s1, B, [finding(C1, B, "b-ep", F, D1)])
    store.finish_scan(s1, "complete", 0, {})
    clock.now = D2
    scope = {"caller": "c", "accounts": [], "account_names": {}, "skipped_accounts": []}
    run = store.join_run("r2@k", 1, 2, scope, uid="u-r2", target_key="k")
    store.join_run("r2@k", 2, 2, scope, uid="u-r2", target_key="k")
    write(store, run, A, [finding(C1, A, "a-ep", P, D2)])
    store.finish_shard(run, 1, "complete", 0, {})
    assert states(store)["a-ep"][0] == "PASS"  # written while the run runs
    store.finish_shard(run, 2, "interrupted", 0, {}, "interrupted by a signal")
    assert states(store) == {"a-ep": ("FAIL", True, None), "b-ep": ("FAIL", True, None)}
    scan = store.scan(run)
    assert scan is not None and scan.status.value == "interrupted"


def test_void_keeps_coverage_and_the_record_of_the_scan(open_store: Callable[..., Store]) -> None:
    """The interrupted scan stays listed with its coverage and error; nothing else remains."""
    store = open_store(Clock(D1))
    sid = store.start_scan({"accounts": [A]})
    write(store, sid, A, [finding(C1, A, "ep", F, D1)])
    store.finish_scan(sid, "interrupted", 0, {}, "StoreError: connection lost")
    assert store.findings() == []
    assert [(c.account_id, c.kind, c.state.value) for c in store.coverage(sid)] == [
        (A, "endpoints", "complete")]
    scan = store.scan(sid)
    assert scan is not None and scan.error == "StoreError: connection lost"
    assert store.scan_summaries()[0].scan.id == sid
