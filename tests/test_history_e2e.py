"""End to end through the `mllens` command: the demo's changing estate, and a muted scan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.emulator.seed import DEMO_REGIONS, seed_region
from agent.emulator.server import Emulator
from agent.store import FindingStatus, Store

pytestmark = pytest.mark.emulator


def mllens(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("AWS_") and not k.startswith("MLLENS_")}
    base.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                AWS_DEFAULT_REGION="us-east-1", NO_COLOR="1", COLUMNS="200", **(env or {}))
    return subprocess.run([sys.executable, "-m", "agent.cli.main", *args],
                          capture_output=True, text=True, env=base, timeout=300)


def _by(rows: list[Any], check: str, name: str) -> dict[str, Any]:
    return {r.region: r for r in rows
            if r.check_id == check and r.resource_arn.rsplit("/", 1)[-1] == name}


def test_demo_scans_a_changing_estate_and_prints_history(tmp_path: Path) -> None:
    """`mllens demo` scans the organisation three times with fixes, regressions and a deletion
    in between, then prints a trend and a diff; the store holds exactly those changes."""
    db = tmp_path / "demo.db"
    proc = mllens("demo", "--db", str(db), "-o", "json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout), "the last scan's findings"
    assert "scan 3/3" in proc.stderr and "Open findings by pillar, per scan" in proc.stderr
    assert "-> scan" in proc.stderr
    with Store.open(f"sqlite:///{db}", migrate=False) as store:
        s3, s2, s1 = (s.id for s in store.latest_finished(3))
        fixed = store.diff(s1, s2)
        resolved = {(e.check_id, e.resource_arn.rsplit("/", 1)[-1]) for e in fixed.of("resolved")}
        assert ("glue_job_secrets_in_arguments", "clickstream-export") in resolved
        assert ("sagemaker_notebook_root_access_enabled", "intern-sandbox") in resolved
        assert not fixed.of("new")
        broken = store.diff(s2, s3)
        new = {(e.check_id, e.resource_arn.rsplit("/", 1)[-1]) for e in broken.of("new")}
        assert ("sagemaker_notebook_root_access_enabled", "quick-experiment") in new
        rows = store.findings(status=None)
        single = _by(rows, "sagemaker_endpoint_config_initial_instance_count_le_1", "forecast-cfg")
        assert {r: f.status for r, f in single.items()} == {
            "us-east-1": FindingStatus.GONE, "eu-west-1": FindingStatus.GONE}
        assert {f.resolved_scan_id for f in single.values()} == {s3}
        # ml-prod cannot read alarms in eu-west-1: there the deleted endpoint's alarm finding
        # is left as it was (missing), never resolved; us-east-1 saw everything: GONE.
        alarm = _by(rows, "sagemaker_endpoint_no_latency_alarm", "forecast-legacy")
        assert alarm["us-east-1"].status == FindingStatus.GONE
        assert alarm["eu-west-1"].status == FindingStatus.UNKNOWN
        assert alarm["eu-west-1"].missing_since_scan_id == s3
        # The demo passes objectives without a settings file: churn misses its latency target
        # in both regions; fraud's cost is judged where the default prices apply, else UNKNOWN.
        latency = _by(rows, "sagemaker_endpoint_objective_latency_p99_exceeded",
                      "churn-scoring")
        assert {r: f.status for r, f in latency.items()} == {
            "us-east-1": FindingStatus.FAIL, "eu-west-1": FindingStatus.FAIL}
        cost = _by(rows, "sagemaker_endpoint_objective_monthly_cost_exceeded", "fraud-detector")
        assert {r: f.status for r, f in cost.items()} == {
            "us-east-1": FindingStatus.PASS, "eu-west-1": FindingStatus.UNKNOWN}


def test_scan_with_mute_file_stores_findings_muted(tmp_path: Path) -> None:
    """`scan --mute-file` stores matching findings as muted and says so; when every failed
    finding is muted the scan exits 0; `findings --muted` lists them; the scan's JSON, every
    `report` format, the plan and the Security Hub import carry the same mute."""
    mutes = tmp_path / "mutes.yaml"
    mutes.write_text(
        "mutes:\n"
        "  - check: sagemaker_notebook_root_access_enabled\n"
        "    resource: 'arn:aws:sagemaker:*:*:notebook-instance/intern-*'\n"
        "    reason: interns work on synthetic data only\n"
        "    owner: ml-platform\n"
    )
    db = tmp_path / "muted.db"
    region = DEMO_REGIONS[0]
    formats = ("asff", "sarif", "ocsf", "csv", "html")
    with Emulator() as emu:
        emu.reset()  # moto's state is process-wide: start from, and leave, an empty cloud
        try:
            seed_region(emu, region)
            proc = mllens("scan", "--endpoint-url", emu.url, "--db", str(db), "-r", region,
                          "--mute-file", str(mutes), "--checks",
                          "sagemaker_notebook_root_access_enabled", "-o", "json")
            for fmt in formats:
                out = mllens("report", "--db", str(db), "-f", fmt, "--output",
                             str(tmp_path / f"r.{fmt}"))
                assert out.returncode == 0, out.stderr[-2000:]
            plan = mllens("plan", "--db", str(db), "-f", "json")
            imported = mllens("report", "--db", str(db), "-f", "asff", "--output", os.devnull,
                              "--import-security-hub", "--endpoint-url", emu.url)
            hub = emu.client("securityhub", region)
            stored = [f for page in hub.get_paginator("get_findings").paginate()
                      for f in page["Findings"]]
        finally:
            emu.reset()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"1 of 1 failed findings are muted by {mutes}" in proc.stderr
    scanned = [r for r in json.loads(proc.stdout) if r["status"] == "FAIL"]
    assert [(r["muted"], r["mute_reason"], r["mute_owner"]) for r in scanned] == [
        (True, "interns work on synthetic data only", "ml-platform")]
    listed = mllens("findings", "--db", str(db), "--muted", "-o", "json")
    rows = json.loads(listed.stdout)
    assert listed.returncode == 0 and {r["region"] for r in rows} == {region}
    assert {(r["check_id"], r["resource_arn"].rsplit("/", 1)[-1], r["mute_owner"])
            for r in rows} == {("sagemaker_notebook_root_access_enabled", "intern-sandbox",
                                "ml-platform")}
    key = rows[0]["finding_id"]
    asff = {f["ProductFields"]["mllens/FindingKey"]: f
            for f in json.loads((tmp_path / "r.asff").read_text())}
    assert (asff[key]["Workflow"]["Status"], asff[key]["Compliance"]["Status"]) == (
        "SUPPRESSED", "FAILED")
    sarif = json.loads((tmp_path / "r.sarif").read_text())["runs"][0]["results"]
    assert [r["suppressions"][0]["justification"] for r in sarif if r["suppressions"]] == [
        "interns work on synthetic data only"]
    ocsf = {e["finding_info"]["uid"]: e for e in json.loads((tmp_path / "r.ocsf").read_text())}
    assert (ocsf[key]["status_id"], ocsf[key]["is_alert"]) == (3, False)
    assert "interns work on synthetic data only" in (tmp_path / "r.csv").read_text()
    html = (tmp_path / "r.html").read_text()
    assert '<div class="n">1</div><div>muted</div>' in html
    assert '<div class="n">0</div><div>open</div>' in html
    assert plan.returncode == 0 and json.loads(plan.stdout)["actions"] == []
    assert json.loads(plan.stdout)["muted_by_check"] == {
        "sagemaker_notebook_root_access_enabled": 1}
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert "1 muted set to SUPPRESSED" in imported.stderr
    assert [f["Workflow"]["Status"] for f in stored
            if f["ProductFields"]["mllens/FindingKey"] == key] == ["SUPPRESSED"]
