"""Filters and sorting shared by the emulator's own List operations."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]


def equals(field: str, wanted: Any) -> Predicate:
    if wanted is None:
        return lambda _: True
    return lambda item: item.get(field) == wanted


def contains(field: str, fragment: str | None) -> Predicate:
    if not fragment:
        return lambda _: True
    return lambda item: fragment.lower() in str(item.get(field, "")).lower()


def time_filters(self: Any, fields: Iterable[str]) -> list[Predicate]:
    """`<Field>Before` / `<Field>After` request parameters as predicates on `<Field>`."""
    out: list[Predicate] = []
    for field in fields:
        before = self._get_param(f"{field}Before")
        after = self._get_param(f"{field}After")
        if before is not None:
            out.append(_earlier(field, _aware(before)))
        if after is not None:
            out.append(_later(field, _aware(after)))
    return out


def _earlier(field: str, limit: datetime) -> Predicate:
    return lambda item: item[field] < limit


def _later(field: str, limit: datetime) -> Predicate:
    return lambda item: item[field] > limit


def sorted_by(items: Iterable[dict[str, Any]], key: str, order: str) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: item[key], reverse=order == "Descending")


def _aware(value: Any) -> datetime:
    # moto's request parser yields datetimes; be lenient with epoch numbers and ISO text too.
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
