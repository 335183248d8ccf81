"""Offset pagination for the operations the emulator answers or re-pages itself."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, TypeVar

from moto.core.exceptions import ServiceException

T = TypeVar("T")

_PREFIX = "mllens-emulator:"


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{offset}".encode()).decode()


def decode_token(token: str, error_code: str = "ValidationException") -> int:
    try:
        raw = base64.urlsafe_b64decode(token.encode()).decode()
        if not raw.startswith(_PREFIX):
            raise ValueError(raw)
        offset = int(raw[len(_PREFIX):])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ServiceException(error_code, f"Invalid pagination token {token!r}") from exc
    if offset < 0:
        raise ServiceException(error_code, f"Invalid pagination token {token!r}")
    return offset


def page(
    items: Sequence[T],
    max_results: Any,
    token: str | None,
    default_max: int,
    error_code: str = "ValidationException",
) -> tuple[list[T], str | None]:
    """One page of `items` and the token for the next page (None on the last page)."""
    start = decode_token(token, error_code) if token else 0
    size = int(max_results) if max_results else default_max
    end = start + size
    next_token = encode_token(end) if end < len(items) else None
    return list(items[start:end]), next_token
