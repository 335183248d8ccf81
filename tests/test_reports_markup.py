"""Untrusted names and messages print as themselves in every terminal table."""

from __future__ import annotations

from rich.console import Console

from agent.domain import Gap, GapKind, Kind, Pillar, Result, Severity, Status
from agent.reports.tables import findings_table, gaps_table

NASTY = "oops[/bold] [bold red]x[/] [primary]"


def _render(table: object) -> str:
    console = Console(record=True, width=400, color_system=None)
    console.print(table)
    return console.export_text()


def test_tables_findings_print_markup_like_text_literally() -> None:
    """A resource, variant and reason holding rich markup show verbatim, without crashing."""
    r = Result("cloudwatch_alarm_no_actions", Status.FAIL,
               f"arn:aws:cloudwatch:us-east-1:111122223333:alarm:{NASTY}", NASTY,
               "111122223333", "us-east-1", Severity.HIGH, Pillar.OPERATIONAL_EXCELLENCE,
               sub_resource="primary")
    text = _render(findings_table([r]))
    assert text.count(NASTY) == 2 and "[primary]" in text


def test_tables_gaps_print_messages_and_accounts_literally() -> None:
    """A gap's message is AWS's text, shown as is, with the account it belongs to."""
    g = Gap("111122223333", "eu-west-1", "glue", "GetJobs", GapKind.ACCESS_DENIED, NASTY,
            kinds=(Kind.GLUE_JOBS,))
    text = _render(gaps_table([g]))
    assert NASTY in text and "111122223333" in text


def test_tables_findings_name_the_account_when_there_are_several() -> None:
    """The same resource name in two accounts shows on two rows told apart by the account; a
    single account's table has no account column."""
    def row(account: str) -> Result:
        return Result("sagemaker_endpoint_unhealthy_status", Status.FAIL,
                      f"arn:aws:sagemaker:us-east-1:{account}:endpoint/ranker", "failed",
                      account, "us-east-1", Severity.HIGH, Pillar.RELIABILITY)

    two = _render(findings_table([row("111122223333"), row("444455556666")]))
    assert "Account" in two and "111122223333" in two and "444455556666" in two
    one = _render(findings_table([row("111122223333")]))
    assert "Account" not in one


def test_tables_findings_mark_muted_ones_and_list_them_last() -> None:
    """Read back from the store, a muted finding says `(muted)` with the mute's reason and
    comes after the open ones; an expired mute shows as open."""
    from tests.report_data import muted_findings

    text = _render(findings_table(muted_findings()))
    lines = [ln for ln in text.splitlines() if "FAIL" in ln or "UNKNOWN" in ln]
    assert "Findings (3 muted)" in text  # muted of any status, as `mllens findings` counts
    assert [("(muted)" in ln, "ep-" in ln) for ln in lines] == [
        (False, True), (False, True), (True, False), (True, False)]
    assert "— muted: accepted risk" in lines[2] and "muted" not in lines[0]
