"""Loading the AsyncAPI document: split files, references, and documents that must be refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.contract import ContractDocumentError, ContractValidator, default_contract_path, load_contract

MINIMAL = """
asyncapi: 3.0.0
info: {{title: t, version: 2.1.0}}
channels:
  temp:
    address: 'plant/{{machine}}/temp'
    parameters:
      machine: {{x-pattern: '^m[0-9]+$'}}
    messages:
      reading: {{$ref: 'common.yaml#/components/messages/reading'}}
operations:
  readTemp: {{action: receive, channel: {{$ref: '#/channels/temp'}}}}
{extra}
"""
COMMON = """
components:
  messages:
    reading:
      payload: {$ref: '#/components/schemas/reading'}
      examples: [{name: one, payload: {celsius: 21.5}}]
  schemas:
    reading:
      type: object
      required: [celsius]
      properties: {celsius: {type: number, minimum: -273.15}}
"""


def _write(tmp_path: Path, main: str, common: str = COMMON) -> Path:
    (tmp_path / "common.yaml").write_text(common)
    path = tmp_path / "main.yaml"
    path.write_text(main)
    return path


def test_project_contract_is_asyncapi_3(contract) -> None:
    assert contract.source == default_contract_path()
    assert contract.version == "1.2.0"
    assert set(contract.channels) == {
        "weldTelemetry",
        "weldAnomaly",
        "agentHeartbeat",
        "agentDrift",
        "modelManifest",
    }


def test_split_document_resolves_across_files(tmp_path: Path) -> None:
    contract = load_contract(_write(tmp_path, MINIMAL.format(extra="")))
    validator = ContractValidator(contract)
    assert validator.router.subscription_filters() == ["plant/+/temp"]
    assert validator.check("plant/m7/temp", b'{"celsius": 20}').ok
    verdict = validator.check("plant/m7/temp", b'{"celsius": -300}')
    assert verdict.error is not None and verdict.error.path == "$.celsius"
    assert validator.check("plant/x7/temp", b'{"celsius": 20}').error.path == "topic.machine"


@pytest.mark.parametrize(
    ("main", "common", "message"),
    [
        ("asyncapi: 2.6.0\ninfo: {title: t, version: '1'}\n", COMMON, "is not 3.x"),
        (
            MINIMAL.format(extra="").replace("common.yaml#/components/messages/reading", "common.yaml#/nope"),
            COMMON,
            "unresolvable $ref",
        ),
        (
            MINIMAL.format(extra="").replace("machine: {x-pattern", "other: {x-pattern"),
            COMMON,
            "not declared",
        ),
        (MINIMAL.format(extra="").replace("'^m[0-9]+$'", "'('"), COMMON, "bad x-pattern"),
        (MINIMAL.format(extra="").replace("#/channels/temp", "#/channels/none"), COMMON, "unknown channel"),
        (
            MINIMAL.format(extra=""),
            COMMON.replace(
                "{$ref: '#/components/schemas/reading'}", "{$ref: '#/components/messages/reading/payload'}"
            ),
            "circular $ref",
        ),
        ("[1, 2", COMMON, "not valid YAML"),
    ],
    ids=["version", "bad-ref", "undeclared-parameter", "bad-pattern", "bad-operation", "cycle", "yaml"],
)
def test_bad_documents_are_refused_with_a_reason(
    tmp_path: Path, main: str, common: str, message: str
) -> None:
    with pytest.raises(ContractDocumentError, match=message.replace("$", r"\$")):
        ContractValidator(load_contract(_write(tmp_path, main, common)))


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ContractDocumentError, match="not found"):
        load_contract(tmp_path / "absent.yaml")
