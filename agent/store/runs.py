"""Scans run as shards, and scans left running by processes that stopped.

A sharded scan is one row in `scans` that N processes join (`mllens scan --shard K/N --run-id
ID`): each writes its own accounts under that scan's id and records its outcome in
`scan_shards`; the last one to finish gives the scan the merged status, API calls and summary.
Until then the scan is `running`, and every history query (trends, diffs, as-of, the latest
finished scan) leaves it out, so a half-finished run is never read as the estate.

Which running scans are stale is decided by who holds which lock (`agent.store.lock`): the
caller passes `alive(scan_id, shard)`, which tries that shard's lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlmodel import col

from agent.store.errors import StoreError
from agent.store.rows import ScanStatus
from agent.store.tables import ScanRecord, ScanShardRecord
from agent.store.void import void_scan

RUNNING = ScanStatus.RUNNING.value


class RunConflict(StoreError):
    """A shard cannot join its run (finished already, or started with another shard count)."""


def join(
    s: Session,
    *,
    run_key: str,
    shard: int,
    count: int,
    scope: Mapping[str, Any],
    uid: str,
    target_key: str,
    now: datetime,
    version: str,
) -> int:
    """The id of the run's scan, created by whichever shard comes first, with this shard's row.

    Concurrent first shards race on the unique run key: the insert that loses does nothing,
    and both read the one row back.
    """
    dialect = s.get_bind().dialect.name
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(ScanRecord)
    s.execute(
        stmt.on_conflict_do_nothing(index_elements=["run_key"]),
        [{"uid": uid, "started_at": now, "status": RUNNING, "api_calls": 0,
          "scope": {**scope, "shards": count}, "summary": {}, "tool_version": version,
          "target_key": target_key, "run_key": run_key, "shard_count": count}],
    )
    rec = s.scalars(select(ScanRecord).where(col(ScanRecord.run_key) == run_key)
                    .with_for_update()).one()
    assert rec.id is not None
    # Messages name the run as the user did: the run ID, without the targets' hash.
    run = run_key.rsplit("@", 1)[0]
    if rec.shard_count != count:
        raise RunConflict(f"run {run!r} was started as {rec.shard_count} shards, not {count}; "
                          "give every shard of a run the same count, or give a new run ID")
    if rec.status != RUNNING:
        raise RunConflict(f"run {run!r} already finished ({rec.status}); give a new run ID")
    if rec.scope.get("caller") != scope.get("caller"):
        raise RunConflict(f"run {run!r} was started by account {rec.scope.get('caller')}, "
                          f"not {scope.get('caller')}; give each caller its own run IDs")
    row = s.scalars(select(ScanShardRecord).where(col(ScanShardRecord.scan_id) == rec.id,
                                                  col(ScanShardRecord.shard) == shard)).first()
    if row is None:
        s.add(ScanShardRecord(scan_id=rec.id, shard=shard, started_at=now, status=RUNNING))
    elif row.status == RUNNING:
        # The caller holds this shard's lock, so the row is left by a process that stopped.
        row.started_at = now
    else:
        raise RunConflict(f"shard {shard}/{count} of run {run!r} already finished "
                          f"({row.status}); give a new run ID to scan again")
    return rec.id


def finish_shard(
    s: Session,
    scan_id: int,
    shard: int,
    *,
    status: ScanStatus,
    api_calls: int,
    summary: Mapping[str, Any],
    error: str | None,
    scope: Mapping[str, Any],
    now: datetime,
) -> ScanStatus:
    """Record one shard's outcome; the scan's status afterwards (RUNNING until the last)."""
    rec = s.scalars(select(ScanRecord).where(col(ScanRecord.id) == scan_id)
                    .with_for_update()).one()
    row = s.scalars(select(ScanShardRecord).where(col(ScanShardRecord.scan_id) == scan_id,
                                                  col(ScanShardRecord.shard) == shard)).one()
    row.status, row.finished_at = status.value, now
    row.api_calls, row.summary, row.error = api_calls, dict(summary), error
    rec.scope = merge_scope(rec.scope, scope)
    s.flush()
    return _settle(s, rec, now)


def _settle(s: Session, rec: ScanRecord, now: datetime, missing: str | None = None) -> ScanStatus:
    """Close the scan when every shard has finished (or `missing` says why some never will)."""
    rows = list(s.scalars(select(ScanShardRecord)
                          .where(col(ScanShardRecord.scan_id) == rec.id)
                          .order_by(col(ScanShardRecord.shard))))
    if any(r.status == RUNNING for r in rows):
        return ScanStatus.RUNNING
    count = rec.shard_count or len(rows)
    absent = sorted(set(range(1, count + 1)) - {r.shard for r in rows})
    if absent and missing is None:
        return ScanStatus.RUNNING
    outcomes = [(ScanStatus(r.status), bool(r.summary.get("empty_shard"))) for r in rows]
    outcomes += [(ScanStatus.INTERRUPTED, False)] * len(absent)
    final = merged_status(outcomes)
    errors = [f"shard {r.shard}/{count}: {r.error}" for r in rows if r.error]
    if absent:
        errors.append(f"shard(s) {', '.join(map(str, absent))} of {count} {missing}")
    ended = [r.finished_at for r in rows if r.finished_at is not None]
    if final is ScanStatus.INTERRUPTED:
        assert rec.id is not None
        void_scan(s, rec.id)  # a run with a shard that stopped counts for nothing
    rec.status = final.value
    rec.finished_at = now if absent or not ended else max(ended)
    rec.api_calls = sum(r.api_calls for r in rows)
    rec.summary = merge_summaries(r.summary for r in rows)
    rec.error = "; ".join(errors)[:2000] or None
    return final


def merged_status(outcomes: Sequence[tuple[ScanStatus, bool]]) -> ScanStatus:
    """One scan's status from its shards' (status, had no accounts). A shard with no accounts
    (more shards than accounts) counts only when every shard is empty."""
    statuses = [st for st, _ in outcomes]
    if ScanStatus.INTERRUPTED in statuses:
        return ScanStatus.INTERRUPTED
    worked = [st for st, empty in outcomes if not empty] or statuses
    if worked and all(st is ScanStatus.FAILED for st in worked):
        return ScanStatus.FAILED
    if any(st in (ScanStatus.FAILED, ScanStatus.PARTIAL) for st in worked):
        return ScanStatus.PARTIAL
    return ScanStatus.COMPLETE


def merge_summaries(summaries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts added key by key, at any depth (the shape `agent.scan.summarise` writes)."""
    out: dict[str, Any] = {}
    for summary in summaries:
        _add_into(out, summary)
    out.pop("empty_shard", None)
    return out


def _add_into(out: dict[str, Any], more: Mapping[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, Mapping):
            _add_into(out.setdefault(key, {}), value)
        elif isinstance(value, bool):
            out[key] = bool(out.get(key)) and value if key in out else value
        elif isinstance(value, int | float):
            out[key] = out.get(key, 0) + value


def merge_scope(scope: Mapping[str, Any], shard_scope: Mapping[str, Any]) -> dict[str, Any]:
    """The run's scope with one shard's accounts added (lists joined, names merged)."""
    out = dict(scope)
    for key in ("accounts", "skipped_accounts"):
        joined = list(dict.fromkeys([*out.get(key, ()), *shard_scope.get(key, ())]))
        out[key] = sorted(joined)
    out["account_names"] = {**out.get("account_names", {}), **shard_scope.get("account_names",
                                                                              {})}
    return out


def close_stale(
    s: Session,
    *,
    now: datetime,
    error: str,
    exclusive: bool,
    alive: Callable[[str, int, int], bool],
    keep_run: str | None = None,
) -> list[int]:
    """Close scans left running by processes that stopped; the ids of the scans closed.

    `exclusive`: the caller holds the store lock alone, so nothing else runs and every running
    scan is stale. Otherwise (a shard holding it shared) unsharded running scans are stale, and
    a sharded one's shard is stale unless `alive(target_key, shard, count)` finds its lock
    held; a run other than
    `keep_run` with no live shard left is closed, missing shards counted as interrupted.
    """
    closed: list[int] = []
    running = list(s.scalars(select(ScanRecord).where(col(ScanRecord.status) == RUNNING)))
    for rec in running:
        assert rec.id is not None
        if rec.run_key is None or exclusive:
            _interrupt_shards(s, rec.id, lambda _shard: True, now, error)
            if rec.run_key is None:
                void_scan(s, rec.id)
                rec.status, rec.finished_at, rec.error = ScanStatus.INTERRUPTED.value, now, error
            else:
                _settle(s, rec, now, missing="never ran")
            closed.append(rec.id)
            continue
        _interrupt_shards(s, rec.id, _dead(alive, rec), now, error)
        s.flush()
        final = _settle(s, rec, now, missing=None if rec.run_key == keep_run else "never ran")
        if final is not ScanStatus.RUNNING:
            closed.append(rec.id)
    return closed


def _dead(alive: Callable[[str, int, int], bool], rec: ScanRecord) -> Callable[[int], bool]:
    key, count = rec.target_key or "", rec.shard_count or 0
    return lambda shard: not alive(key, shard, count)


def _interrupt_shards(
    s: Session, scan_id: int, stale: Callable[[int], bool], now: datetime, error: str
) -> None:
    rows = s.scalars(select(ScanShardRecord).where(col(ScanShardRecord.scan_id) == scan_id,
                                                   col(ScanShardRecord.status) == RUNNING))
    ids = [r.id for r in rows if stale(r.shard)]
    if ids:
        s.execute(update(ScanShardRecord).where(col(ScanShardRecord.id).in_(ids))
                  .values(status=ScanStatus.INTERRUPTED.value, finished_at=now, error=error))


def latest_of_targets(s: Session, target_key: str, since: datetime) -> ScanRecord | None:
    """The latest complete or partial scan of these targets started at or after `since`."""
    done = (ScanStatus.COMPLETE.value, ScanStatus.PARTIAL.value)
    return s.scalars(
        select(ScanRecord)
        .where(col(ScanRecord.target_key) == target_key, col(ScanRecord.started_at) >= since,
               col(ScanRecord.status).in_(done))
        .order_by(col(ScanRecord.started_at).desc())
        .limit(1)
    ).first()


def shard_rows(s: Session, scan_id: int) -> list[ScanShardRecord]:
    return list(s.scalars(select(ScanShardRecord).where(col(ScanShardRecord.scan_id) == scan_id)
                          .order_by(col(ScanShardRecord.shard))))
