"""Read commands work on a store the user may only read (an archive, a read-only mount)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.store import Store

REPO = Path(__file__).resolve().parent.parent
NOBODY = 65534


def _reachable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents) if p.is_dir())


def _runner() -> list[str]:
    """How to run mllens as a user without write access: this user when not root; as root,
    `setpriv` to nobody (root reads and writes whatever the mode bits say)."""
    if os.geteuid() != 0:
        return [sys.executable]
    setpriv = shutil.which("setpriv")
    python = Path(sys.executable)
    if setpriv is None or not (_reachable_by_others(REPO) and _reachable_by_others(python)):
        pytest.skip("running as root without setpriv, or the checkout is not readable by "
                    "other users: cannot drop write access")
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "--inh-caps=-all", sys.executable]


@pytest.fixture
def archive() -> Iterator[Path]:
    """A store with one finished scan, in a directory and file nobody may write."""
    base = Path(tempfile.mkdtemp(prefix="mllens-ro-"))
    path = base / "history.db"
    with Store.open(f"sqlite:///{path}") as store:
        sid = store.start_scan({"accounts": []})
        store.finish_scan(sid, "complete", 0, {})
    base.chmod(0o755)
    path.chmod(0o444)
    base.chmod(0o555)
    try:
        yield path
    finally:
        base.chmod(0o755)
        shutil.rmtree(base)


@pytest.mark.parametrize("command", [["scans"], ["findings"], ["trends", "--per", "scan"],
                                     ["coverage"], ["report", "-f", "json"], ["plan"]])
def test_read_commands_work_on_a_read_only_store(archive: Path, command: list[str]) -> None:
    """Each read command answers from a read-only file in a read-only directory, exit 0."""
    before = archive.read_bytes()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLLENS_")}
    env.update(COLUMNS="200", NO_COLOR="1", HOME=tempfile.gettempdir())
    proc = subprocess.run([*_runner(), "-m", "agent.cli.main", *command, "--db", str(archive)],
                          capture_output=True, text=True, env=env, cwd=tempfile.gettempdir(),
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "cannot write" not in proc.stderr and "Traceback" not in proc.stderr
    assert archive.read_bytes() == before
