"""docs/configuration.md says what the code does: the output formats, which command reads which
section, and `config check`'s summary of the regions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from agent.cli.main import app
from agent.config import OUTPUT_FORMATS, settings_model
from agent.reports import names as report_formats
from checks import all_checks

pytestmark = pytest.mark.usefixtures("clean_mllens_env")

DOC = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()


def _section(title: str) -> str:
    body = DOC.split(f"\n## {title}\n", 1)
    assert len(body) == 2, f"no section {title!r}"
    return body[1].split("\n## ", 1)[0]


def test_docs_outputs_formats_lists_every_format() -> None:
    """The [outputs] formats row names each format the settings accept, which are the report
    formats."""
    row = next(ln for ln in DOC.splitlines() if ln.startswith("| `formats` |"))
    assert set(re.findall(r"`([a-z]+)`", row.split("|")[3])) == set(OUTPUT_FORMATS)
    assert set(OUTPUT_FORMATS) == set(report_formats())


def _commands(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):  # typer's own click: compare by attribute
            yield from _commands(cmd, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", cmd


def test_docs_say_what_reads_which_section() -> None:
    """The section names every settings section and every command that takes --config."""
    text = _section("What reads which section")
    for name in settings_model(all_checks()).model_fields:
        assert f"`{name}`" in text or f"`{name}." in text, name
    takes_config = [name for name, cmd in _commands(typer.main.get_command(app))
                    if any("--config" in getattr(p, "opts", ()) for p in cmd.params)]
    assert len(takes_config) >= 10
    table = text.split("| Command | Reads |", 1)[1]
    for name in takes_config:
        forms = (f"`mllens {name}`", f"`mllens {name} ", f"`{name}`")
        assert any(form in table for form in forms), name
    assert "today" not in text and "as they land" not in text


@pytest.mark.parametrize("regions,expected", [
    (None, "targets the caller's account in every enabled region;"),
    ("us-east-1,eu-west-1", "targets the caller's account in us-east-1, eu-west-1;"),
])
def test_config_check_summary_names_the_regions(regions: str | None, expected: str) -> None:
    """No regions means every region each account has enabled, and the summary says so."""
    env = {"NO_COLOR": "1"}
    if regions:
        env["MLLENS_TARGETS__REGIONS"] = regions
    result = CliRunner().invoke(app, ["config", "check"], env=env)
    assert result.exit_code == 0, result.output
    assert expected in result.stdout
    assert "default region" not in result.stdout
