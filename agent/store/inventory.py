"""The inventory cache in the store: described records a later scan may reuse.

Records are stored as JSON text in which datetimes are tagged (`{"$t": ISO}`), so a reused
record is the same data its describe call returned: aware UTC datetimes where the API gave
times, which the checks compare. The text is decoded only when a scan reuses the record, so a
cache of 100,000 training jobs costs its text in memory, not its parsed records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session
from sqlmodel import col

from agent.store.tables import InventoryRecord
from agent.store.types import jsonable, utc_from_raw

_TIME = "$t"
WRITE_BATCH = 1000  # rows per INSERT: a huge account is written in slices, not one list


@dataclass(frozen=True, slots=True)
class CachedRecord:
    version: str
    doc: str  # encoded; `decode` when reused
    collected_at: datetime


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A freshly described record to keep: what a scan hands the store."""

    region: str
    kind: str
    arn: str
    name: str
    version: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CacheWrite:
    """One account's cache changes: `entries` to keep, and the (region, kind) scopes read in
    full, whose rows for resources no longer listed (`listed`) are dropped."""

    entries: Sequence[CacheEntry] = ()
    listed: Mapping[tuple[str, str], frozenset[str]] | None = None


def _tagged(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return {_TIME: aware.astimezone(UTC).isoformat()}
    if isinstance(value, Mapping):
        return {str(k): _tagged(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_tagged(v) for v in value]
    return jsonable(value)


def encode(data: Mapping[str, Any]) -> str:
    return json.dumps(_tagged(data), separators=(",", ":"))


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _TIME in obj:
        return datetime.fromisoformat(obj[_TIME])
    return obj


def decode(doc: str) -> dict[str, Any]:
    data = json.loads(doc, object_hook=_untag)
    if not isinstance(data, dict):
        raise ValueError("a cached record is not a JSON object")
    return data


def load(session: Session, account_id: str, region: str,
         kinds: Iterable[str]) -> dict[tuple[str, str], CachedRecord]:
    """(kind, arn) -> the cached record, for one account and region."""
    t = InventoryRecord
    rows = session.execute(
        select(col(t.kind), col(t.arn), col(t.version), col(t.doc), col(t.collected_at))
        .where(col(t.account_id) == account_id, col(t.region) == region,
               col(t.kind).in_(sorted(set(kinds))))
    )
    return {(kind, arn): CachedRecord(version, doc, utc_from_raw(at))
            for kind, arn, version, doc, at in rows}


def _batches(items: Iterable[Any], size: int = WRITE_BATCH) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def write(session: Session, account_id: str, cache: CacheWrite, now: datetime) -> None:
    """Replace the rows of `cache.entries` and drop rows of resources no longer listed."""
    t = InventoryRecord
    if cache.listed:
        for (region, kind), arns in cache.listed.items():
            known = session.execute(
                select(col(t.id), col(t.arn)).where(
                    col(t.account_id) == account_id, col(t.region) == region,
                    col(t.kind) == kind)
            )
            gone = [rid for rid, arn in known if arn not in arns]
            for ids in _batches(gone):
                session.execute(delete(t).where(col(t.id).in_(ids)))
    for batch in _batches(cache.entries):
        by_scope: dict[tuple[str, str], list[str]] = {}
        for e in batch:
            by_scope.setdefault((e.region, e.kind), []).append(e.arn)
        for (region, kind), replaced in by_scope.items():
            session.execute(delete(t).where(
                col(t.account_id) == account_id, col(t.region) == region,
                col(t.kind) == kind, col(t.arn).in_(replaced)))
        session.execute(insert(t), [
            {"account_id": account_id, "region": e.region, "kind": e.kind, "arn": e.arn,
             "name": e.name, "version": e.version, "doc": encode(e.data), "collected_at": now}
            for e in batch
        ])
