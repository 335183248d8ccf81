"""The MLLENS_* environment: which variables are settings, which are the command line's own,
and which are mistakes that would otherwise be ignored without a word.

pydantic-settings reads `MLLENS_<SECTION>__<KEY>` and silently skips any other name, so a
misspelt section (`MLLENS_TARGET__REGIONS`) or a single underscore (`MLLENS_DATABASE_URL`)
would leave the setting at its default while `config check` says OK. An unknown key in a file
is an error; so is its counterpart in the environment.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any, get_args

from pydantic import BaseModel

from agent.config.models import ENV_PREFIX

# Variables that are not settings keys: the CLI's options (`envvar=`), the switches it reads
# with os.environ, and the test suite's and benchmarks' own. tests/test_config_env.py fails
# when the code reads an MLLENS_* variable missing here.
OWN_VARIABLES = frozenset({
    "MLLENS_DB",
    "MLLENS_CONFIG",
    "MLLENS_LOG_LEVEL",
    "MLLENS_ROLE_NAME",
    "MLLENS_EXTERNAL_ID",
    "MLLENS_MUTE_FILE",
    "MLLENS_LIVENESS_FILE",
    "MLLENS_SHARD",
    "MLLENS_RUN_ID",
    "MLLENS_DEBUG",
    "MLLENS_TEST_PG_URL",
    "MLLENS_BENCH_PG_URL",
    "MLLENS_SAMPLES",
})

# How close a name must be to a settings variable to be taken for a misspelling of it.
_NEAR = 0.85


def variable(path: tuple[str, ...]) -> str:
    """The environment variable of a key path: ("limits", "max_in_flight") ->
    MLLENS_LIMITS__MAX_IN_FLIGHT."""
    return ENV_PREFIX + "__".join(path).upper()


def settings_variables(model: type[BaseModel]) -> list[str]:
    """Every variable that sets one key of the model (tables and lists as a whole)."""
    return [variable(p) for p in _leaves(model, ())]


def _leaves(model: type[BaseModel], prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    for name, info in model.model_fields.items():
        sub = _submodel(info.annotation)
        if sub is None:
            yield (*prefix, name)
        else:
            yield from _leaves(sub, (*prefix, name))


def _submodel(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    # An optional section (`Model | None`); a list or table of models is set as a whole.
    found = [a for a in get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    return found[0] if len(found) == 1 and type(None) in get_args(annotation) else None


def environment_problem(
    model: type[BaseModel], environ: Mapping[str, str]
) -> tuple[str, str] | None:
    """The first MLLENS_* variable that looks meant as a setting but would be ignored:
    (its name, what is wrong). None when every such variable is read or is not ours."""
    sections = list(model.model_fields)
    known = settings_variables(model)
    for raw in sorted(environ):
        name = raw.upper()
        if not name.startswith(ENV_PREFIX) or name in OWN_VARIABLES:
            continue
        rest = name[len(ENV_PREFIX):]
        if "__" in rest:
            section, _, keys = rest.partition("__")
            if section.lower() not in sections:
                return raw, _unknown_section(section, keys, sections)
        elif rest.lower() not in sections:
            problem = _single_underscore(rest, sections, known)
            if problem is not None:
                return raw, problem
    return None


def _unknown_section(section: str, keys: str, sections: list[str]) -> str:
    close = difflib.get_close_matches(section.lower(), sections, n=1)
    if close:
        return (f'unknown settings section "{section.lower()}"; did you mean '
                f"${variable((close[0], keys.lower()))}?")
    return f'unknown settings section "{section.lower()}" (sections: {", ".join(sections)})'


def _single_underscore(rest: str, sections: list[str], known: list[str]) -> str | None:
    """A name meant as MLLENS_<SECTION>__<KEY> but written with single underscores (or a near
    miss of one): the problem, or None for a name that is no settings variable's."""
    def flat(name: str) -> str:
        return name[len(ENV_PREFIX):].replace("__", "_")

    by_flat = {flat(v): v for v in known}
    meant = by_flat.get(rest)
    if meant is None:
        near = difflib.get_close_matches(rest, list(by_flat), n=1, cutoff=_NEAR)
        meant = by_flat[near[0]] if near else None
    if meant is not None:
        return (f"not a settings variable; did you mean ${meant}? (levels are joined with a "
                "double underscore)")
    section = next((s for s in sections if rest.startswith(f"{s.upper()}_")), None)
    if section is not None:
        return (f"not a settings variable: [{section}] keys are set as "
                f"{variable((section, 'KEY'))}")
    return None
