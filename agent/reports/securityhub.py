"""Import ASFF findings into Security Hub with `BatchImportFindings`.

Findings go to the Security Hub of their own region (their ProductArn names it), in batches of
at most 100 (the API's limit). A batch the API refuses as a whole (Security Hub not enabled,
access denied, throttled past the retries) counts all its findings as failed with that error;
findings the API rejects one by one come back in `FailedFindings` and are kept per finding, so
the caller can say exactly what did not arrive. Nothing here raises for an AWS failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from agent.aws.errors import classify

BATCH_SIZE = 100


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

    @property
    def failed(self) -> int:
        return len(self.failures)

    def summary(self) -> str:
        line = f"Security Hub: imported {self.imported} of {self.sent} findings"
        if self.failures:
            codes: dict[str, int] = {}
            for f in self.failures:
                codes[f.code] = codes.get(f.code, 0) + 1
            detail = ", ".join(f"{n} {code}" for code, n in sorted(codes.items()))
            line += f"; {self.failed} failed ({detail}): {self.failures[0].message}"
        return line


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
    return out


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
