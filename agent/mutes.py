"""Suppressions: a mute file of rules that mark matching findings as muted, never dropped.

A rule matches by check, account, region, resource ARN (shell-style globs) and tags, each
optional but at least one given; it carries a reason, an optional owner and an optional expiry.

Muting is decided in two places, on purpose:

- *Which rule* mutes a finding is decided when a scan writes it: the scan has the file, the
  evidence and the resource data at hand, and the store records the rule with the finding and
  its history, so every later query knows what was muted when, without needing the file.
- *Whether that rule still applies* is decided when the finding is read, by comparing the rule's
  stored expiry with the time the answer is for (now, or the as-of time). An expired mute
  therefore stops applying by itself, the moment it expires, with no new scan and no edit to
  the file; the next scan then records the finding as unmuted.

YAML is the primary format; a file named `*.toml` is read as TOML with the same layout.
"""

from __future__ import annotations

import json
import re
import string
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from fnmatch import fnmatchcase
from hashlib import sha1
from pathlib import Path
from typing import Any, Protocol

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_FIELDS = ("check", "account", "region", "resource", "tags", "reason", "owner", "expires")
_GLOB = re.compile(r"[*?\[]")
_ACCOUNT = re.compile(r"^\d{12}$")


class MuteFileError(ValueError):
    """A mute file that cannot be used; `str()` is one line naming the file and the problem."""


@dataclass(frozen=True, slots=True)
class MuteRule:
    """One rule. Omitted criteria match anything; given ones must all match."""

    reason: str
    check: str | None = None
    account: str | None = None
    region: str | None = None
    resource: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    owner: str | None = None
    # Aware UTC. The rule applies strictly before this instant.
    expires: datetime | None = None

    def criteria(self) -> dict[str, Any]:
        """What the rule matches on, as stored with it."""
        out: dict[str, Any] = {
            name: getattr(self, name)
            for name in ("check", "account", "region", "resource")
            if getattr(self, name) is not None
        }
        if self.tags:
            out["tags"] = dict(sorted(self.tags.items()))
        return out

    @property
    def key(self) -> str:
        """Identity of the rule's whole content: the same rule in tomorrow's file is the same
        rule; a changed reason, owner or expiry is a new one (and shows in history)."""
        doc = {
            "match": self.criteria(),
            "reason": self.reason,
            "owner": self.owner,
            "expires": self.expires.isoformat() if self.expires else None,
        }
        raw = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        return sha1(raw.encode(), usedforsecurity=False).hexdigest()

    def active(self, at: datetime) -> bool:
        return self.expires is None or at < self.expires

    def matches(
        self,
        check_id: str,
        account_id: str,
        region: str,
        resource_arn: str,
        tags: Mapping[str, str],
    ) -> bool:
        pairs = (
            (self.check, check_id),
            (self.account, account_id),
            (self.region, region),
            (self.resource, resource_arn),
        )
        if any(p is not None and not fnmatchcase(value, p) for p, value in pairs):
            return False
        return all(k in tags and fnmatchcase(tags[k], v) for k, v in self.tags.items())


@dataclass(frozen=True, slots=True)
class MuteSet:
    """The rules of one mute file, in file order: the first active match wins."""

    rules: tuple[MuteRule, ...] = ()
    source: str = ""

    def match(
        self,
        check_id: str,
        account_id: str,
        region: str,
        resource_arn: str,
        tags: Mapping[str, str],
        at: datetime,
    ) -> MuteRule | None:
        for rule in self.rules:
            if rule.active(at) and rule.matches(check_id, account_id, region, resource_arn, tags):
                return rule
        return None

    def expired(self, at: datetime) -> list[MuteRule]:
        return [r for r in self.rules if not r.active(at)]


def tags_of(*sources: Mapping[str, Any] | None) -> dict[str, str]:
    """Tags found under `tags`/`Tags` in any of `sources` (evidence, resource data), as a
    plain mapping. Accepts both a mapping and AWS's list of {Key, Value}; later sources win."""
    out: dict[str, str] = {}
    for source in sources:
        if not source:
            continue
        for name in ("Tags", "tags"):
            raw = source.get(name)
            if isinstance(raw, Mapping):
                out.update({str(k): str(v) for k, v in raw.items()})
            elif isinstance(raw, list | tuple):
                for item in raw:
                    if isinstance(item, Mapping) and "Key" in item:
                        out[str(item["Key"])] = str(item.get("Value", ""))
    return out


# -- reading the file --------------------------------------------------------------------------


def load_mutes(path: str | Path, known_checks: Iterable[str] | None = None) -> MuteSet:
    """Read and validate a mute file; MuteFileError names the first problem in one line.

    `known_checks`, when given, turns a check ID that is not in the catalog (a typo that would
    silently never match) into an error.
    """
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MuteFileError(f"mute file {p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise MuteFileError(f"mute file {p}: cannot read it: {why}") from None
    return parse_mutes(text, source=str(p), toml=p.suffix.lower() == ".toml",
                       known_checks=known_checks)


def parse_mutes(
    text: str,
    *,
    source: str = "<mute file>",
    toml: bool = False,
    known_checks: Iterable[str] | None = None,
) -> MuteSet:
    doc = _load_document(text, source, toml)
    if doc is None:
        return MuteSet((), source)  # an empty file mutes nothing
    if not isinstance(doc, Mapping) or set(doc) - {"mutes"}:
        extra = sorted(str(k) for k in set(doc) - {"mutes"}) if isinstance(doc, Mapping) else []
        hint = f" (unknown top-level key {extra[0]!r})" if extra else ""
        raise MuteFileError(f"mute file {source}: expected a 'mutes' list at the top{hint}")
    items = doc.get("mutes") or []
    if not isinstance(items, list):
        raise MuteFileError(f"mute file {source}: 'mutes' must be a list of rules")
    catalog = set(known_checks) if known_checks is not None else None
    rules = tuple(_rule(item, n, catalog, source) for n, item in enumerate(items, start=1))
    return MuteSet(rules, source)


def _load_document(text: str, source: str, toml: bool) -> Any:
    try:
        if toml:
            return tomllib.loads(text) or None
        return _load_yaml(text, source)
    except tomllib.TOMLDecodeError as exc:
        rule = _toml_rule_at(text, str(exc))
        where = f" mute #{rule}:" if rule else ""
        raise MuteFileError(f"mute file {source}:{where} not valid TOML: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise MuteFileError(f"mute file {source}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        kind = "TOML" if toml else "YAML"
        raise MuteFileError(f"mute file {source}: not valid {kind}: nested too deeply") from None


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a value its constructors cannot build (an impossible
    date such as 2027-13-45, `!!int abc`, `!!bool maybe`) is a ConstructorError at that value,
    like every other YAML error, instead of whatever the constructor raised."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # the parse boundary: constructors raise anything
            kind = str(node.tag).rsplit(":", 1)[-1].replace("timestamp", "date or time")
            detail = f" ({exc})" if isinstance(exc, ValueError) and str(exc) else ""
            value = node.value if isinstance(node, ScalarNode) else f"a {node.id}"
            raise yaml.constructor.ConstructorError(
                None, None, f"{value!r} is not a valid {kind}{detail}", node.start_mark
            ) from None


def _load_yaml(text: str, source: str) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            return loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            place = _yaml_rule_at(node, exc.problem_mark)
            if place is None:
                raise
            n, key = place
            line = exc.problem_mark.line + 1 if exc.problem_mark is not None else 0
            what = f"{key}: " if key else ""
            raise MuteFileError(f"mute file {source}: mute #{n}: {what}{exc.problem} "
                                f"(line {line})") from None
    finally:
        loader.dispose()


def _yaml_rule_at(doc: Node, mark: Any) -> tuple[int, str | None] | None:
    """The rule number (and the key within it) whose text holds `mark`, if any."""
    if mark is None or not isinstance(doc, MappingNode):
        return None

    def holds(node: Node) -> bool:
        return bool(node.start_mark.index <= mark.index <= node.end_mark.index)

    for key, value in doc.value:
        if isinstance(key, ScalarNode) and key.value == "mutes" \
                and isinstance(value, SequenceNode):
            for n, item in enumerate(value.value, start=1):
                if not holds(item):
                    continue
                if isinstance(item, MappingNode):
                    for k, v in item.value:
                        if isinstance(k, ScalarNode) and (holds(v) or holds(k)):
                            return n, str(k.value)
                return n, None
    return None


_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")
_TOML_RULE = re.compile(r"^\s*\[\[\s*mutes\s*\]\]")


def _toml_rule_at(text: str, message: str) -> int | None:
    """The `[[mutes]]` table a TOML error's line falls in (None before the first one)."""
    found = _TOML_LINE.search(message)
    if found is None:
        return None
    lines = text.splitlines()[: int(found.group(1))]
    return sum(1 for line in lines if _TOML_RULE.match(line)) or None


def _rule(item: Any, n: int, catalog: set[str] | None, source: str) -> MuteRule:
    def bad(message: str) -> MuteFileError:
        return MuteFileError(f"mute file {source}: mute #{n}: {message}")

    if not isinstance(item, Mapping):
        raise bad("expected a mapping of check/account/region/resource/tags/reason/...")
    unknown = sorted(str(k) for k in item if k not in _FIELDS)
    if unknown:
        raise bad(f"unknown key {unknown[0]!r} (allowed: {', '.join(_FIELDS)})")
    reason = item.get("reason")
    if reason is None or (isinstance(reason, str) and not reason.strip()):
        raise bad("'reason' is required: say why the finding is accepted")
    if not isinstance(reason, str):
        raise bad(f"'reason' must be text, not {reason!r}")
    check = _text(item, "check", bad)
    if check is not None and catalog is not None and not _GLOB.search(check) \
            and check not in catalog:
        raise bad(f"unknown check {check!r} (see 'mllens checks list')")
    rule = MuteRule(
        reason=reason.strip(),
        check=check,
        account=_account(item.get("account"), bad),
        region=_text(item, "region", bad),
        resource=_text(item, "resource", bad),
        tags=_tags(item.get("tags"), bad),
        owner=_text(item, "owner", bad),
        expires=_expiry(item.get("expires"), bad),
    )
    anything = _matches_anything(rule, catalog)
    if anything is not None:
        raise bad(f"matches every finding ({anything}): give at least one check, account, "
                  "region, resource or tags that narrows it")
    return rule


def _text(item: Mapping[str, Any], name: str, bad: Any) -> str | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise bad(f"{name!r} must be a non-empty string")
    return value.strip()


def _account(value: Any, bad: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML reads an unquoted account ID as a number, and one with a leading zero loses it.
        value = str(value)
        if not _ACCOUNT.match(value):
            raise bad(f"account {value} is not 12 digits: quote account IDs, e.g. '0123...'")
    if not isinstance(value, str) or not (_ACCOUNT.match(value) or _GLOB.search(value)):
        raise bad(f"account {value!r} must be a 12-digit AWS account ID or a glob")
    return value


def _tags(value: Any, bad: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not value:
        raise bad("'tags' must be a mapping of tag key to value (or glob), e.g. {team: ml}")
    out = {}
    for k, v in value.items():
        if isinstance(k, bool) or not isinstance(k, str | int):
            raise bad(f"tag key {k!r} must be text")
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise bad(f"tag {k!r} must have a string value")
        out[str(k)] = str(v)
    return out


def _expiry(value: Any, bad: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise bad(f"expires {value!r} is not a date (YYYY-MM-DD) or ISO 8601 time") from None
    if isinstance(value, datetime):
        # A time without a zone in a config file is read as UTC, like every time mllens shows.
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC instant
            raise bad(f"expires {value.isoformat()} is out of range") from None
    if isinstance(value, date):
        # A bare date is the first moment of that day: the mute is over on that date.
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise bad(f"expires must be a date (YYYY-MM-DD) or ISO 8601 time, not {value!r}")


# -- rules that match everything ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Values:
    """What every value of one criterion looks like: a prefix they all start with, the
    characters the rest is made of (None: any) and how long the rest is."""

    prefix: str = ""
    alphabet: str | None = None
    shortest: int = 1
    longest: int | None = None


_VALUES = {
    "check": _Values(),  # with a catalog, the catalog's check IDs themselves
    "account": _Values(alphabet=string.digits, shortest=12, longest=12),
    # Region names are lower-case letters, digits and dashes; the shortest (us-east-1) has 9.
    "region": _Values(alphabet=string.ascii_lowercase + string.digits + "-", shortest=9),
    # Every resource is named by an ARN (arn:partition:service:region:account:resource).
    "resource": _Values(prefix="arn:"),
}
_STAR, _ONE = "*", "?"


def _glob_tokens(pattern: str) -> list[str]:
    """`*`, `?`, a whole `[...]` class, or one literal character, as fnmatch reads them."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "[":
            j = i + 1
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j < n:
                out.append(pattern[i : j + 1])
                i = j + 1
                continue
        out.append(c)
        i += 1
    return out


def _token_takes(token: str, char: str) -> bool:
    if token in (_STAR, _ONE):
        return True
    return fnmatchcase(char, token) if len(token) > 1 else token == char


def _matches_every(pattern: str, values: _Values) -> bool:
    """Whether the glob matches every value of this shape (a sound test: True is certain)."""
    tokens = _glob_tokens(pattern)
    end = len(tokens)

    def closure(states: set[int]) -> set[int]:
        todo, seen = list(states), set(states)
        while todo:
            p = todo.pop()
            if p < end and tokens[p] == _STAR and p + 1 not in seen:
                seen.add(p + 1)
                todo.append(p + 1)
        return seen

    states = closure({0})
    for char in values.prefix:
        states = closure({p if tokens[p] == _STAR else p + 1
                          for p in states if p < end and _token_takes(tokens[p], char)})

    def any_char(token: str) -> bool:
        if token == _ONE:
            return True
        if len(token) < 2 or values.alphabet is None:  # a literal, or a class over any text
            return False
        return all(fnmatchcase(c, token) for c in values.alphabet)

    for p in states:
        rest = tokens[p:]
        if not all(t == _STAR or any_char(t) for t in rest):
            continue
        fixed = sum(t != _STAR for t in rest)
        if _STAR in rest and fixed <= values.shortest:
            return True
        if _STAR not in rest and values.shortest == fixed == values.longest:
            return True
    return False


def _matches_anything(rule: MuteRule, catalog: set[str] | None) -> str | None:
    """Why the rule would mute every finding, or None when a criterion narrows it.

    A criterion narrows nothing when its glob matches every value of its kind: `*`, `?*`,
    `arn:*`, an account of twelve `?`, a check glob that every check in the catalog matches.
    Tags always narrow: a tag rule needs the tag to be there.
    """
    if rule.tags:
        return None
    given = [(name, p) for name in ("check", "account", "region", "resource")
             if (p := getattr(rule, name)) is not None]
    if not given:
        return "it has no check, account, region, resource or tags"
    for name, pattern in given:
        if name == "check" and catalog:
            if not all(fnmatchcase(c, pattern) for c in catalog):
                return None
        elif not _matches_every(pattern, _VALUES[name]):
            return None
    said = " and ".join(f"{name} {pattern!r}" for name, pattern in given)
    return f"{said} {'matches' if len(given) == 1 else 'match'} anything"


class _Store(Protocol):
    def start_scan(self, *args: Any, **kwargs: Any) -> int: ...
    def join_run(self, *args: Any, **kwargs: Any) -> int: ...
    def write_account(self, *args: Any, **kwargs: Any) -> Any: ...
    def finish_scan(self, *args: Any, **kwargs: Any) -> None: ...


class MutingSink:
    """A scan's sink that hands `mutes` to every account write and remembers what they muted,
    so the scan can report it; the scan itself needs to know nothing about mutes."""

    def __init__(self, store: _Store, mutes: MuteSet) -> None:
        self.store = store
        self.mutes = mutes
        self.muted_keys: set[str] = set()

    def start_scan(self, scope: dict[str, Any], **kwargs: Any) -> int:
        rules = {"file": self.mutes.source, "rules": len(self.mutes.rules)}
        return self.store.start_scan({**scope, "mutes": rules}, **kwargs)

    def join_run(self, run_key: str, shard: int, count: int, scope: dict[str, Any],
                 **kwargs: Any) -> int:
        rules = {"file": self.mutes.source, "rules": len(self.mutes.rules)}
        return self.store.join_run(run_key, shard, count, {**scope, "mutes": rules}, **kwargs)

    def write_account(self, *args: Any, **kwargs: Any) -> Any:
        written = self.store.write_account(*args, mutes=self.mutes, **kwargs)
        self.muted_keys.update(getattr(written, "muted_keys", ()))
        return written

    def finish_scan(self, *args: Any, **kwargs: Any) -> None:
        self.store.finish_scan(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # Everything else a scan asks of its sink (reading findings back, ...) is the store's.
        return getattr(self.store, name)
