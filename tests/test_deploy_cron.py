"""deploy/cron/mllens.crontab does what its comments say: the scan's output goes to the log
file, a run that works prints nothing (no mail), and one that exits non-zero prints its exit
code and the log's last lines for cron to mail; the log directory's creation is documented."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_deploy import DEPLOY, _cron_entries

LOG_DIR = "/var/log/mllens"


def _run_entry(line: str, tmp_path: Path, rc: int) -> subprocess.CompletedProcess[str]:
    """The entry's command as cron runs it (sh -c, the crontab's PATH first), with a stand-in
    `mllens` that logs a line and exits `rc`, and the log and lock moved under tmp_path."""
    command = line.split(None, 5)[5]
    command = command.replace(LOG_DIR, str(tmp_path / "log"))
    command = command.replace("/tmp/mllens-scan.lock", str(tmp_path / "scan.lock"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "mllens"
    fake.write_text(f"#!/bin/sh\necho \"mllens $*\"\necho 'scan error line' >&2\nexit {rc}\n")
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    return subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, env=env,
                          timeout=30, check=False)


@pytest.mark.skipif(shutil.which("flock") is None, reason="needs util-linux flock")
def test_crontab_mails_only_failed_runs_and_logs_everything(tmp_path: Path) -> None:
    """Exit 0 (or 3, ignored by -z in the real command): nothing printed, output logged. Exit
    1: the exit code and the log's tail are printed, so cron mails them."""
    (line,) = _cron_entries()
    (tmp_path / "log").mkdir()
    ok = _run_entry(line, tmp_path, 0)
    assert ok.returncode == 0 and ok.stdout == "" and ok.stderr == ""
    log = (tmp_path / "log" / "scan.log").read_text()
    assert "mllens scan --region us-east-1" in log and "scan error line" in log
    failed = _run_entry(line, tmp_path, 1)
    mailed = failed.stdout + failed.stderr
    assert "mllens scan exited 1" in mailed and "scan error line" in mailed
    assert (tmp_path / "log" / "scan.log").read_text().count("scan error line") == 2


@pytest.mark.skipif(shutil.which("flock") is None, reason="needs util-linux flock")
def test_crontab_without_log_directory_is_mailed(tmp_path: Path) -> None:
    """A missing log directory is not silent: the shell's error reaches cron's mail."""
    (line,) = _cron_entries()
    out = _run_entry(line, tmp_path, 0)
    assert "mllens scan exited" in out.stdout + out.stderr


def test_crontab_says_how_the_log_directory_is_created() -> None:
    """The file (and the deploy guide) tell how /var/log/mllens comes to exist."""
    text = (DEPLOY / "cron" / "mllens.crontab").read_text()
    assert f"install -d -o mllens -g mllens -m 0750 {LOG_DIR}" in text
    guide = (DEPLOY.parent / "docs" / "deploy.md").read_text()
    assert f"install -d -o mllens -g mllens -m 0750 {LOG_DIR}" in guide
