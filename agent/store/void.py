"""Discarding the finding changes of a scan that did not finish.

A scan writes each account as soon as it is collected, so a scan stopped part-way (a signal, a
crash, a store that went away) may have written some accounts completely. When it is closed as
interrupted, what it changed in the findings is taken back: its events are deleted and every
finding it touched is replayed from its remaining events (`lifecycle`, the same state machine
the writes use); a finding it created is deleted. So an interrupted scan resolves nothing,
opens nothing, and the next finished scan reports those changes as its own (and notifies them).

What stays is the record of the scan itself: its status and error, the coverage and gaps of
the accounts it wrote (so `mllens coverage` still shows how far it got), and the resources it
inventoried (facts about the estate, not verdicts). Its account rows no longer count as an
account's latest write (see `agent.store.reads.latest_writes`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from agent.store.finding_reads import EVENT_COLUMNS, EvidenceRef, event_evidence, replay_events
from agent.store.finding_writes import state_columns
from agent.store.tables import FindingEventRecord, FindingRecord
from agent.store.writes import CHUNK, update_by_id


def void_scan(session: Session, scan_id: int) -> int:
    """Take back what scan `scan_id` changed in the findings; how many findings it touched."""
    e, f = FindingEventRecord, FindingRecord
    session.execute(
        update(f).where(col(f.missing_since_scan_id) == scan_id)
        .values(missing_since_scan_id=None)
    )
    touched = sorted(set(session.scalars(
        select(col(e.finding_id)).where(col(e.scan_id) == scan_id)
    )))
    if not touched:
        return 0
    session.execute(delete(e).where(col(e.scan_id) == scan_id))
    for i in range(0, len(touched), CHUNK):
        _replay(session, touched[i : i + CHUNK])
    return len(touched)


def _replay(session: Session, finding_ids: list[int]) -> None:
    e = FindingEventRecord
    history: dict[int, list[Any]] = {}
    q = (select(*EVENT_COLUMNS).where(col(e.finding_id).in_(finding_ids))
         .order_by(col(e.finding_id), col(e.scan_id), col(e.id)))
    for row in session.connection().execute(q):
        history.setdefault(row[0], []).append(row)
    new = [fid for fid in finding_ids if fid not in history]
    if new:  # first seen by the voided scan: never seen by a finished one
        session.execute(delete(FindingRecord).where(col(FindingRecord.id).in_(new)))
    states = {fid: replay_events(events) for fid, events in history.items()}
    refs = {s.evidence.event_id for s in states.values()
            if isinstance(s.evidence, EvidenceRef) and s.evidence.event_id is not None}
    documents = event_evidence(session, refs)
    updates = []
    for fid, state in states.items():
        ref = state.evidence
        if isinstance(ref, EvidenceRef):
            state = replace(state, evidence=documents.get(ref.event_id or 0, {}))
        updates.append({"id": fid, **state_columns(state)})
    update_by_id(session, FindingRecord, updates)
