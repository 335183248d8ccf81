"""Import ASFF findings into Security Hub with `BatchImportFindings`.

Findings go to the Security Hub of their own region (their ProductArn names it), in batches of
at most 100 (the API's limit). A batch the API refuses as a whole (Security Hub not enabled,
access denied, throttled past the retries) counts all its findings as failed with that error;
findings the API rejects one by one come back in `FailedFindings` and are kept per finding, so
the caller can say exactly what did not arrive. Nothing here raises for an AWS failure.

Security Hub ignores a provider's Workflow and Note once a finding exists, so the mute state is
then set the way a customer sets it, with BatchUpdateFindings, per region after the import:

- findings the payload marks SUPPRESSED (muted) get Workflow SUPPRESSED and the payload's Note,
  written by `mllens` (`asff.NOTE_AUTHOR`);
- findings the payload marks NEW that Security Hub holds SUPPRESSED with a Note by `mllens`
  (their mute expired or its rule was removed) go back to NEW, so an accepted risk whose
  acceptance ended is seen again. Suppressions made by people (another note author) are left
  alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from agent.aws.errors import classify
from agent.reports.asff import NOTE_AUTHOR

BATCH_SIZE = 100
REOPENED_NOTE = ("mllens: no longer muted (the mute expired or its rule was removed); "
                 "the finding is open again")


@dataclass(frozen=True, slots=True)
class Failure:
    finding_id: str
    region: str
    code: str
    message: str


@dataclass
class ImportResult:
    sent: int = 0
    imported: int = 0
    batches: int = 0
    failures: list[Failure] = field(default_factory=list)
    # Workflow updates after the import: muted findings suppressed, unmuted ones reopened.
    suppressed: int = 0
    reopened: int = 0
    update_failures: list[Failure] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)

    def summary(self) -> str:
        line = f"Security Hub: imported {self.imported} of {self.sent} findings"
        if self.failures:
            line += f"; {self.failed} failed ({_codes(self.failures)}): " \
                    f"{self.failures[0].message}"
        if self.suppressed:
            line += f"; {self.suppressed} muted set to SUPPRESSED"
        if self.reopened:
            line += f"; {self.reopened} no longer muted set back to NEW"
        if self.update_failures:
            line += f"; {len(self.update_failures)} workflow updates failed " \
                    f"({_codes(self.update_failures)}): {self.update_failures[0].message}"
        return line


def _codes(failures: Sequence[Failure]) -> str:
    codes: dict[str, int] = {}
    for f in failures:
        codes[f.code] = codes.get(f.code, 0) + 1
    return ", ".join(f"{n} {code}" for code, n in sorted(codes.items()))


def batches(items: Sequence[Any], size: int = BATCH_SIZE) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def import_findings(
    findings: Sequence[Mapping[str, Any]],
    client_for: Callable[[str], Any],
    batch_size: int = BATCH_SIZE,
) -> ImportResult:
    """Send `findings` (ASFF dicts) through `client_for(region)` clients; what arrived."""
    if not 1 <= batch_size <= BATCH_SIZE:
        raise ValueError(f"batch size must be 1..{BATCH_SIZE}, not {batch_size}")
    by_region: dict[str, list[Mapping[str, Any]]] = {}
    for f in findings:
        by_region.setdefault(str(f["Region"]), []).append(f)
    out = ImportResult()
    for region, items in sorted(by_region.items()):
        try:
            client = client_for(region)
        except (BotoCoreError, ClientError) as exc:  # boundary: no client, every finding fails
            _fail_all(out, items, region, exc)
            continue
        failed_before = len(out.failures)
        _import_region(client, region, items, batch_size, out)
        lost = {f.finding_id for f in out.failures[failed_before:]}
        _set_workflows(client, region, [f for f in items if f["Id"] not in lost], out)
    return out


def _import_region(
    client: Any, region: str, items: Sequence[Mapping[str, Any]], batch_size: int,
    out: ImportResult,
) -> None:
    for batch in batches(items, batch_size):
        out.sent += len(batch)
        out.batches += 1
        try:
            resp = client.batch_import_findings(Findings=list(batch))
        except (BotoCoreError, ClientError) as exc:  # boundary: the batch as a whole failed
            _fail_all(out, batch, region, exc, counted=True)
            continue
        failed = resp.get("FailedFindings") or []
        out.imported += int(resp.get("SuccessCount", len(batch) - len(failed)))
        out.failures.extend(
            Failure(
                str(x.get("Id", "")),
                region,
                str(x.get("ErrorCode", "") or "Unknown"),
                str(x.get("ErrorMessage", "") or ""),
            )
            for x in failed
        )


def _set_workflows(
    client: Any, region: str, items: Sequence[Mapping[str, Any]], out: ImportResult
) -> None:
    """Suppress what the payload mutes; reopen what mllens suppressed and no longer mutes."""
    notes: dict[str, list[Mapping[str, Any]]] = {}
    for f in items:
        if f["Workflow"]["Status"] == "SUPPRESSED":
            notes.setdefault(f["Note"]["Text"], []).append(f)
    for text, group in notes.items():
        out.suppressed += _update(client, region, group, "SUPPRESSED", text, out)
    open_now = {f["Id"]: f for f in items if f["Workflow"]["Status"] == "NEW"}
    if not open_now:
        return
    try:
        ours = _suppressed_by_mllens(client)
    except (BotoCoreError, ClientError) as exc:  # boundary: cannot tell what to reopen
        c = classify(exc)
        out.update_failures.append(Failure("", region, c.code or c.kind.value,
                                           f"{region}: listing suppressed findings: "
                                           f"{c.message}"))
        return
    reopen = [open_now[i] for i in sorted(ours & set(open_now))]
    if reopen:
        out.reopened += _update(client, region, reopen, "NEW", REOPENED_NOTE, out)


def _suppressed_by_mllens(client: Any) -> set[str]:
    """Ids of mllens findings Security Hub holds SUPPRESSED with a note mllens wrote."""
    filters = {
        "GeneratorId": [{"Value": "mllens/", "Comparison": "PREFIX"}],
        "WorkflowStatus": [{"Value": "SUPPRESSED", "Comparison": "EQUALS"}],
        "NoteUpdatedBy": [{"Value": NOTE_AUTHOR, "Comparison": "EQUALS"}],
    }
    out = set()
    for page in client.get_paginator("get_findings").paginate(Filters=filters,
                                                                PaginationConfig={
                                                                    "PageSize": 100}):
        for f in page.get("Findings") or []:
            # Checked here too: an endpoint that ignores filters must not reopen the rest.
            if (f.get("Workflow") or {}).get("Status") == "SUPPRESSED" \
                    and (f.get("Note") or {}).get("UpdatedBy") == NOTE_AUTHOR:
                out.add(str(f["Id"]))
    return out


def _update(
    client: Any, region: str, findings: Sequence[Mapping[str, Any]], status: str, note: str,
    out: ImportResult,
) -> int:
    """BatchUpdateFindings in batches of 100; how many Security Hub processed."""
    done = 0
    for batch in batches(findings):
        ids = [{"Id": f["Id"], "ProductArn": f["ProductArn"]} for f in batch]
        try:
            resp = client.batch_update_findings(
                FindingIdentifiers=ids, Workflow={"Status": status},
                Note={"Text": note, "UpdatedBy": NOTE_AUTHOR})
        except (BotoCoreError, ClientError) as exc:  # boundary: the batch as a whole failed
            c = classify(exc)
            out.update_failures.extend(Failure(i["Id"], region, c.code or c.kind.value,
                                               f"{region}: {c.message}") for i in ids)
            continue
        done += len(resp.get("ProcessedFindings") or [])
        out.update_failures.extend(
            Failure(str((x.get("FindingIdentifier") or {}).get("Id", "")), region,
                    str(x.get("ErrorCode", "") or "Unknown"),
                    str(x.get("ErrorMessage", "") or ""))
            for x in resp.get("UnprocessedFindings") or []
        )
    return done


def _fail_all(
    out: ImportResult,
    items: Sequence[Mapping[str, Any]],
    region: str,
    exc: BaseException,
    counted: bool = False,
) -> None:
    c = classify(exc)
    if not counted:
        out.sent += len(items)
    out.failures.extend(
        Failure(str(f["Id"]), region, c.code or c.kind.value, f"{region}: {c.message}")
        for f in items
    )
