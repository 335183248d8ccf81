"""Sharded runs in the store and the locks that guard them, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent.domain import Pillar, Result, Severity, Status
from agent.store import ScanStatus, Store
from agent.store.lock import StoreLock, StoreLocked, is_free, shard_lock_name
from agent.store.runs import RunConflict, merge_summaries, merged_status

SCOPE = {"caller": "111122223333", "accounts": [], "account_names": {},
         "skipped_accounts": []}


def join(store: Store, shard: int, count: int = 3, run: str = "run-1",
         accounts: tuple[str, ...] = ()) -> int:
    scope = {**SCOPE, "accounts": list(accounts)}
    return store.join_run(f"{run}@k", shard, count, scope, uid=f"uid-{run}", target_key="k")


def result(account: str, status: Status = Status.FAIL) -> Result:
    return Result("chk", status, f"arn:aws:sagemaker:us-east-1:{account}:endpoint/e", "why",
                  account, "us-east-1", Severity.HIGH, Pillar.RELIABILITY)


def summary(fail: int) -> dict[str, object]:
    return {"status": {"FAIL": fail}, "by_pillar": {"reliability": {"FAIL": fail}},
            "gaps": 0, "accounts": {"complete": 1}}


def test_runs_shards_join_one_scan_that_finishes_with_the_last(store: Store) -> None:
    """Three shards share one scan row; it stays running (and out of history) until the third
    finishes, then takes the merged status, API calls, summary and accounts."""
    ids = {join(store, k, accounts=(f"00000000000{k}",)) for k in (1, 2, 3)}
    assert len(ids) == 1
    sid = ids.pop()
    for k in (1, 2, 3):
        acct = f"00000000000{k}"
        store.write_account(sid, acct, [result(acct)], [], [], [("us-east-1", "endpoints",
                                                                 "complete", "")],
                            {("us-east-1", "chk")})
    assert store.finish_shard(sid, 1, "complete", 10, summary(1),
                              scope={**SCOPE, "accounts": ["000000000001"]}) \
        is ScanStatus.RUNNING
    assert store.finish_shard(sid, 2, "partial", 20, summary(1),
                              scope={**SCOPE, "accounts": ["000000000002"]}) \
        is ScanStatus.RUNNING
    assert store.latest_finished(5) == [] and store.scan_summaries() != []
    final = store.finish_shard(sid, 3, "complete", 30, summary(1),
                               scope={**SCOPE, "accounts": ["000000000003"]})
    assert final is ScanStatus.PARTIAL
    scan = store.scan(sid)
    assert scan is not None and scan.status is ScanStatus.PARTIAL
    assert scan.api_calls == 60 and scan.shard_count == 3 and scan.run_key == "run-1@k"
    assert scan.summary["status"] == {"FAIL": 3}
    assert scan.scope["accounts"] == ["000000000001", "000000000002", "000000000003"]
    assert [s.id for s in store.latest_finished(5)] == [sid]
    assert len(store.findings(sid, status="FAIL")) == 3
    assert [s["status"] for s in store.shards(sid)] == ["complete", "partial", "complete"]


def test_runs_refuse_a_finished_shard_a_finished_run_and_another_count(store: Store) -> None:
    """A shard cannot run twice in one run, nor join a finished run or one of another size."""
    sid = join(store, 1, count=2)
    store.finish_shard(sid, 1, "complete", 0, {})
    with pytest.raises(RunConflict, match=r"shard 1/2 .* already finished"):
        join(store, 1, count=2)
    with pytest.raises(RunConflict, match="started as 2 shards, not 3"):
        join(store, 2, count=3)
    join(store, 2, count=2)
    store.finish_shard(sid, 2, "complete", 0, {})
    with pytest.raises(RunConflict, match="already finished"):
        join(store, 2, count=2)


def test_runs_refuse_another_callers_run(store: Store) -> None:
    """Two callers naming the same run never share a scan."""
    join(store, 1)
    with pytest.raises(RunConflict, match="started by account"):
        store.join_run("run-1@k", 2, 3, {**SCOPE, "caller": "444455556666"}, uid="uid-run-1",
                       target_key="k")


def test_close_stale_interrupts_only_dead_shards(store: Store) -> None:
    """A shard whose lock is free was left by a dead process: it is interrupted; a live one
    keeps running, and so does its scan. An unsharded running scan is stale to a shard."""
    plain = store.start_scan({"caller": "1"})
    sid = join(store, 1)
    join(store, 2)
    closed = store.close_stale(exclusive=False, alive=lambda _key, shard, _n: shard == 2,
                               keep_run="run-1@k")
    assert closed == [plain]
    assert [s["status"] for s in store.shards(sid)] == ["interrupted", "running"]
    scan = store.scan(sid)
    assert scan is not None and scan.status is ScanStatus.RUNNING


def test_close_stale_closes_an_older_run_whose_shards_never_came(store: Store) -> None:
    """Once no shard of an older run is alive, the run is closed as interrupted, naming the
    shards that never ran; the caller's own run is kept open for its other shards."""
    old = join(store, 1, run="old")
    store.finish_shard(old, 1, "complete", 5, summary(2))
    new = join(store, 1, run="new")
    closed = store.close_stale(exclusive=False, alive=lambda *_: False, keep_run="new@k")
    assert closed == [old]
    scan = store.scan(old)
    assert scan is not None and scan.status is ScanStatus.INTERRUPTED
    assert scan.error is not None and "shard(s) 2, 3 of 3 never ran" in scan.error
    kept = store.scan(new)
    assert kept is not None and kept.status is ScanStatus.RUNNING


def test_close_stale_exclusive_closes_everything(store: Store) -> None:
    """Holding the store alone, every running scan and shard is stale."""
    plain = store.start_scan({"caller": "1"})
    sid = join(store, 1)
    assert sorted(store.close_stale(exclusive=True, alive=lambda *_: True)) == sorted(
        [plain, sid])
    assert all(s["status"] == "interrupted" for s in store.shards(sid))


def test_latest_of_targets_finds_a_finished_scan_of_the_same_targets(store: Store) -> None:
    """Only complete or partial scans of the same targets since the time count."""
    a = store.start_scan(SCOPE, target_key="t1")
    before = datetime.now(UTC) - timedelta(minutes=1)
    assert store.latest_of_targets("t1", before) is None  # still running
    store.finish_scan(a, "complete", 0, {})
    found = store.latest_of_targets("t1", before)
    assert found is not None and found.id == a
    assert store.latest_of_targets("t2", before) is None
    assert store.latest_of_targets("t1", datetime.now(UTC) + timedelta(minutes=1)) is None


def test_merged_status_and_summaries() -> None:
    """Interrupted wins; empty shards count only when all are empty; counts add up."""
    C, P, F, I = (ScanStatus.COMPLETE, ScanStatus.PARTIAL, ScanStatus.FAILED,  # noqa: E741
                  ScanStatus.INTERRUPTED)
    assert merged_status([(C, False), (C, False)]) is C
    assert merged_status([(C, False), (P, False)]) is P
    assert merged_status([(F, False), (C, False)]) is P
    assert merged_status([(F, False), (F, False)]) is F
    assert merged_status([(C, False), (I, False)]) is I
    assert merged_status([(C, False), (C, True)]) is C
    assert merged_status([(C, True), (C, True)]) is C
    merged = merge_summaries([summary(1), summary(2), {"empty_shard": True}])
    assert merged == {"status": {"FAIL": 3}, "by_pillar": {"reliability": {"FAIL": 3}},
                      "gaps": 0, "accounts": {"complete": 2}}


def test_store_lock_shared_holders_coexist_and_exclude_the_exclusive(db_url: str) -> None:
    """Shards share the store lock; an unsharded scan needs it alone, and vice versa."""
    with Store.open(db_url) as a, Store.open(db_url) as b, Store.open(db_url) as c:
        one, two = StoreLock(a.engine, shared=True), StoreLock(b.engine, shared=True)
        one.acquire(timeout=0)
        two.acquire(timeout=0)
        with pytest.raises(StoreLocked):
            StoreLock(c.engine).acquire(timeout=0)
        one.release()
        two.release()
        with StoreLock(c.engine), pytest.raises(StoreLocked):
            StoreLock(a.engine, shared=True).acquire(timeout=0)


def test_store_lock_shard_locks_are_per_shard(db_url: str) -> None:
    """One shard's lock does not block another's, and `is_free` sees who is alive."""
    with Store.open(db_url) as a, Store.open(db_url) as b:
        first = StoreLock(a.engine, shard_lock_name("k", 1, 3))
        with first:
            assert not is_free(b.engine, shard_lock_name("k", 1, 3))
            assert is_free(b.engine, shard_lock_name("k", 2, 3))
            with StoreLock(b.engine, shard_lock_name("k", 2, 3)) as second:
                assert second.held
        assert is_free(b.engine, shard_lock_name("k", 1, 3))
