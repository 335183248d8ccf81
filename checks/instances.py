"""Instance-type knowledge shared by checks, and X-01 (previous-generation instance types).

X-01 covers four resource kinds. The runner answers UNKNOWN per check for a kind it could not
collect, and only for the check's primary kind, so one check over four kinds would turn a denied
ListTrainingJobs into silence for notebooks. X-01 is therefore split into one check per kind:
`ml_previous_generation_instance_types` (endpoint configs, one finding per variant, the catalog's
ID), `..._notebook` and `..._monitoring` here, and `..._training` in `checks.training` (it reuses
that module's tuning-job deduplication). All four share `previous_generation()` and the
`prev_gen_families` parameter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from agent.domain import Inventory, Kind, Resource, Severity
from checks.base import Check, CheckFn, Verdict, check, failed, not_applicable, passed, unknown

# "ml.g4dn.xlarge" -> series "g", generation "4", attributes "dn"; "ml.p6-b200.48xlarge" keeps
# "-b200" in the attributes. Anything else (a non-ML type, a typo) does not parse.
_TYPE = re.compile(r"^ml\.(?P<series>[a-z]+)(?P<gen>\d+)(?P<attrs>[a-z0-9-]*)\.[a-z0-9-]+$")

PREV_GEN_FAMILIES: tuple[str, ...] = (
    "ml.t2", "ml.m4", "ml.c4", "ml.p2", "ml.p3", "ml.eia1", "ml.eia2",
)

# Families with NVMe instance storage whose name lacks the "d" attribute that marks the others
# (ml.g4dn, ml.p4d, ml.m5d, ...). Their storage volume cannot take a customer KMS key: botocore's
# ResourceConfig.VolumeKmsKeyId says "You can't request a VolumeKmsKeyId when using an instance
# type with local storage"; the hardware encrypts it.
LOCAL_STORAGE_FAMILIES: tuple[str, ...] = (
    "ml.g5", "ml.g6", "ml.g6e", "ml.gr6", "ml.p5", "ml.p5e", "ml.p5en", "ml.p6-b200",
    "ml.trn1", "ml.trn1n", "ml.trn2", "ml.dl1",
)

# Series whose instances carry GPUs or ML accelerators (training-side; inf* is inference-only).
_ACCELERATED_SERIES = frozenset({"p", "g", "gr", "trn", "dl"})

_SUGGESTIONS = {
    "t": "ml.t3",
    "m": "ml.m5, ml.m6i/ml.m7i or Graviton ml.m7g",
    "c": "ml.c5, ml.c6i/ml.c7i or Graviton ml.c7g",
    "p": "ml.g5/ml.g6 for inference; ml.p4d/ml.p5 or ml.trn1 for training",
    "eia": "ml.inf2, a GPU instance sized to the model, or a serverless endpoint",
}


@dataclass(frozen=True, slots=True)
class InstanceType:
    raw: str
    family: str  # "ml.g4dn"
    base: str  # "ml.g4": series + generation, without attributes
    series: str
    attrs: str


def parse(instance_type: str | None) -> InstanceType | None:
    if not instance_type:
        return None
    m = _TYPE.match(instance_type.strip().lower())
    if not m:
        return None
    base = f"ml.{m['series']}{m['gen']}"
    return InstanceType(instance_type, base + m["attrs"], base, m["series"], m["attrs"])


def has_local_storage(it: InstanceType, families: Iterable[str] = LOCAL_STORAGE_FAMILIES) -> bool:
    # EC2 naming: a "d" among the attribute letters (before any "-variant") means instance store.
    letters = it.attrs.split("-", 1)[0]
    return "d" in letters or it.family in set(families)


def is_accelerated(it: InstanceType) -> bool:
    return it.series in _ACCELERATED_SERIES


def previous_generation(types: Iterable[str | None], families: Iterable[str]) -> list[str]:
    """The given instance/accelerator types whose family (or base family) is listed as old."""
    wanted = set(families)
    out = []
    for raw in types:
        it = parse(raw)
        if it and (it.family in wanted or it.base in wanted):
            out.append(it.raw)
    return out


def suggestion(types: Iterable[str]) -> str:
    hints = []
    for raw in types:
        it = parse(raw)
        hint = _SUGGESTIONS.get(it.series) if it else None
        if hint and hint not in hints:
            hints.append(hint)
    return "; ".join(hints) or "a current-generation family"


def _prev_gen_verdict(
    res: Resource,
    instance_types: list[str],
    accelerators: list[str],
    families: tuple[str, ...],
    *,
    sub: str = "",
) -> Verdict:
    old = previous_generation([*instance_types, *accelerators], families)
    evidence: dict[str, Any] = {"InstanceTypes": instance_types}
    if accelerators:
        evidence["AcceleratorTypes"] = accelerators
    if old:
        return failed(
            res,
            f"uses previous-generation type(s) {', '.join(old)}",
            sub=sub,
            previous_generation=old,
            suggested=suggestion(old),
            **evidence,
        )
    return passed(res, "no previous-generation instance or accelerator type", sub=sub, **evidence)


def _x01(kind: Kind) -> Callable[[CheckFn], Check]:
    return check(
        title="SageMaker resource runs on a previous-generation instance type",
        severity=Severity.LOW,
        effort="redeploy",
        lens=("MLSUS05-BP02", "MLPERF04-BP01", "MLCOST05-BP02"),
        needs=(kind,),
        remediation=(
            "Move the workload to a current family (for example ml.m7i/ml.c7i, Graviton "
            "ml.m7g, ml.g5/ml.g6, ml.inf2 or ml.trn1) after checking framework support, then "
            "delete the old configuration. Elastic Inference accelerators are discontinued: "
            "drop them."
        ),
    )


@_x01(Kind.ENDPOINT_CONFIGS)
def ml_previous_generation_instance_types(
    inv: Inventory, *, prev_gen_families: tuple[str, ...] = PREV_GEN_FAMILIES
) -> Iterator[Verdict]:
    """PASS for an endpoint-config variant (production or shadow) whose InstanceType and
    AcceleratorType are not in `prev_gen_families` (matched on the family, e.g. ml.p3, or the
    family with attributes, e.g. ml.p3dn). FAIL otherwise, one finding per variant. Serverless
    variants have no instance type: NOT_APPLICABLE. A provisioned variant that reports no type is
    UNKNOWN.

    Older families do less work per watt and per dollar than their successors; the lens asks for
    efficient silicon. This check is the endpoint part of catalog X-01 (see the module docstring
    for why X-01 is split by kind).
    """
    for cfg in inv.of(Kind.ENDPOINT_CONFIGS):
        variants = [
            *(cfg.get("ProductionVariants") or ()),
            *(cfg.get("ShadowProductionVariants") or ()),
        ]
        if not variants:
            yield unknown(cfg, "endpoint config reports no production variants")
            continue
        for v in variants:
            sub = str(v.get("VariantName") or "")
            itype = v.get("InstanceType")
            if not itype:
                if v.get("ServerlessConfig"):
                    yield not_applicable(cfg, "serverless variant has no instance type", sub=sub)
                else:
                    yield unknown(cfg, "variant reports no instance type", sub=sub)
                continue
            acc = [v["AcceleratorType"]] if v.get("AcceleratorType") else []
            yield _prev_gen_verdict(cfg, [itype], acc, prev_gen_families, sub=sub)


@_x01(Kind.NOTEBOOK_INSTANCES)
def ml_previous_generation_instance_types_notebook(
    inv: Inventory, *, prev_gen_families: tuple[str, ...] = PREV_GEN_FAMILIES
) -> Iterator[Verdict]:
    """PASS for a notebook instance whose InstanceType and AcceleratorTypes are not in
    `prev_gen_families`; FAIL otherwise. Notebooks being deleted or in Failed state are
    NOT_APPLICABLE; a notebook that reports no instance type is UNKNOWN.

    Notebook part of catalog X-01: old families waste energy and money for the same work.
    """
    for nb in inv.of(Kind.NOTEBOOK_INSTANCES):
        status = nb.get("NotebookInstanceStatus")
        if status in ("Deleting", "Failed"):
            yield not_applicable(nb, f"notebook is {status}", NotebookInstanceStatus=status)
            continue
        itype = nb.get("InstanceType")
        if not itype:
            yield unknown(nb, "notebook reports no instance type")
            continue
        acc = list(nb.get("AcceleratorTypes") or ())
        yield _prev_gen_verdict(nb, [itype], acc, prev_gen_families)


def monitoring_cluster(schedule: Resource) -> Mapping[str, Any] | None:
    """The ClusterConfig of a schedule's inline definition, or of its named job definition
    (which the collector stores under `JobDefinition`)."""
    config = schedule.get("MonitoringScheduleConfig") or {}
    inline = config.get("MonitoringJobDefinition")
    if inline:
        return (inline.get("MonitoringResources") or {}).get("ClusterConfig")
    named = schedule.get("JobDefinition")
    if named:
        return (named.get("JobResources") or {}).get("ClusterConfig")
    return None


@_x01(Kind.MONITORING_SCHEDULES)
def ml_previous_generation_instance_types_monitoring(
    inv: Inventory, *, prev_gen_families: tuple[str, ...] = PREV_GEN_FAMILIES
) -> Iterator[Verdict]:
    """PASS for a Model Monitor schedule whose processing cluster (inline definition or named job
    definition) uses an instance type not in `prev_gen_families`; FAIL otherwise. UNKNOWN when
    neither definition reports a cluster instance type.

    Monitoring part of catalog X-01: monitoring jobs run on a schedule for the model's whole
    life, so an old family costs on every run.
    """
    for sched in inv.of(Kind.MONITORING_SCHEDULES):
        cluster = monitoring_cluster(sched)
        itype = (cluster or {}).get("InstanceType")
        if not itype:
            yield unknown(sched, "schedule's job definition reports no cluster instance type")
            continue
        yield _prev_gen_verdict(sched, [itype], [], prev_gen_families)


CHECKS = (
    ml_previous_generation_instance_types,
    ml_previous_generation_instance_types_notebook,
    ml_previous_generation_instance_types_monitoring,
)
