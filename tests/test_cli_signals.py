"""The scan's signal guard: SIGINT, SIGTERM and SIGHUP each end a scan as interrupted."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from agent.cli.scan_run import SIGNAL_EXIT, Interrupted, _guarded


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_guard_turns_a_signal_into_interrupted(sig: signal.Signals) -> None:
    """A signal during the scan cancels it and names itself, with the shell's exit code."""

    async def scan() -> None:
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), sig)
        await asyncio.sleep(30)

    with pytest.raises(Interrupted) as exc:
        asyncio.run(_guarded(scan()))
    assert exc.value.signal_name == sig.name
    assert SIGNAL_EXIT[sig.name] == 128 + sig.value


def test_guard_leaves_handlers_as_they_were() -> None:
    """After the scan, SIGHUP's handler is back to what it was before."""
    before = signal.getsignal(signal.SIGHUP)

    async def scan() -> int:
        return 7

    assert asyncio.run(_guarded(scan())) == 7
    assert signal.getsignal(signal.SIGHUP) == before
