"""Emulated estates several test modules scan."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from agent.emulator import Emulator
from agent.emulator.org import MANAGEMENT, clients_for, production_estate, research_estate


@contextmanager
def management_estate(region: str = "us-east-1") -> Iterator[Emulator]:
    """A fresh emulator whose default account holds the production and research estates."""
    with Emulator() as e:
        e.reset()
        c = clients_for(e, MANAGEMENT, region)
        production_estate(e, c, MANAGEMENT, region)
        research_estate(e, c, MANAGEMENT, region)
        yield e
        e.reset()
