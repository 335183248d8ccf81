"""SageMaker Model Registry: every model package version of every package group, with its
approval status, so an endpoint's model can be traced to the package it was built from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.aws.handle import RegionHandle
from agent.collectors.base import Builder, CollectOptions, fan_out, list_all, listing
from agent.domain import Kind

SM = "sagemaker"


async def model_packages(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    """ListModelPackageGroups, then ListModelPackages per group (versioned packages).

    ListModelPackages summaries already carry ModelApprovalStatus, ModelPackageStatus and the
    version, which is all the approval check needs, so no per-package describe is made. A
    group whose listing fails leaves the whole kind partial (its gap), never a short list
    taken for the whole.
    """
    kinds = (Kind.MODEL_PACKAGES,)
    out.touch(Kind.MODEL_PACKAGES)
    groups = await list_all(h, kinds, SM, "ListModelPackageGroups",
                            "ModelPackageGroupSummaryList", MaxResults=100)
    if groups is None:
        return

    async def one(group: Mapping[str, Any]) -> None:
        name = group["ModelPackageGroupName"]
        async for pkg in listing(h, kinds, SM, "ListModelPackages", "ModelPackageSummaryList",
                                 ModelPackageGroupName=name, MaxResults=100):
            version = pkg.get("ModelPackageVersion")
            label = f"{name}/{version}" if version is not None else str(
                pkg.get("ModelPackageName") or pkg["ModelPackageArn"])
            out.add(Kind.MODEL_PACKAGES, pkg["ModelPackageArn"], label,
                    {"ModelPackageGroupName": name, **pkg})

    await fan_out(groups, one)
