"""wa-sync calls only what its IAM policy grants: the declared ACTIONS are the source of truth."""

from __future__ import annotations

import ast
from pathlib import Path

from agent.iam import Principal, policy
from agent.wa.api import ACTIONS, SERVICE

WA_DIR = Path(__file__).resolve().parent.parent / "agent" / "wa"


def _called_operations() -> set[str]:
    """Operation names passed as string literals to the module's own `_call`/`_pages` helpers
    (first argument) or to the handle's `call`/`pages` (second argument, after the service)."""
    position = {"_call": 0, "_pages": 0, "call": 1, "pages": 1}
    found: set[str] = set()
    for path in WA_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            at = position.get(node.func.attr)
            if at is None or len(node.args) <= at:
                continue
            arg = node.args[at]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
    return found


def test_wa_iam_declared_actions_equal_the_calls_in_the_code() -> None:
    """Every WA Tool operation the code names is declared, and nothing declared goes unused."""
    called = _called_operations()
    assert called, "found no WA Tool calls: the scan of the source is broken"
    assert called == {op for op, _ in ACTIONS}


def test_wa_iam_policy_grants_exactly_the_declared_actions() -> None:
    """The wa-sync policy document holds the declared actions and nothing of a scan."""
    doc = policy(Principal.WA_SYNC)
    granted = {a for st in doc["Statement"] for a in st["Action"]}
    assert granted == {f"{SERVICE}:{op}" for op, _ in ACTIONS}
    scan_docs = (policy(Principal.AUDIT), policy(Principal.SCANNER))
    assert not any(a.startswith("wellarchitected:")
                   for d in scan_docs for st in d["Statement"] for a in st["Action"])
