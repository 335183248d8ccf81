"""The finding lifecycle as a pure state machine.

The same `advance` function updates a finding when a scan is written and replays its events
when a past scan is viewed, so the two can never disagree. `fold` is its cheap cut for history
queries over many events (status, severity, reason, mute only); a property test replays random
histories through both and requires them to agree.

Rules:
- A finding is open while its latest known status is FAIL.
- PASS or NOT_APPLICABLE after FAIL resolves it. So does GONE: a scan that evaluated the
  finding's (account, region, check) scope completely no longer reported it (the store writes
  that observation; a check never does).
- UNKNOWN never changes the known status, severity, reason or evidence; it only marks the
  finding as unverified since that scan (`unknown_since_*`). A finding never seen with a known
  status simply carries its latest UNKNOWN, and so does one that was GONE: its resource is
  back (or in scope again) but could not be judged, which is not "deleted".
- FAIL after a resolution reopens: `reopened_at` is set and the resolution cleared.
- An event is recorded for the first observation and whenever the reported
  (status, severity, reason) or the mute rule changes; severity is ignored for UNKNOWN, which
  has no real one. The mute rule follows every observation (UNKNOWN too); GONE keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from agent.store.rows import FindingStatus

UNKNOWN = FindingStatus.UNKNOWN
FAIL = FindingStatus.FAIL
GONE = FindingStatus.GONE
GONE_REASON = "no longer reported by a scan that evaluated this check's scope completely"


@dataclass(frozen=True, slots=True)
class Observation:
    """What one scan said about one finding."""

    scan_id: int
    at: datetime
    status: FindingStatus
    severity: str
    reason: str
    evidence: Mapping[str, Any]
    mute_id: int | None = None

    def signature(self) -> Signature:
        return _signature(self.status, self.severity, self.reason, self.mute_id)


@dataclass(frozen=True, slots=True)
class FindingState:
    status: FindingStatus
    severity: str
    reason: str
    evidence: Mapping[str, Any]
    observed_at: datetime
    first_seen_at: datetime
    first_seen_scan_id: int
    last_seen_at: datetime
    last_seen_scan_id: int
    resolved_at: datetime | None = None
    resolved_scan_id: int | None = None
    reopened_at: datetime | None = None
    unknown_since_at: datetime | None = None
    unknown_since_scan_id: int | None = None
    unknown_reason: str | None = None
    mute_id: int | None = None

    def signature(self) -> Signature:
        """What the latest observation reported, as events compare it."""
        if self.unknown_since_at is not None:
            return _signature(UNKNOWN, self.severity, self.unknown_reason or "", self.mute_id)
        return _signature(self.status, self.severity, self.reason, self.mute_id)


Signature = tuple[str, str, str, int | None]


def _signature(
    status: FindingStatus, severity: str, reason: str, mute_id: int | None
) -> Signature:
    return (status.value, "" if status == UNKNOWN else severity, reason, mute_id)


def begin(obs: Observation) -> FindingState:
    if obs.status == GONE:
        raise ValueError("a finding cannot begin as GONE")
    return FindingState(
        status=obs.status,
        severity=obs.severity,
        reason=obs.reason,
        evidence=obs.evidence,
        observed_at=obs.at,
        first_seen_at=obs.at,
        first_seen_scan_id=obs.scan_id,
        last_seen_at=obs.at,
        last_seen_scan_id=obs.scan_id,
        mute_id=obs.mute_id,
    )


def is_change(state: FindingState, obs: Observation) -> bool:
    """Whether `obs` must be recorded as an event."""
    return state.signature() != obs.signature()


def gone(state: FindingState, scan_id: int, at: datetime) -> Observation:
    """The observation a complete scope makes of a finding it no longer reports."""
    return Observation(scan_id, at, GONE, state.severity, GONE_REASON, {}, state.mute_id)


def advance(state: FindingState, obs: Observation) -> FindingState:
    if obs.status == UNKNOWN:
        return _unknown(state, obs)
    new = replace(
        state,
        status=obs.status,
        reason=obs.reason,
        mute_id=obs.mute_id,
        observed_at=obs.at,
        unknown_since_at=None,
        unknown_since_scan_id=None,
        unknown_reason=None,
    )
    if obs.status != GONE:
        # GONE keeps what the finding looked like when it was last seen.
        new = replace(
            new,
            severity=obs.severity,
            evidence=obs.evidence,
            last_seen_at=obs.at,
            last_seen_scan_id=obs.scan_id,
        )
    if obs.status == FAIL:
        if state.resolved_at is not None:
            new = replace(new, resolved_at=None, resolved_scan_id=None, reopened_at=obs.at)
    elif state.status == FAIL:
        new = replace(new, resolved_at=obs.at, resolved_scan_id=obs.scan_id)
    return new


def _unknown(state: FindingState, obs: Observation) -> FindingState:
    seen = replace(
        state, last_seen_at=obs.at, last_seen_scan_id=obs.scan_id, mute_id=obs.mute_id
    )
    if state.status in (UNKNOWN, GONE):
        # Nothing known to protect (GONE said the resource was not there; it is now): the
        # latest UNKNOWN is the best description. Severity stays: an UNKNOWN has none of its
        # own, and events ignore it.
        return replace(seen, status=UNKNOWN, reason=obs.reason, evidence=obs.evidence,
                       observed_at=obs.at)
    if state.unknown_since_at is None:
        seen = replace(seen, unknown_since_at=obs.at, unknown_since_scan_id=obs.scan_id)
    return replace(seen, unknown_reason=obs.reason)


class Brief(NamedTuple):
    """The part of a finding's state that history queries compare: cheap to fold over
    thousands of events. `fold` agrees with `advance` on these fields (a test replays random
    histories through both)."""

    status: str
    severity: str
    reason: str
    mute_id: int | None
    # The latest observations were UNKNOWN after a known status (`unknown_since_*` is set).
    unverified: bool


def fold(
    prev: Brief | None, status: str, severity: str, reason: str, mute_id: int | None
) -> Brief:
    """`advance`, restricted to `Brief`'s fields; statuses as plain strings."""
    if prev is None:
        if status == GONE:
            raise ValueError("a finding cannot begin as GONE")
        return Brief(status, severity, reason, mute_id, False)
    if status == UNKNOWN:
        if prev.status in (UNKNOWN, GONE):
            return Brief(UNKNOWN, prev.severity, reason, mute_id, False)
        return Brief(prev.status, prev.severity, prev.reason, mute_id, True)
    if status == GONE:
        return Brief(GONE, prev.severity, reason, mute_id, False)
    return Brief(status, severity, reason, mute_id, False)
