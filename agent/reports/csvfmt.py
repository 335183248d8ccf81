"""CSV: the JSON fields as columns; lists space-separated, evidence as a JSON string."""

from __future__ import annotations

import csv
import io
import json

from agent.reports.jsonfmt import FINDING_FIELDS, default, finding_dict
from agent.reports.model import Report


def render(report: Report) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FINDING_FIELDS, lineterminator="\n")
    w.writeheader()
    for f in report.findings:
        row = finding_dict(f, report.catalog)
        row["lens_ids"] = " ".join(row["lens_ids"])
        row["legacy_lens_ids"] = " ".join(row["legacy_lens_ids"])
        row["evidence"] = json.dumps(row["evidence"], default=default, sort_keys=True)
        w.writerow(row)
    return buf.getvalue()
