"""`mllens wa-sync` as a user runs it: usage errors, dry-run JSON, apply output, failures."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import typer
from botocore.stub import Stubber
from typer.testing import CliRunner

from agent.cli import wa_cmd
from agent.cli.main import app
from agent.domain import Status
from agent.store import Store
from agent.wa.sync import SyncOptions
from tests.test_wa_fakes import (
    ACCOUNT,
    LEGACY_QUESTIONS,
    SCALING,
    SCAN_UID,
    WA_REGION,
    WID,
    Review,
    StubSession,
    result,
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A store whose one scan passes every scaling check in the workload's account."""
    url = f"sqlite:///{tmp_path_factory.mktemp('wacli') / 'mllens.db'}"
    with Store.open(url) as s:
        scan_id = s.start_scan({}, uid=SCAN_UID)
        s.write_account(scan_id, ACCOUNT, [result(c, Status.PASS, "ep-a") for c in SCALING],
                        [], [], [], set())
        s.finish_scan(scan_id, "complete", 0, {})
        yield s


def _reads(review: Review) -> Callable[[Stubber], None]:
    def setup(stub: Stubber) -> None:
        review.reads(stub)
        review.get_answer(stub, "OPS4")  # read (for stale mllens blocks), left unchanged
        review.get_answer(stub, "REL1")

    return setup


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workload-id", "not-an-id"], "invalid workload"),
        (["-w", WID, "--account", "12345"], "invalid account ID"),
        (["-w", WID, "--tag", "novalue"], "expected KEY=VALUE"),
        (["-w", WID, "-o", "yaml"], "unknown output format"),
        (["-w", WID, "--wa-region", "mars-north-1"], "not available in region"),
    ],
)
def test_wa_sync_cli_usage_errors(args: list[str], message: str, tmp_path: Path) -> None:
    """Bad input is one line and exit code 2, before any AWS call or store access."""
    result = CliRunner().invoke(app, ["wa-sync", *args, "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_wa_sync_cli_missing_store_is_an_error(tmp_path: Path) -> None:
    """A store file that does not exist is reported (exit 1), and not created."""
    missing = tmp_path / "none.db"
    result = CliRunner().invoke(app, ["wa-sync", "-w", WID, "--wa-region", WA_REGION,
                                      "--db", str(missing)])
    assert result.exit_code == 1 and "no store at" in result.output
    assert not missing.exists()


def test_wa_sync_cli_workload_arn_names_region() -> None:
    """A workload ARN gives both the ID and the region of the WA Tool API."""
    arn = f"arn:aws:wellarchitected:eu-west-2:{ACCOUNT}:workload/{WID}"
    assert wa_cmd.parse_workload(arn) == (WID, "eu-west-2")
    assert wa_cmd.wa_region(None, "eu-west-2", None) == "eu-west-2"


def test_wa_sync_execute_json_dry_run(db: Store, capsys: pytest.CaptureFixture[str]) -> None:
    """The JSON dry run carries each planned UpdateAnswer and says nothing was written."""
    review = Review(LEGACY_QUESTIONS)
    options = SyncOptions(workload_id=WID, region=WA_REGION)
    report = wa_cmd.execute(options, db, lambda: StubSession(_reads(review)))
    wa_cmd.render(report, "json")
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["apply"] is False and doc["written"] == []
    ops, rel = doc["questions"]
    assert ops["question_id"] == "OPS4" and ops["changed"] is False
    assert ops["update_answer"] is None
    assert rel["question_id"] == "REL1" and rel["changed"] is True
    assert rel["update_answer"]["ChoiceUpdates"]["REL1_3"]["Status"] == "UNSELECTED"
    assert rel["choices"][0]["passing"] is True
    assert "Dry run: would update 1 answer (1 choice note, 0 selections)" in out.err
    assert "nothing written" in out.err


def test_wa_sync_execute_apply_reports_writes(
    db: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """--apply prints each answer as it is written and a summary of what was written."""
    review = Review(LEGACY_QUESTIONS)

    def setup(stub: Stubber) -> None:
        _reads(review)(stub)
        stub.add_response("update_answer", {"WorkloadId": WID, "LensAlias": "machinelearning"},
                          None)

    options = SyncOptions(workload_id=WID, region=WA_REGION, apply=True, select_passing=True)
    report = wa_cmd.execute(options, db, lambda: StubSession(setup))
    wa_cmd.render(report, "table")
    out = capsys.readouterr()
    assert "updated REL1" in out.err
    assert "Wrote 1 answer (1 choice note, 1 selection)." in out.out


def test_wa_sync_execute_denied_exits_1(db: Store, capsys: pytest.CaptureFixture[str]) -> None:
    """Access denied is one line on stderr and exit code 1."""

    def setup(stub: Stubber) -> None:
        stub.add_client_error("get_workload", "AccessDeniedException", "not authorized", 403)

    options = SyncOptions(workload_id=WID, region=WA_REGION, apply=True)
    with pytest.raises(typer.Exit) as exit_:
        wa_cmd.execute(options, db, lambda: StubSession(setup))
    assert exit_.value.exit_code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("mllens: access denied: wellarchitected:GetWorkload")
    assert err.endswith("nothing was written")
