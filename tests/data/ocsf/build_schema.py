"""Build the JSON Schema of one OCSF event class from the OCSF schema source, for the tests.

Input: the OCSF 1.7.0 schema source as one JSON document (events, objects, dictionary), as
shipped in the `pydantic-ocsf` 3.0.0 wheel at `ocsf/schemas/v1_7_0.json` (get it with
`pip download --no-deps pydantic-ocsf==3.0.0` and unzip). Output: a draft 2020-12 JSON Schema
for the class with the given profiles applied, written to stdout.

    python tests/data/ocsf/build_schema.py v1_7_0.json > \
        tests/data/ocsf/detection_finding-1.7.0-cloud.schema.json

Compilation follows the OCSF schema rules: a class inherits its `extends` chain; an
attribute's definition is the dictionary entry merged with the class's or object's own entry
(so class-specific enum values join the dictionary's); attributes tagged with a profile, and
`$include`d profile files, count only for applied profiles; `requirement: required` becomes
JSON Schema `required`; object `constraints` (at_least_one, just_one) become anyOf/oneOf; no
attribute outside the schema is allowed (OCSF puts those in `unmapped`). The profile files are
not part of that JSON document, so the applied profiles' attributes are written out in
PROFILES below, copied from the OCSF 1.7.0 profile definitions.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

# profiles/cloud.json in OCSF 1.7.0: `cloud` is required, `api` optional.
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "cloud": {
        "cloud": {"requirement": "required"},
        "api": {"requirement": "optional"},
    },
}

_INTEGER = {"integer_t", "long_t", "timestamp_t", "port_t"}


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


class Builder:
    def __init__(self, src: Mapping[str, Any], profiles: tuple[str, ...]) -> None:
        self.events = src["events"]
        self.objects = src["objects"]
        self.dictionary = src["dictionary"]["attributes"]
        self.types = src["dictionary"]["types"]["attributes"]
        self.profiles = profiles
        self.categories = src["categories_meta"]["attributes"]
        self.defs: dict[str, Any] = {}
        self.version = src["version"]

    def _own(self, entity: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, spec in entity.get("attributes", {}).items():
            if name == "$include":
                for inc in spec:
                    prof = inc.rsplit("/", 1)[-1].removesuffix(".json")
                    if prof in self.profiles:
                        out = merge(out, PROFILES[prof])
                continue
            if spec.get("profile") and spec["profile"] not in self.profiles:
                continue
            out[name] = merge(out.get(name, {}), spec)
        return out

    def _chain(
        self, table: Mapping[str, Any], name: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        entity = table[name]
        if entity.get("extends") and entity["extends"] in table:
            attrs, constraints = self._chain(table, entity["extends"])
        else:
            attrs, constraints = {}, {}
        for k, v in self._own(entity).items():
            attrs[k] = merge(attrs.get(k, {}), v)
        return attrs, {**constraints, **entity.get("constraints", {})}

    def _type(self, t: str) -> dict[str, Any]:
        if t in ("boolean_t",):
            return {"type": "boolean"}
        if t in _INTEGER:
            spec = self.types.get(t, {})
            out: dict[str, Any] = {"type": "integer"}
            if "range" in spec:
                out["minimum"], out["maximum"] = spec["range"]
            return out
        if t == "float_t":
            return {"type": "number"}
        if t == "json_t":
            return {}
        spec = self.types.get(t, {})
        out = {"type": "string"}
        if "regex" in spec:
            out["pattern"] = spec["regex"]
        if "max_len" in spec:
            out["maxLength"] = spec["max_len"]
        return out

    def _attr(self, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        d = merge(self.dictionary.get(name, {}), spec)
        t = d["type"]
        if t == "object":
            s: dict[str, Any] = {"type": "object"}
        elif t in self.types:
            s = self._type(t)
        else:
            self._object(t)
            s = {"$ref": f"#/$defs/{t}"}
        if "enum" in d:
            keys = list(d["enum"])
            s = {**s, "enum": [int(k) for k in keys] if t in _INTEGER else keys}
        if d.get("is_array"):
            s = {"type": "array", "items": s}
        return s

    def _shape(self, attrs: Mapping[str, Any], constraints: Mapping[str, Any]) -> dict[str, Any]:
        props = {n: self._attr(n, spec) for n, spec in sorted(attrs.items())}
        out: dict[str, Any] = {
            "type": "object",
            "properties": props,
            "additionalProperties": False,
        }
        required = sorted(n for n, spec in attrs.items() if spec.get("requirement") == "required")
        if required:
            out["required"] = required
        if constraints.get("at_least_one"):
            out["anyOf"] = [{"required": [n]} for n in constraints["at_least_one"]]
        if constraints.get("just_one"):
            out["oneOf"] = [{"required": [n]} for n in constraints["just_one"]]
        return out

    def _object(self, name: str) -> None:
        if name in self.defs:
            return
        self.defs[name] = {}  # placeholder: objects refer to each other
        attrs, constraints = self._chain(self.objects, name)
        self.defs[name] = self._shape(attrs, constraints)

    def event_class(self, name: str) -> dict[str, Any]:
        attrs, constraints = self._chain(self.events, name)
        schema = self._shape(attrs, constraints)
        cls = self.events[name]
        category = self.events[cls["extends"]].get("category") or cls.get("category")
        cat_uid = int(self.categories[category]["uid"])
        class_uid = cat_uid * 1000 + cls["uid"]
        props = schema["properties"]
        props["class_uid"] = {"const": class_uid}
        props["category_uid"] = {"const": cat_uid}
        activities = [int(k) for k in merge(self.dictionary["activity_id"],
                                            attrs["activity_id"])["enum"]]
        props["type_uid"] = {"enum": [class_uid * 100 + a for a in activities]}
        # An event that uses a profile's attributes must say so in metadata.profiles.
        props["metadata"] = {
            "allOf": [
                {"$ref": "#/$defs/metadata"},
                {
                    "required": ["profiles"],
                    "properties": {
                        "profiles": {
                            "allOf": [{"contains": {"const": p}} for p in self.profiles]
                        }
                    },
                },
            ]
        }
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://schema.ocsf.io/{self.version}/classes/{name}"
            f"?profiles={','.join(self.profiles)}",
            "title": f"OCSF {self.version} {cls['caption']} ({class_uid}), profiles: "
            f"{', '.join(self.profiles)}",
            **schema,
            "$defs": dict(sorted(self.defs.items())),
        }


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as fh:
        src = json.load(fh)
    name = argv[2] if len(argv) > 2 else "detection_finding"
    profiles = tuple(argv[3].split(",")) if len(argv) > 3 else ("cloud",)
    json.dump(Builder(src, profiles).event_class(name), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
