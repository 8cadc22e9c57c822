"""`deployed_edge_model`: what a line's edge agents are told to serve, one materialisation per
publication on the line's retained `_model/manifest` (`mlops_assets.ml.rollout`)."""

import time

import dagster as dg

from edge_agent.domain import LineAddress
from edge_agent.features import PackageError
from mlops_assets.defs.packaging.assets import edge_model_package
from mlops_assets.defs.rollout.config import DeployedEdgeModelConfig
from mlops_assets.defs.rollout.history import latest_rollout
from mlops_assets.defs.training.catalog import OWNERS
from mlops_assets.ml.registry import CHAMPION, PREVIOUS_CHAMPION, ModelRegistry, model_name_for
from mlops_assets.ml.release.platform_key import PlatformKey
from mlops_assets.ml.rollout.line_address import line_address
from mlops_assets.ml.rollout.plans import (
    RolloutPlan,
    RolloutRefused,
    plan_deploy,
    plan_promote,
    plan_rollback,
)
from mlops_assets.ml.rollout.publication import prepare_publication, tag_versions
from mlops_assets.ml.rollout.records import RolloutRecord
from mlops_assets.partitions import line_partitions
from mlops_assets.resources import LakehouseResource, LandingResource, ModelRegistryResource, SignerResource
from mlops_assets.resources.uns import UnsResource

__all__ = ["deployed_edge_model"]


def _version(registry: ModelRegistry, name: str, alias: str) -> str | None:
    found = registry.by_alias(name, alias)
    return found.version if found is not None else None


def _plan(
    config: DeployedEdgeModelConfig, registry: ModelRegistry, name: str, previous: RolloutRecord | None
) -> RolloutPlan:
    if config.action == "deploy":
        return plan_deploy(_version(registry, name, CHAMPION), previous, config.settings())
    if config.action == "promote":
        return plan_promote(previous, config.canary_published_ms, config.reason)
    return plan_rollback(
        previous,
        config.canary_published_ms,
        champion=_version(registry, name, CHAMPION),
        previous_champion=_version(registry, name, PREVIOUS_CHAMPION),
        reason=config.reason,
    )


@dg.asset(
    group_name="rollout",
    partitions_def=line_partitions,
    deps=[edge_model_package],
    kinds={"mqtt", "mlflow"},
    owners=OWNERS,
)
def deployed_edge_model(
    context: dg.AssetExecutionContext,
    config: DeployedEdgeModelConfig,
    lakehouse: LakehouseResource,
    landing: LandingResource,
    model_registry: ModelRegistryResource,
    signer: SignerResource,
    uns: UnsResource,
) -> dg.MaterializeResult:
    """The model a line's edge agents serve: the registry's champion, its package verified with the
    platform key and copied to the landing zone's `_models/<site>/<line>/<model>/<version>/`, announced
    by a deployment manifest signed by the platform and published retained on the line's
    `_model/manifest`. A canary goes to the configured agents first; promotion and rollback (the
    registry's champion swapped back) are runs of this asset too, so its history is the line's."""
    line = context.partition_key
    registry = model_registry.registry()
    name = model_name_for(line)
    previous = latest_rollout(context.instance, line)
    signing = signer.signer()
    try:
        plan = _plan(config, registry, name, previous)
        address: LineAddress = (
            previous.address
            if previous is not None and config.action != "deploy"
            else line_address(lakehouse.store(), line)
        )
        publication = prepare_publication(
            registry,
            landing.zone(),
            key=PlatformKey(signing.key_id, signing.public_key_b64),
            signer=signing,
            address=address,
            model_name=name,
            plan=plan,
            # Agents refuse a deployment older than the last they accepted: never go back in time.
            published_ms=max(int(time.time() * 1000), previous.published_ms + 1 if previous else 0),
        )
    except (RolloutRefused, PackageError, LookupError, ValueError) as exc:
        raise dg.Failure(f"line {line}: {exc}") from exc
    if plan.registry_rollback:
        serving = registry.rollback(name)
        if serving != plan.version:
            raise dg.Failure(
                f"{name}: the champion is {serving} after the rollback, not {plan.version}; check the aliases"
            )
        context.log.warning("%s: champion rolled back from %s to %s", name, plan.rolled_back_version, serving)
    uns.publish_retained(publication.topic, publication.payload)
    tag_versions(registry, name, plan, publication)
    record = RolloutRecord(
        action=plan.action,
        model_name=name,
        version=plan.version,
        stage=plan.stage,
        agents=plan.agents,
        fleet_version=plan.fleet_version,
        published_ms=publication.published_ms,
        address=address,
        package_uri=str(publication.manifest["package_uri"]),
        manifest_sha256=publication.sha256,
        settings=config.settings() if plan.action == "deploy" or previous is None else previous.settings,
        reason=plan.reason,
        rolled_back_version=plan.rolled_back_version,
    )
    context.log.info(
        "published %s v%s (%s) on %s: %s", name, plan.version, plan.stage, record.topic, plan.reason
    )
    return dg.MaterializeResult(
        metadata={
            **record.metadata(),
            "manifest": dg.MetadataValue.json(publication.manifest),
            "staged_files": dg.MetadataValue.json(publication.staged_files),
        }
    )
