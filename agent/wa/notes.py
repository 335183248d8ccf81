"""The mllens block inside a notes field: found, replaced or appended, never past the limit.

Everything outside `[mllens]...[/mllens]` belongs to people and is kept byte for byte. When the
field would exceed its limit, the mllens block is shortened (whole lines first, then characters,
with a marker saying so); the human text never is. When not even a minimal block fits, the field
is left exactly as it was.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

START = "[mllens]"
END = "[/mllens]"
TRUNCATED = "… (truncated)"
_ELLIPSIS = "…"
# A start marker followed by its nearest end marker with no other start in between, so a stray
# start marker left in human text can never make a match swallow the text after it.
_BLOCK = re.compile(r"\[mllens\](?:(?!\[mllens\]).)*?\[/mllens\]", re.S)
MIN_BLOCK = len(START) + len(_ELLIPSIS) + len(END)


@dataclass(frozen=True, slots=True)
class Merged:
    text: str
    truncated: bool = False
    # False when the human text leaves no room for a block: `text` is then the input, unchanged.
    fitted: bool = True


def has_block(notes: str) -> bool:
    return _BLOCK.search(notes) is not None


def human_text(notes: str) -> str:
    """The notes without any mllens block (what people wrote)."""
    return _BLOCK.sub("", notes)


def _parts(notes: str) -> tuple[str, str]:
    """The text before the first block and after it (further blocks dropped), or the whole text
    and the separator a new block needs."""
    pieces = _BLOCK.split(notes)
    if len(pieces) > 1:
        return pieces[0], "".join(pieces[1:])
    if not notes:
        return "", ""
    if notes.endswith("\n\n"):
        return notes, ""
    return notes + ("\n" if notes.endswith("\n") else "\n\n"), ""


def _fit(lines: Sequence[str], budget: int) -> tuple[str, bool]:
    """`START + lines + END` in at most `budget` characters; whether it had to be cut."""
    full = START + "\n".join(lines) + END
    if len(full) <= budget:
        return full, False
    room = budget - len(START) - len(END)
    kept: list[str] = []
    for line in lines:
        candidate = "\n".join([*kept, line, TRUNCATED])
        if len(candidate) > room:
            break
        kept.append(line)
    if kept:
        return START + "\n".join([*kept, TRUNCATED]) + END, True
    first = lines[0] if lines else ""
    return START + first[: max(room - len(_ELLIPSIS), 0)] + _ELLIPSIS + END, True


def merge(notes: str, lines: Sequence[str], limit: int) -> Merged:
    """`notes` with its mllens block replaced by (or, if it has none, followed by) one made of
    `lines`, within `limit` characters."""
    before, after = _parts(notes)
    budget = limit - len(before) - len(after)
    if budget < MIN_BLOCK:
        return Merged(notes, fitted=False)
    block, truncated = _fit(lines, budget)
    return Merged(before + block + after, truncated=truncated)
