"""`mllens findings`, `trends`, `diff`, `scans` and `scan --mute-file`: exit codes, one-line
errors, and machine output that parses, over the hand-computed history."""

from __future__ import annotations

import csv
import io
import json
import shutil
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.mutes import MuteRule
from agent.store import Store
from tests.history_helpers import C1, C2, B, Clock, build_history

pytestmark = pytest.mark.usefixtures("clean_mllens_env")

# Without an expiry, the mute reads the same whatever day the suite runs.
MUTE = MuteRule("accepted while B is decommissioned", account=B, check=C1, owner="ml-platform")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    path = tmp_path_factory.mktemp("history") / "history.db"
    with Store.open(f"sqlite:///{path}", clock=(clock := Clock())) as store:
        return path, build_history(store, clock, MUTE)


@pytest.fixture
def db(built: tuple[Path, list[int]], tmp_path: Path) -> str:
    """A copy of the built history, so no test sees another's changes."""
    copy = tmp_path / "history.db"
    shutil.copyfile(built[0], copy)
    return str(copy)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_cli_findings_json_lists_open_findings(db: str) -> None:
    """By default, the open findings now, as JSON with muted status and lifecycle fields."""
    code, out, _ = run("findings", "--db", db, "-o", "json")
    assert code == 0
    rows = json.loads(out)
    got = {(r["check_id"], r["resource_arn"].rsplit("/", 1)[-1], r["muted"]) for r in rows}
    assert got == {(C1, "r1", False), (C1, "r3", True), (C2, "r4", False)}
    r1 = next(r for r in rows if r["resource_arn"].endswith("/r1"))
    assert r1["reopened_at"].startswith("2026-12-02T16:00") and r1["lens_ids"]
    muted = next(r for r in rows if r["muted"])
    assert (muted["mute_reason"], muted["mute_owner"]) == (MUTE.reason, "ml-platform")


def test_cli_findings_filters_as_of_and_csv(db: str, built: tuple[Path, list[int]]) -> None:
    """--as-of a scan or a time, --status all, --muted/--hide-muted, and CSV output."""
    s1 = built[1][0]
    code, out, _ = run("findings", "--db", db, "--as-of", str(s1), "-o", "json")
    assert code == 0 and {(r["check_id"], r["resource_arn"][-2:]) for r in json.loads(out)} == {
        (C1, "r1"), (C2, "r1"), (C1, "r3")}
    code, out, _ = run("findings", "--db", db, "--as-of", "2026-12-02T12:00Z", "--status",
                       "pass", "-o", "json")
    assert code == 0 and [r["resource_arn"][-2:] for r in json.loads(out)] == ["r1"]
    code, out, _ = run("findings", "--db", db, "--status", "all", "--check", C2, "-o", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and {(r["status"], r["resource_arn"][-2:]) for r in rows} == {
        ("GONE", "r1"), ("FAIL", "r4")}
    code, out, _ = run("findings", "--db", db, "--muted", "-o", "json")
    assert code == 0 and [r["muted"] for r in json.loads(out)] == [True]
    code, out, _ = run("findings", "--db", db, "--hide-muted", "--severity", "high")
    assert code == 0 and "r1" in out and "r3" not in out
    # The table counts open and muted as `mllens scans` does: r1 and r4 open, r3 muted.
    code, out, _ = run("findings", "--db", db)
    assert code == 0 and "3 findings now: 2 open, 1 muted" in out and "FAIL (muted)" in out


def test_cli_findings_errors_are_one_line(db: str, tmp_path: Path) -> None:
    """Unknown scan or value: usage error 2; missing or unreachable store: 1; one line."""
    for args, code, needle in (
        (("--as-of", "nope"), 2, "no scan 'nope'"),
        (("--since", "yesterday"), 2, "invalid --since"),
        (("--status", "broken"), 2, "unknown status"),
        (("--severity", "urgent"), 2, "unknown severity"),
        (("--muted", "--hide-muted"), 2, "exclude each other"),
        (("-o", "yaml"), 2, "unknown output format"),
    ):
        got, _, err = run("findings", "--db", db, *args)
        assert got == code and needle in one_line(err), (args, err)
    got, _, err = run("findings", "--db", str(tmp_path / "absent.db"))
    assert got == 1 and "no store at" in one_line(err)
    assert not (tmp_path / "absent.db").exists()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    got, _, err = run("scans", "--db", f"postgresql+psycopg://nobody@127.0.0.1:{port}/x")
    assert got == 1 and "cannot open database" in one_line(err)


def test_cli_trends_json_and_table(db: str) -> None:
    """Trends per day by pillar match the hand count; the table has a total row."""
    code, out, _ = run("trends", "--db", db, "--since", "2026-12-01", "-o", "json")
    assert code == 0
    got = {(p["bucket"], p["group"]): (p["open"], p["muted"], p["new"], p["resolved"])
           for p in json.loads(out)}
    assert got[("2026-12-03", "security")] == (1, 1, 0, 1)
    assert got[("2026-12-02", "reliability")] == (0, 0, 0, 1)
    code, out, _ = run("trends", "--db", db, "--per", "scan", "--by", "account")
    assert code == 0 and "Total" in out and "111111111111" in out
    code, _, err = run("trends", "--db", db, "--per", "week")
    assert code == 2 and "--per" in one_line(err)


def test_cli_diff_defaults_to_last_two_scans(db: str, built: tuple[Path, list[int]]) -> None:
    """No argument: the last two scans; --fail-on-new exits 3; an unknown scan is usage."""
    s1, _, s3, s4 = built[1]
    code, out, _ = run("diff", "--db", db, "-o", "json")
    doc = json.loads(out)
    assert code == 0 and (doc["before"]["id"], doc["after"]["id"]) == (s3, s4)
    assert doc["counts"] == {"new": 1, "resolved": 1, "changed": 1}
    code, out, _ = run("diff", str(s1), "--db", db, "-o", "csv")
    assert code == 0 and {r["change"] for r in csv.DictReader(io.StringIO(out))} == {
        "new", "resolved", "changed"}
    code, out, _ = run("diff", "--db", db, "--fail-on-new")
    assert code == 3 and "1 new" in out
    code, _, err = run("diff", str(s1), "999", "--db", db)
    assert code == 2 and "no scan '999'" in one_line(err)


def test_cli_scans_lists_coverage_and_changes(db: str, built: tuple[Path, list[int]]) -> None:
    """Scans newest first with accounts, coverage, new and resolved counts."""
    code, out, _ = run("scans", "--db", db, "-o", "json")
    rows = json.loads(out)
    assert code == 0 and [r["id"] for r in rows] == built[1][::-1]
    assert (rows[0]["accounts"], rows[0]["new"], rows[0]["resolved"], rows[0]["muted"]) == (
        2, 1, 1, 1)
    code, out, _ = run("scans", "--db", db, "--limit", "1")
    assert code == 0 and "2/2 complete" in out


def test_cli_history_on_empty_store(tmp_path: Path) -> None:
    """An empty store: empty JSON and CSV, a one-line note, and diff says what it needs."""
    db = str(tmp_path / "empty.db")
    Store.open(f"sqlite:///{db}").close()
    code, out, err = run("findings", "--db", db, "-o", "json")
    assert code == 0 and json.loads(out) == [] and "no scans yet" in one_line(err)
    code, out, _ = run("trends", "--db", db, "-o", "csv")
    assert code == 0 and out.startswith("bucket,at,scan_id,group")
    code, out, _ = run("scans", "--db", db)
    assert code == 0 and out == ""
    code, _, err = run("diff", "--db", db)
    assert code == 1 and "needs two complete or partial scans" in one_line(err)


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("mutes.yaml", "mutes:\n  - check: sagemaker_notebook_root_access_enabled\n",
         "mute #1: 'reason' is required"),
        ("mutes.yaml", 'mutes:\n  - check: "*"\n    reason: r\n',
         "mute #1: matches every finding (check '*' matches anything)"),
        ("mutes.yaml", 'mutes:\n  - resource: "*"\n    region: "*"\n    reason: r\n',
         "mute #1: matches every finding (region '*' and resource '*' match anything)"),
        ("mutes.yaml", "mutes:\n  - check: glue_job_*\n    reason: x\n"
         "    expires: 2027-13-45\n",
         "mute #1: expires: '2027-13-45' is not a valid date or time (month must be in 1..12)"),
        ("mutes.toml", '[[mutes]]\ncheck = "glue_job_*"\nreason = "x"\n'
         "expires = 2027-13-45\n", "mute #1: not valid TOML"),
        ("mutes.toml", '[[mutes]]\ncheck = "glue_job_*"\nreason = "x"\n'
         "expires = 0001-01-01T00:00:00+01:00\n",
         "mute #1: expires 0001-01-01T00:00:00+01:00 is out of range"),
    ],
)
def test_cli_scan_rejects_bad_mute_file_before_scanning(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    """A malformed mute file (a missing reason, a rule that mutes everything, a value YAML or
    TOML cannot build) is a one-line usage error naming it and the rule; no store is
    created."""
    bad = tmp_path / name
    bad.write_text(text)
    db = tmp_path / "x.db"
    code, _, err = run("scan", "--mute-file", str(bad), "--db", str(db),
                       "--endpoint-url", "http://127.0.0.1:1", "-r", "us-east-1")
    assert code == 2 and problem in one_line(err)
    assert f"mute file {bad}: " in err and not db.exists()


def test_queries_refuse_unknown_checks_and_times_before_history(tmp_path: Path) -> None:
    """A typo in a check ID, or a time before the first scan, is an error, not "0 findings"."""
    db = tmp_path / "h.db"
    with Store.open(f"sqlite:///{db}") as store:
        sid = store.start_scan({"accounts": []})
        store.finish_scan(sid, "complete", 0, {})
    for args, message in (
        (["findings", "-c", "no_such_check"], "unknown check 'no_such_check'"),
        (["trends", "-c", "no_such_check"], "unknown check 'no_such_check'"),
        (["diff", "-c", "no_such_check"], "unknown check 'no_such_check'"),
        (["findings", "--as-of", "2020-01-01"], "no finished scan started at or before"),
    ):
        result = CliRunner().invoke(app, [*args, "--db", str(db)], env={"COLUMNS": "200"})
        assert result.exit_code == 2 and message in result.stderr, (args, result.stderr)


def test_queries_on_a_store_of_interrupted_scans_say_nothing_is_known(tmp_path: Path) -> None:
    """With only interrupted scans, `findings` says nothing is known instead of "0 findings"."""
    db = tmp_path / "h.db"
    with Store.open(f"sqlite:///{db}") as store:
        sid = store.start_scan({"accounts": []})
        store.finish_scan(sid, "interrupted", 0, {}, "killed")
    result = CliRunner().invoke(app, ["findings", "--db", str(db)], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "no complete or partial scan yet" in result.stderr
    assert "interrupted" in result.stderr


@pytest.mark.parametrize("value", ["", "sqlite://", "sqlite:///:memory:",
                                   "sqlite:///file::memory:?cache=shared"])
def test_db_that_would_lose_the_history_is_refused(value: str) -> None:
    """An empty --db or an in-memory database is a usage error, for readers and scans alike."""
    for command in (["scans"], ["scan", "--endpoint-url", "http://127.0.0.1:1"]):
        result = CliRunner().invoke(app, [*command, "--db", value], env={"COLUMNS": "200"})
        assert result.exit_code == 2, (command, value, result.stderr)


@pytest.mark.parametrize("command", [["findings"], ["scans"], ["report"], ["plan"],
                                     ["coverage"], ["checks", "list"]])
def test_every_format_option_takes_both_spellings(command: list[str], tmp_path: Path) -> None:
    """-f/--format and -o/--output-format mean the same on every command that prints."""
    db = tmp_path / "h.db"
    with Store.open(f"sqlite:///{db}") as store:
        sid = store.start_scan({"accounts": []})
        store.finish_scan(sid, "complete", 0, {})
    extra = [] if command[0] == "checks" else ["--db", str(db)]
    outs = []
    for flag in ("-f", "-o", "--format", "--output-format"):
        result = CliRunner().invoke(app, [*command, flag, "json", *extra],
                                    env={"COLUMNS": "200"})
        assert result.exit_code == 0, (flag, result.stderr)
        outs.append(json.loads(result.stdout))
    assert all(o == outs[0] for o in outs)
