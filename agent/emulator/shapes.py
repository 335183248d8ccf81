"""Check a parsed AWS answer against botocore's output shape for its operation.

botocore validates what a client sends (`ParamValidator`) but trusts what it receives: a field
an emulator forgets, a status outside the enum or a string where a number belongs passes straight
through to the caller. The emulator's tests run every answer through `validate_output` so the
emulator cannot drift from the service model the real services answer with.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

_IGNORED_TOP_LEVEL = frozenset({"ResponseMetadata"})


def operation_model(service: str, operation: str) -> OperationModel:
    """The botocore model of one operation, e.g. ("sagemaker", "ListMonitoringSchedules")."""
    session = botocore.session.get_session()
    return session.get_service_model(service).operation_model(operation)


def validate_output(service: str, operation: str, response: Mapping[str, Any]) -> list[str]:
    """Every way `response` (as a boto3 client returns it) breaks the operation's output shape.

    Checks that required members are present, that no member is unknown to the model, that
    values have the model's types and that enum strings are members of their enum. Returns the
    problems as `path: reason` strings; an empty list means the answer is valid.
    """
    shape = operation_model(service, operation).output_shape
    problems: list[str] = []
    if shape is None:
        extra = set(response) - _IGNORED_TOP_LEVEL
        if extra:
            problems.append(f"$: operation has no output but got {sorted(extra)}")
        return problems
    body = {k: v for k, v in response.items() if k not in _IGNORED_TOP_LEVEL}
    _check(shape, body, "$", problems)
    return problems


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if isinstance(shape, StructureShape):
        _check_structure(shape, value, path, problems)
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            problems.append(f"{path}: expected list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _check(shape.member, item, f"{path}[{i}]", problems)
    elif isinstance(shape, MapShape):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected map, got {type(value).__name__}")
            return
        for k, v in value.items():
            _check(shape.key, k, f"{path}.<key {k!r}>", problems)
            _check(shape.value, v, f"{path}[{k!r}]", problems)
    else:
        _check_scalar(shape, value, path, problems)


def _check_structure(shape: StructureShape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(f"{path}: expected structure {shape.name}, got {type(value).__name__}")
        return
    members = shape.members
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(f"{path}.{name}: required member missing")
    for name, member_value in value.items():
        member = members.get(name)
        if member is None:
            problems.append(f"{path}.{name}: not a member of {shape.name}")
            continue
        _check(member, member_value, f"{path}.{name}", problems)


def _check_scalar(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    ok: bool
    if kind == "string":
        ok = isinstance(value, str)
        enum = shape.enum
        if ok and enum and value not in enum:
            problems.append(f"{path}: {value!r} is not in enum {shape.name}")
    elif kind in ("integer", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind in ("float", "double"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind == "timestamp":
        ok = isinstance(value, datetime)
    elif kind == "blob":
        ok = isinstance(value, bytes | bytearray) or hasattr(value, "read")
    else:  # a shape type this checker does not know is reported, never silently passed
        problems.append(f"{path}: unchecked shape type {kind}")
        return
    if not ok:
        problems.append(f"{path}: expected {kind} ({shape.name}), got {type(value).__name__}")
