"""`mllens report` and `mllens plan` over a stored history, and `mllens scan -o FORMAT` end to
end against the seeded emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.domain import Status
from agent.emulator.seed import DEMO_REGIONS, seed_demo
from agent.emulator.server import Emulator
from agent.mutes import MuteRule, MuteSet
from agent.store import Store
from tests.report_data import (
    ACCOUNT,
    DATA,
    EP_UNHEALTHY,
    NB_ROOT,
    REGION,
    T0,
    arn,
    load_json,
    result,
    seed_two_scans,
)

runner = CliRunner()
EP_A, EP_B = arn("endpoint", "ep-a"), arn("endpoint", "ep-b")
NB = arn("notebook-instance", "nb-1")


def invoke(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})
    return res.exit_code, res.stdout, res.stderr


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def seeded(store: Store, db_url: str) -> tuple[str, int, int]:
    first, second = seed_two_scans(store)
    return db_url, first, second


def test_report_every_format_from_store(seeded: tuple[str, int, int], tmp_path: Path) -> None:
    """Each format renders the latest scan from the store (both engines): resolved and deleted
    findings included, OCSF and SARIF valid, trends from both scans."""
    url, _, second = seeded
    for fmt in ("json", "csv", "ocsf", "asff", "sarif", "html"):
        out = tmp_path / f"r.{fmt}"
        code, _, err = invoke("report", "--db", url, "-f", fmt, "--output", str(out))
        assert code == 0, err
        assert f"({3} findings)" in err
    statuses = {f["resource_arn"]: f["status"] for f in load_json(tmp_path / "r.json")}
    assert statuses == {EP_A: "FAIL", EP_B: "PASS", NB: "GONE"}
    states = {f["Resources"][0]["Id"]: f["RecordState"] for f in load_json(tmp_path / "r.asff")}
    assert states == {EP_A: "ACTIVE", EP_B: "ARCHIVED", NB: "ARCHIVED"}
    ocsf = jsonschema.Draft202012Validator(
        load_json(DATA / "ocsf" / "detection_finding-1.7.0-cloud.schema.json"))
    for ev in load_json(tmp_path / "r.ocsf"):
        assert not list(ocsf.iter_errors(ev))
    sarif_doc = load_json(tmp_path / "r.sarif")
    jsonschema.Draft4Validator(load_json(DATA / "sarif" / "sarif-schema-2.1.0.json")).validate(
        sarif_doc)
    assert sarif_doc["runs"][0]["automationDetails"]["id"].startswith("mllens/scan/")
    html = (tmp_path / "r.html").read_text()
    data = json.loads(html.split('id="mllens-data">', 1)[1].split("</script>", 1)[0])
    assert [p["scan"] for p in data["trend"]] == [second - 1, second]
    assert [p["status"]["FAIL"] for p in data["trend"]] == [3, 1]


def test_report_counts_open_and_muted_as_scans_does(
    seeded: tuple[str, int, int], store: Store, tmp_path: Path,
) -> None:
    """After a scan that mutes the open finding, every report of it (and of the scan before)
    splits failing findings into open and muted exactly as `mllens scans` counts them."""
    url, first, second = seeded
    third = store.start_scan({"accounts": [ACCOUNT], "regions": [REGION],
                              "checks": [EP_UNHEALTHY, NB_ROOT]})
    later = T0 + timedelta(days=2)
    store.write_account(third, ACCOUNT, [result(EP_UNHEALTHY, Status.FAIL, EP_A, at=later),
                                         result(EP_UNHEALTHY, Status.PASS, EP_B, at=later)],
                        [], [], [(REGION, "endpoints", "complete", None)],
                        {(REGION, EP_UNHEALTHY)},
                        mutes=MuteSet((MuteRule("accepted risk", check=EP_UNHEALTHY),), "m"))
    store.finish_scan(third, "complete", 3, {"status": {"FAIL": 1, "PASS": 1}})
    summaries = {s.scan.id: (s.open, s.muted) for s in store.scan_summaries()}
    assert summaries[third] == (0, 1) and summaries[second] == (1, 0)
    page = tmp_path / "r.html"
    code, _, err = invoke("report", "--db", url, "-f", "html", "--output", str(page))
    assert code == 0, err
    html = page.read_text()
    data = json.loads(html.split('id="mllens-data">', 1)[1].split("</script>", 1)[0])
    assert {p["scan"]: (p["status"]["FAIL"], p["status"]["MUTED"]) for p in data["trend"]} == {
        sid: summaries[sid] for sid in (first, second, third)}
    assert '<div class="n">0</div><div>open</div>' in html
    assert '<div class="n">1</div><div>muted</div>' in html
    code, out, _ = invoke("report", "--db", url, "-f", "json", "--status", "FAIL")
    assert [(f["resource_arn"], f["muted"], f["mute_reason"]) for f in json.loads(out)] == [
        (EP_A, True, "accepted risk")]
    code, out, _ = invoke("report", "--db", url, "-f", "json", "--scan", str(second))
    assert [f["muted"] for f in json.loads(out) if f["status"] == "FAIL"] == [False]


def test_report_of_a_past_scan_is_the_state_as_of_it(
    seeded: tuple[str, int, int], tmp_path: Path,
) -> None:
    """--scan N shows findings as they stood after scan N, and only its history."""
    url, first, _ = seeded
    code, out, err = invoke("report", "--db", url, "-f", "json", "--scan", str(first))
    assert code == 0, err
    assert {f["resource_arn"]: f["status"] for f in json.loads(out)} == {
        EP_A: "FAIL", EP_B: "FAIL", NB: "FAIL"}
    code, out, _ = invoke("report", "--db", url, "-f", "json", "--status", "FAIL",
                          "--severity", "high")
    assert [f["resource_arn"] for f in json.loads(out)] == [EP_A]


def _automation_id(sarif_text: str) -> str:
    return str(json.loads(sarif_text)["runs"][0]["automationDetails"]["id"])


def test_report_skips_unfinished_scans_by_default(store: Store, db_url: str) -> None:
    """The default is the latest finished scan; a running one is reported only when named."""
    _, second = seed_two_scans(store)
    running = store.start_scan({"accounts": ["111122223333"]})
    uid = {i: store.scan(i).uid for i in (second, running)}  # type: ignore[union-attr]
    code, out, err = invoke("report", "--db", db_url, "-f", "sarif")
    assert code == 0, err
    assert _automation_id(out) == f"mllens/scan/{uid[second]}"
    code, out, err = invoke("report", "--db", db_url, "-f", "sarif", "--scan", uid[running])
    assert code == 0, err
    assert _automation_id(out) == f"mllens/scan/{uid[running]}"


def test_report_bad_input_is_one_line(tmp_path: Path, sqlite_url: str) -> None:
    """Missing store, unknown scan, format or status: one line, the right exit code, and the
    missing store is not created."""
    missing = tmp_path / "nope.db"
    code, _, err = invoke("report", "--db", str(missing))
    assert code == 1 and "no store at" in _one_line(err) and not missing.exists()
    Store.open(sqlite_url).close()
    code, _, err = invoke("report", "--db", sqlite_url)
    assert code == 1 and "no scans" in _one_line(err)
    code, _, err = invoke("report", "--db", sqlite_url, "--scan", "424242")
    assert code == 2 and "424242" in _one_line(err)
    code, _, err = invoke("report", "--db", sqlite_url, "-f", "pdf")
    assert code == 2 and "pdf" in _one_line(err)
    code, _, err = invoke("report", "--db", sqlite_url, "--status", "BROKEN")
    assert code == 2 and "BROKEN" in _one_line(err)
    code, _, err = invoke("plan", "--db", sqlite_url, "--prod-tag", "environment")
    assert code == 2 and "KEY=VALUE" in _one_line(err)


def test_plan_from_store(store: Store, db_url: str, tmp_path: Path) -> None:
    """The plan ranks only what is still open in the latest scan, in every output form."""
    seed_two_scans(store)
    code, out, err = invoke("plan", "--db", db_url, "-f", "json")
    assert code == 0, err
    actions = json.loads(out)["actions"]
    assert [(a["rank"], a["check_id"], a["resources"]) for a in actions] == [
        (1, EP_UNHEALTHY, [EP_A])]
    assert NB_ROOT not in out
    code, out, _ = invoke("plan", "--db", db_url, "-f", "markdown")
    assert code == 0 and out.startswith("# mllens remediation plan") and "## 1." in out
    table = tmp_path / "plan.txt"
    code, _, err = invoke("plan", "--db", db_url, "--output", str(table))
    assert code == 0, err
    assert "Remediation plan: 1 actions" in table.read_text()


@pytest.fixture(scope="module")
def estate() -> Iterator[Emulator]:
    # moto's state is process-wide: start from nothing and leave nothing behind.
    with Emulator() as emu:
        emu.reset()
        seed_demo(emu)
        yield emu
        emu.reset()


def _mllens(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and not k.startswith("MLLENS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "agent.cli.main", *args], capture_output=True,
                          text=True, env=env, timeout=300, check=False)


@pytest.mark.emulator
def test_scan_writes_asff_to_stdout_and_html_to_a_file(estate: Emulator, tmp_path: Path) -> None:
    """`scan -o asff` keeps stdout parseable (summary on stderr); a second `scan -o html
    --output` writes a report whose trend holds both scans; `report --import-security-hub`
    imports the stored scan into the emulator's Security Hub."""
    db = str(tmp_path / "m.db")
    regions = [a for r in DEMO_REGIONS for a in ("-r", r)]
    first = _mllens("scan", "--endpoint-url", estate.url, "--db", db, *regions, "-o", "asff")
    assert first.returncode == 3, first.stderr[-2000:]
    findings = json.loads(first.stdout)
    assert {f["Compliance"]["Status"] for f in findings} >= {"PASSED", "FAILED", "WARNING"}
    assert "Posture by pillar" in first.stderr
    page = tmp_path / "r.html"
    second = _mllens("scan", "--endpoint-url", estate.url, "--db", db, *regions, "-o", "html",
                     "--output", str(page))
    assert second.returncode == 3, second.stderr[-2000:]
    html = page.read_text()
    data = json.loads(html.split('id="mllens-data">', 1)[1].split("</script>", 1)[0])
    assert len(data["trend"]) == 2
    assert 'class="cov failed"' in html  # eu-west-1 denies alarms and Glue configs
    imported = _mllens("report", "--db", db, "-f", "asff", "--output", str(tmp_path / "r.asff"),
                       "--import-security-hub", "--endpoint-url", estate.url)
    assert imported.returncode == 0, imported.stderr[-2000:]
    n = len(load_json(tmp_path / "r.asff"))
    assert f"Security Hub: imported {n} of {n} findings" in imported.stderr
