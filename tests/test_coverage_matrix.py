"""The coverage matrix tells the truth per service: a service some of whose kinds were read
and some not is `partial` (not `failed`), and each collector's kinds count under the service
their data comes from (endpoint metrics under CloudWatch)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aioboto3
import pytest
from typer.testing import CliRunner

from agent.cli.coverage_cmd import build, fold, kind_services, reasons
from agent.cli.main import app
from agent.emulator import Emulator, access_denied
from agent.emulator.seed import seed_region
from agent.scan import ScanRequest, run_scan
from agent.store import Store
from checks import all_checks

A, R = "111122223333", "us-east-1"
SAGEMAKER = ["endpoints", "endpoint_configs", "models", "training_jobs", "notebook_instances"]


def _rows(states: dict[str, str]) -> list[tuple[str, str, str, str, str]]:
    return [(A, R, kind, st, "" if st == "complete" else "ListEndpoints: access_denied")
            for kind, st in states.items()]


def test_coverage_one_denied_listing_makes_its_service_partial() -> None:
    """Only ListEndpoints denied: endpoints and their configs failed, models, training jobs
    and notebooks read: sagemaker is partial, and the reason names the kinds that failed."""
    states = {k: "complete" for k in SAGEMAKER} | {"endpoints": "failed",
                                                   "endpoint_configs": "failed"}
    m = build(_rows(states))
    assert m.cells[A][R]["sagemaker"].label == "partial"
    lines = reasons(m, {})
    assert f"{A} {R} sagemaker: partial: endpoints failed: ListEndpoints: access_denied" in lines
    assert not any("models" in line for line in lines)


@pytest.mark.parametrize("states,label", [
    (["complete", "complete"], "scanned"),
    (["failed", "failed"], "failed"),
    (["skipped", "skipped"], "skipped"),
    (["complete", "failed"], "partial"),
    (["partial", "failed"], "partial"),
    (["complete", "partial"], "partial"),
    (["complete", "skipped"], "scanned"),
])
def test_coverage_cell_folds_its_kinds(states: list[str], label: str) -> None:
    """A cell takes its kinds' state when they agree, and is partial when they do not."""
    m = build(_rows(dict(zip(["endpoints", "models"], states, strict=True))))
    assert m.cells[A][R]["sagemaker"].label == label
    assert fold(states) == {"scanned": "complete"}.get(label, label)


def test_coverage_endpoint_metrics_count_under_cloudwatch() -> None:
    """The endpoint metrics collector lists endpoints through SageMaker but reads CloudWatch:
    its kind is CloudWatch's, so its failure shows there, not as a scanned CloudWatch."""
    services = kind_services()
    assert services["endpoint_metrics"] == "cloudwatch"
    assert services["objective_metrics"] == "cloudwatch"
    assert services["endpoints"] == "sagemaker" and services["alarms"] == "cloudwatch"
    rows = [(A, R, "alarms", "complete", ""), (A, R, "endpoints", "complete", ""),
            (A, R, "endpoint_metrics", "failed", "GetMetricData: access_denied")]
    m = build(rows)
    assert m.cells[A][R]["cloudwatch"].label == "partial"
    assert m.cells[A][R]["sagemaker"].label == "scanned"


# -- a real scan, through `mllens coverage` ----------------------------------------------------


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        e.reset()
        seed_region(e, R)
        yield e
        e.reset()


@pytest.mark.emulator
def test_coverage_of_a_scan_with_list_endpoints_denied(emu: Emulator, tmp_path: Path) -> None:
    """A scan where only sagemaker:ListEndpoints is denied: `mllens coverage -f json` shows
    sagemaker partial (its other kinds were read), and CloudWatch partial too (its endpoint
    metrics could not be listed), never failed, never scanned."""
    db = f"sqlite:///{tmp_path / 'cov.db'}"
    rule = emu.faults.add(access_denied(service="sagemaker", operation="ListEndpoints"))
    try:
        with Store.open(db) as store:
            req = ScanRequest(checks=tuple(all_checks()), regions=(R,), endpoint_url=emu.url)

            def session() -> Any:
                return aioboto3.Session(aws_access_key_id="testing",
                                        aws_secret_access_key="testing", region_name=R)

            asyncio.run(run_scan(req, store, session))
    finally:
        emu.faults.clear()
    assert rule.hits > 0
    out = CliRunner().invoke(app, ["coverage", "--db", db, "-f", "json"])
    assert out.exit_code == 0, out.output
    cells = {c["service"]: c for c in json.loads(out.stdout)["coverage"]}
    assert cells["sagemaker"]["state"] == "partial"
    assert any(r.startswith("endpoints failed: ListEndpoints") for r in cells["sagemaker"][
        "reasons"])
    assert cells["cloudwatch"]["state"] == "partial"
    assert any(r.startswith("endpoint_metrics failed") for r in cells["cloudwatch"]["reasons"])
    assert cells["glue"]["state"] == "scanned"
