"""Glue jobs, Glue security configurations and the Data Catalog's encryption settings."""

from __future__ import annotations

from agent.aws.handle import CallFailed, RegionHandle
from agent.collectors.base import Builder, CollectOptions, listing
from agent.domain import Kind

GLUE = "glue"


async def glue_jobs(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    # GetJobs returns the whole job definition, so no per-job describe is needed.
    out.touch(Kind.GLUE_JOBS)
    async for job in listing(h, (Kind.GLUE_JOBS,), GLUE, "GetJobs", "Jobs", MaxResults=1000):
        name = job["Name"]
        out.add(Kind.GLUE_JOBS, out.arn(GLUE, f"job/{name}"), name, job)


async def glue_security_configurations(
    h: RegionHandle, out: Builder, opts: CollectOptions
) -> None:
    out.touch(Kind.GLUE_SECURITY_CONFIGURATIONS)
    async for conf in listing(
        h,
        (Kind.GLUE_SECURITY_CONFIGURATIONS,),
        GLUE,
        "GetSecurityConfigurations",
        "SecurityConfigurations",
        MaxResults=1000,
    ):
        name = conf["Name"]
        out.add(
            Kind.GLUE_SECURITY_CONFIGURATIONS,
            out.arn(GLUE, f"securityConfiguration/{name}"),
            name,
            conf,
        )


async def glue_catalog_encryption(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    out.touch(Kind.GLUE_CATALOG_ENCRYPTION)
    try:
        resp = await h.call(GLUE, "GetDataCatalogEncryptionSettings")
    except CallFailed as failure:
        h.gap(failure, kinds=(Kind.GLUE_CATALOG_ENCRYPTION,))
        return
    settings = resp.get("DataCatalogEncryptionSettings") or {}
    out.add(Kind.GLUE_CATALOG_ENCRYPTION, out.arn(GLUE, "catalog"), "catalog", settings)
