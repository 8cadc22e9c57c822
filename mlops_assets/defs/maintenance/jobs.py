"""`lake_maintenance_job`: compact, Z-order and vacuum every table of the lake."""

import dagster as dg

from mlops_assets.defs.maintenance.config import LakeMaintenanceConfig
from mlops_assets.lake.maintenance import maintain_table
from mlops_assets.resources import LakehouseResource

__all__ = ["lake_maintenance_job", "maintain_lake"]


@dg.op(description="OPTIMIZE (Z-order on cell and time where possible) and VACUUM each lake table.")
def maintain_lake(
    context: dg.OpExecutionContext, config: LakeMaintenanceConfig, lakehouse: LakehouseResource
) -> int:
    store = lakehouse.store()
    tables = store.list_tables()
    for table in tables:
        report = maintain_table(
            store,
            table,
            retention_hours=config.retention_hours,
            enforce_retention=config.enforce_retention,
            recent_days=config.recent_days,
        )
        context.log.info(
            "%s: z-order %s, %d files rewritten into %d, %d vacuumed, version %s -> %s",
            table, report.z_order or "(compaction)", report.files_removed, report.files_added,
            report.vacuumed_files, report.version_before, report.version_after,
        )  # fmt: skip
        context.log_event(
            dg.AssetObservation(
                asset_key=table.name,
                metadata={
                    "files_removed": report.files_removed,
                    "files_added": report.files_added,
                    "files_vacuumed": report.vacuumed_files,
                    "delta_version": report.version_after,
                    "z_order": ", ".join(report.z_order) or "none",
                },
            )
        )
    return len(tables)


@dg.job(
    description="Compact, Z-order and vacuum every Delta table of the lake.",
    tags={"mlops/kind": "maintenance"},
)
def lake_maintenance_job() -> None:
    maintain_lake()
