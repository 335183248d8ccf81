"""The mllens block in human notes: replace, append, truncate, never touch human text."""

from __future__ import annotations

from agent.wa.notes import END, MIN_BLOCK, START, TRUNCATED, has_block, human_text, merge


def test_merge_empty_notes_is_just_the_block() -> None:
    """Empty notes become the block alone, without a leading separator."""
    assert merge("", ["a", "b"], 100).text == f"{START}a\nb{END}"


def test_merge_appends_after_human_text() -> None:
    """Human notes without a block get the block appended after a blank line."""
    assert merge("owner: ana", ["x"], 100).text == f"owner: ana\n\n{START}x{END}"


def test_merge_replaces_block_in_place() -> None:
    """An existing block is replaced where it is; text before and after stays byte for byte."""
    notes = f"before\n{START}old{END}\nafter ✓"
    out = merge(notes, ["new"], 200)
    assert out.text == f"before\n{START}new{END}\nafter ✓"
    assert human_text(out.text) == human_text(notes)


def test_merge_drops_duplicate_blocks() -> None:
    """Two mllens blocks (a copy and paste) become one."""
    out = merge(f"{START}a{END} mid {START}b{END}", ["c"], 200).text
    assert out == f"{START}c{END} mid " and out.count(START) == 1


def test_merge_stray_start_marker_keeps_human_text() -> None:
    """A lone start marker in human text never makes the block swallow what follows it."""
    notes = f"see {START} tag docs\nkeep me\n{START}old{END}"
    out = merge(notes, ["new"], 200).text
    assert out == f"see {START} tag docs\nkeep me\n{START}new{END}"


def test_merge_truncates_whole_lines_first() -> None:
    """Past the limit, trailing lines give way to a truncation marker inside the block."""
    out = merge("h" * 50, ["1" * 20, "2" * 20, "3" * 20], 50 + 2 + 60)
    assert out.truncated and len(out.text) <= 112
    assert out.text == "h" * 50 + f"\n\n{START}{'1' * 20}\n{TRUNCATED}{END}"


def test_merge_cuts_a_single_line_by_characters() -> None:
    """A single line longer than the room left is cut with an ellipsis, within the limit."""
    out = merge("h" * 200, ["x" * 100], 250)
    assert out.truncated and len(out.text) == 250
    assert out.text.startswith("h" * 200 + "\n\n" + START) and out.text.endswith(f"…{END}")


def test_merge_no_room_leaves_notes_unchanged() -> None:
    """When human text leaves less than a minimal block, the field is left exactly as it was."""
    notes = "h" * (250 - MIN_BLOCK)
    out = merge(notes, ["x"], 250)
    assert not out.fitted and out.text == notes


def test_merge_replacing_reuses_the_old_block_room() -> None:
    """A block that fitted before always fits again: its room is reused when replaced."""
    notes = "h" * 230 + f"{START}ab{END}"
    assert len(notes) < 250
    out = merge(notes, ["a much longer evidence line"], 250)
    assert out.fitted and len(out.text) <= 250 and out.text.startswith("h" * 230 + START)


def test_has_block_needs_both_markers() -> None:
    """Only a start marker followed by an end marker is a block."""
    assert has_block(f"{START}x{END}") and not has_block(f"{START} no end")
