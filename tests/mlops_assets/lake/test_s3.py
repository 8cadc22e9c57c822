"""One set of S3 options for every reader of S3: the lake and landing resources, and `mlops sql`."""

from __future__ import annotations

import dagster as dg
import pytest

from edge_agent.simulator import LineConfig
from mlops_assets.environment import Environment
from mlops_assets.lake.s3 import S3_OPTION_VARIABLES, s3_client_kwargs, storage_options_from_env
from mlops_assets.lake.sql import lake_from_environment
from mlops_assets.resources import S3LakehouseResource, S3LandingResource, platform_resources
from mlops_assets.resources.s3 import S3Credentials
from tests.mlops_assets.conftest import START_MS
from tests.s3 import MotoS3
from tests.synthetic_landing import S3Target, simulator_messages, write_landing_files


def test_only_the_variables_that_are_set_become_options() -> None:
    environ = {"AWS_REGION": "eu-central-1", "AWS_SESSION_TOKEN": "", "HOME": "/root"}
    assert storage_options_from_env(environ) == {"AWS_REGION": "eu-central-1"}
    assert s3_client_kwargs({"AWS_REGION": "eu-central-1", "AWS_ALLOW_HTTP": "true"}) == {
        "region_name": "eu-central-1"
    }


def test_the_resources_hold_one_field_per_option_variable() -> None:
    assert set(S3Credentials.model_fields) == {name.lower() for name in S3_OPTION_VARIABLES}
    credentials = S3Credentials(aws_session_token="token", aws_allow_http="true", aws_region="")
    assert credentials.storage_options() == {"AWS_SESSION_TOKEN": "token", "AWS_ALLOW_HTTP": "true"}


def test_the_prod_resources_and_the_sql_command_reach_s3_with_the_same_options(
    s3: MotoS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3.new_bucket("lake")
    monkeypatch.setenv("MLOPS_ENV", "prod")
    monkeypatch.setenv("MLOPS_LAKE_ROOT", f"s3://{bucket}/lake")
    monkeypatch.setenv("MLOPS_LANDING_ROOT", f"s3://{bucket}/landing")
    (key,) = write_landing_files(
        S3Target(s3.client(), bucket),
        simulator_messages(LineConfig(start_ms=START_MS), 5),
        received_start_ms=START_MS,
    )
    bound = platform_resources(Environment.PROD)
    lakehouse, landing = bound["lakehouse"], bound["landing"]
    assert isinstance(lakehouse, S3LakehouseResource) and isinstance(landing, S3LandingResource)
    # Secrets stay EnvVars until a run resolves them; both resources get the very same ones.
    assert lakehouse.aws_allow_http == landing.aws_allow_http == dg.EnvVar("AWS_ALLOW_HTTP")

    with dg.build_resources({"lakehouse": lakehouse, "landing": landing}) as resources:
        lake_options = resources.lakehouse.storage_options()
        landing_options = resources.landing.storage_options()
        listed = resources.landing.zone().list()

    assert lake_options == landing_options == storage_options_from_env() == s3.storage_options
    assert lake_from_environment().storage_options == s3.storage_options
    assert [f.file_id for f in listed.files] == [key.relative_path]
