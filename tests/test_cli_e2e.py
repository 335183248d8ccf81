"""End-to-end: the `mllens` command a user types, against a seeded emulator, into SQLite."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.emulator.seed import DEMO_REGIONS, seed_demo
from agent.emulator.server import Emulator
from agent.store import Store

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def estate() -> Iterator[Emulator]:
    with Emulator() as emu:
        emu.reset()  # moto's state is process-wide: start from an empty cloud
        seed_demo(emu)
        yield emu


def mllens(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {
        k: v for k, v in os.environ.items()
        if not k.startswith("AWS_") and not k.startswith("MLLENS_")
    }
    base.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        NO_COLOR="1",
        COLUMNS="200",
    )
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "agent.cli.main", *args],
        capture_output=True, text=True, env=base, timeout=300,
    )


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines, "expected an error message on stderr"
    return " ".join(lines)


def test_scan_json_matches_store(estate: Emulator, tmp_path: Path) -> None:
    """A JSON scan exits 3, carries the promised fields, and the SQLite file holds the same."""
    db = tmp_path / "findings.db"
    args = ["scan", "--endpoint-url", estate.url, "--db", str(db), "-o", "json"]
    for r in DEMO_REGIONS:
        args += ["-r", r]
    proc = mllens(*args)
    assert proc.returncode == 3, proc.stderr[-2000:]
    findings = json.loads(proc.stdout)
    assert findings, "no findings"
    required = {"check_id", "status", "severity", "pillar", "lens_ids", "account_id", "region",
                "resource_arn", "reason", "observed_at"}
    assert all(required <= f.keys() for f in findings)
    statuses = {f["status"] for f in findings}
    assert {"PASS", "FAIL", "UNKNOWN"} <= statuses
    assert {f["region"] for f in findings} == set(DEMO_REGIONS)
    # UNKNOWN only where the seeded estate denies an API: eu-west-1 alarms / Glue configs.
    for f in findings:
        if f["status"] == "UNKNOWN" and "inventory not collected" in f["reason"]:
            assert f["region"] == "eu-west-1", f
    with sqlite3.connect(db) as con:
        stored = dict(con.execute("SELECT key, status FROM findings").fetchall())
    assert stored == {f["finding_id"]: f["status"] for f in findings}


def test_scan_ignore_exit_code_3(estate: Emulator, tmp_path: Path) -> None:
    """--ignore-exit-code-3 turns failed findings into exit code 0."""
    proc = mllens("scan", "--endpoint-url", estate.url, "--db", str(tmp_path / "x.db"),
                  "--checks", "sagemaker_endpoint_unhealthy_status", "-z")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "sagemaker_endpoint_unhealthy_status" in proc.stdout


def test_scan_unknown_check_is_usage_error(tmp_path: Path) -> None:
    """An unknown --checks name is a one-line usage error with exit code 2."""
    proc = mllens("scan", "--checks", "no_such_check", "--db", str(tmp_path / "x.db"))
    assert proc.returncode == 2
    assert "no_such_check" in _one_line_error(proc)


def test_scan_unknown_region_is_usage_error(tmp_path: Path) -> None:
    """A misspelt region is refused before any call is made."""
    proc = mllens("scan", "-r", "us-eest-1", "--db", str(tmp_path / "x.db"))
    assert proc.returncode == 2
    assert "us-eest-1" in _one_line_error(proc)


def test_scan_unreachable_postgres_is_one_line(estate: Emulator) -> None:
    """A database that cannot be reached gives exit 1 and one clear line, no traceback."""
    proc = mllens("scan", "--endpoint-url", estate.url,
                  "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert proc.returncode == 1
    assert "127.0.0.1" in _one_line_error(proc)


def test_scan_unwritable_sqlite_path_is_one_line(estate: Emulator, tmp_path: Path) -> None:
    """A SQLite path that cannot be created gives exit 1 and one clear line."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = mllens("scan", "--endpoint-url", estate.url, "--db", str(blocker / "sub" / "x.db"))
    assert proc.returncode == 1
    _one_line_error(proc)


def test_scan_without_credentials_fails_cleanly(tmp_path: Path) -> None:
    """No credentials at all: exit 1 with a message naming the cause."""
    proc = mllens(
        "scan", "--endpoint-url", "http://127.0.0.1:1", "--db", str(tmp_path / "x.db"),
        env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
             "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
             "AWS_CONFIG_FILE": str(tmp_path / "none")},
    )
    assert proc.returncode == 1
    assert "account" in _one_line_error(proc).lower()


def test_checks_list_formats() -> None:
    """checks list prints the catalog as JSON with lens IDs in both schemes."""
    proc = mllens("checks", "list", "--format", "json")
    assert proc.returncode == 0
    catalog = json.loads(proc.stdout)
    assert len(catalog) >= 25
    assert {c["pillar"] for c in catalog} == {
        "operational_excellence", "security", "reliability", "performance_efficiency",
        "cost_optimization", "sustainability",
    }
    assert all(c["lens_ids"] and c["legacy_lens_ids"] for c in catalog)
    md = mllens("checks", "list", "--format", "markdown")
    assert md.returncode == 0 and md.stdout.startswith("| Check |")


def test_scan_logs_json_with_context_and_no_secrets(estate: Emulator, tmp_path: Path) -> None:
    """Log lines are JSON off a terminal, carry scan/account/region/collector, and hold no keys."""
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    proc = mllens(
        "--log-level", "info", "scan", "--db", str(tmp_path / "x.db"),
        "--output", str(tmp_path / "out.json"), "-r", "eu-west-1",
        env={"AWS_ENDPOINT_URL": estate.url, "AWS_SECRET_ACCESS_KEY": secret,
             "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE"},
    )
    assert proc.returncode == 3, proc.stderr[-2000:]
    events = []
    for line in proc.stderr.splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    done = [e for e in events if e.get("event") == "collector_done"]
    assert done, proc.stderr[-2000:]
    assert all({"scan_id", "account", "region", "collector"} <= e.keys() for e in done)
    gaps = [e for e in events if e.get("event") == "collection_gap"]
    assert gaps and all(e["region"] == "eu-west-1" for e in gaps)
    assert secret not in proc.stderr and "AKIAIOSFODNN7EXAMPLE" not in proc.stderr
    assert json.loads((tmp_path / "out.json").read_text())


def test_scan_unknown_profile_is_usage_error(tmp_path: Path) -> None:
    """A profile that does not exist is a one-line usage error."""
    proc = mllens("scan", "--profile", "nope", "--db", str(tmp_path / "x.db"),
                  env={"AWS_CONFIG_FILE": str(tmp_path / "none")})
    assert proc.returncode == 2
    assert "nope" in _one_line_error(proc)


def test_scan_that_reads_nothing_exits_1(estate: Emulator, tmp_path: Path) -> None:
    """Every API denied: the scan is stored as failed and exits 1, never 0 ("clean")."""
    from agent.emulator.faults import access_denied

    rules = [estate.faults.add(access_denied(service=s))
             for s in ("sagemaker", "glue", "cloudwatch", "application-autoscaling",
                       "tagging")]
    try:
        proc = mllens("scan", "--endpoint-url", estate.url, "--db", str(tmp_path / "x.db"),
                      "-r", "us-east-1", "-o", "json")
    finally:
        estate.faults.clear()
    assert rules[0].hits > 0
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "the scan read nothing" in proc.stderr
    with sqlite3.connect(tmp_path / "x.db") as con:
        assert con.execute("SELECT status FROM scans").fetchall() == [("failed",)]
        assert {s for (s,) in con.execute("SELECT DISTINCT status FROM findings")} <= {
            "UNKNOWN"}


def test_scan_of_regions_not_enabled_is_complete_with_nothing_to_scan(
    estate: Emulator, tmp_path: Path
) -> None:
    """Only a region the account has not opted in to: it is skipped, as the docs say, so the
    scan is complete (exit 0), reads nothing, and says every requested region was skipped and
    why; a real failure (every API denied) still exits 1 (the test above)."""
    estate.faults.disable_region("123456789012", "ap-east-1")
    try:
        proc = mllens("scan", "--endpoint-url", estate.url, "--db", str(tmp_path / "x.db"),
                      "-r", "ap-east-1", "-o", "json")
    finally:
        estate.faults.clear()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == []
    assert "nothing to scan: every requested region was skipped" in proc.stderr
    assert "ap-east-1 not enabled in this account (opt-in status: not-opted-in)" in proc.stderr
    assert "the scan read nothing" not in proc.stderr
    with sqlite3.connect(tmp_path / "x.db") as con:
        [(status, error, summary)] = con.execute("SELECT status, error, summary FROM scans")
    assert status == "complete" and error is None
    assert "every requested region was skipped" in json.loads(summary)["nothing_to_scan"]


def test_scan_with_undescribed_resources_is_partial(estate: Emulator, tmp_path: Path) -> None:
    """A denied describe leaves its kind partial in coverage and the scan partial, not complete."""
    from agent.emulator.faults import access_denied

    estate.faults.add(access_denied(service="sagemaker", operation="DescribeNotebookInstance"))
    try:
        proc = mllens("scan", "--endpoint-url", estate.url, "--db", str(tmp_path / "x.db"),
                      "-r", "us-east-1", "-o", "json")
    finally:
        estate.faults.clear()
    assert proc.returncode == 3, proc.stderr[-2000:]
    with Store.open(f"sqlite:///{tmp_path / 'x.db'}", migrate=False) as store:
        [scan] = store.latest_scans(2)
        [row] = [c for c in store.coverage(scan.id) if c.kind == "notebook_instances"]
    assert scan.status == "partial"
    assert row.state == "partial" and row.reason and "not fully described" in row.reason


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--endpoint-url", "not a url"], {}, "is not an http(s) URL"),
        (["-r", ""], {}, "names no region"),
        (["-r", "us-eats-1", "--endpoint-url", "http://127.0.0.1:1"], {}, "'us-eats-1'"),
        (["--output", "/nonexistent/dir/out.json"], {}, "does not exist"),
        ([], {"AWS_PROFILE": "nosuch"}, "AWS configuration: The config profile (nosuch)"),
        ([], {"AWS_CONFIG_FILE": "BADCFG"}, "AWS configuration: Unable to parse config file"),
    ],
)
def test_scan_bad_setup_is_a_usage_error_before_any_call(
    tmp_path: Path, args: list[str], env: dict[str, str], expected: str
) -> None:
    """Bad flags or AWS set-up: one line, exit 2, and the store is not even created."""
    bad = tmp_path / "config"
    bad.write_text("[default\nregion = us-east-1\n")
    env = {k: str(bad) if v == "BADCFG" else v for k, v in env.items()}
    proc = mllens("scan", "--db", str(tmp_path / "x.db"), *args, env=env)
    assert proc.returncode == 2, proc.stderr
    assert expected in _one_line_error(proc)
    assert "internal error" not in proc.stderr
    assert not (tmp_path / "x.db").exists()


def test_scan_against_a_non_aws_server_says_so(tmp_path: Path) -> None:
    """An endpoint that answers HTML, not AWS: one line naming it, exit 1, within seconds."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        proc = mllens("scan", "--db", str(tmp_path / "x.db"), "--endpoint-url", url,
                      "-r", "us-east-1")
    finally:
        server.shutdown()
    assert proc.returncode == 1
    assert f"{url} did not answer like AWS STS" in _one_line_error(proc)
