"""Every example in the contract is valid; every mutation of one is refused at the right path."""

from __future__ import annotations

import jsonschema
import pytest

from edge_agent.contract import Contract, ContractValidator, ErrorKind, load_contract

from .mutations import Mutation, mutations

CONTRACT = load_contract()
EXAMPLES = [
    pytest.param(channel.id, message, example, id=f"{channel.id}-{example.name}")
    for channel in CONTRACT.channels.values()
    for message in channel.messages.values()
    for example in message.examples
]
MUTATIONS = [
    pytest.param(channel_id, message.payload_schema, mutation, id=f"{channel_id}-{example.name}-{mutation}")
    for channel_id, message, example in (p.values for p in EXAMPLES)
    for mutation in mutations(dict(message.payload_schema), example.payload)
]


def test_every_message_has_examples(contract: Contract) -> None:
    for channel in contract.channels.values():
        for message in channel.messages.values():
            assert message.examples, f"{channel.id}/{message.name} has no examples"


@pytest.mark.parametrize(("channel_id", "message", "example"), EXAMPLES)
def test_example_is_valid(contract_validator: ContractValidator, channel_id, message, example) -> None:
    name, error = contract_validator.check_data(channel_id, example.payload)
    assert error is None, str(error)
    assert name == message.name
    # The reference implementation agrees on the same resolved schema.
    jsonschema.Draft7Validator(
        message.payload_schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    ).validate(example.payload)


def test_examples_name_the_version_of_the_document_they_are_in(contract: Contract) -> None:
    versions = {
        example.payload["contract_version"]
        for channel in contract.channels.values()
        for message in channel.messages.values()
        for example in message.examples
        if "contract_version" in example.payload
    }
    assert versions == {contract.version}


def test_all_four_kinds_of_mutation_are_generated_for_every_message() -> None:
    kinds_by_message: dict[str, set[str]] = {}
    for channel_id, _schema, mutation in (p.values for p in MUTATIONS):
        kinds_by_message.setdefault(channel_id, set()).add(mutation.kind)
    expected = {"missing_required", "wrong_type", "out_of_range", "extra_field"}
    assert kinds_by_message.keys() == CONTRACT.channels.keys()
    for channel_id, kinds in kinds_by_message.items():
        assert kinds == expected, channel_id
    assert len(MUTATIONS) > 150


@pytest.mark.parametrize(("channel_id", "schema", "mutation"), MUTATIONS)
def test_mutated_example_is_refused_at_its_path(
    contract_validator: ContractValidator, channel_id: str, schema, mutation: Mutation
) -> None:
    name, error = contract_validator.check_data(channel_id, mutation.payload)
    assert name is None
    assert error is not None
    assert error.kind == ErrorKind.SCHEMA
    assert error.channel == channel_id
    assert error.path == mutation.path, error.reason
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(mutation.payload)
