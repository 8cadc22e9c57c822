"""The UNS contract library: load the AsyncAPI document, route topics, validate payloads.

Light on purpose (PyYAML and orjson, no JSON Schema library at run time): the edge agent and the Dagster
assets both import it. `ContractValidator(load_contract()).check(topic, payload_bytes)` gives a `Verdict`.
"""

from edge_agent.contract.document import (
    ChannelSpec,
    Contract,
    MessageExample,
    MessageSpec,
    OperationSpec,
    ParameterSpec,
    default_contract_path,
    load_contract,
)
from edge_agent.contract.errors import ContractDocumentError, ContractError, ErrorKind
from edge_agent.contract.payloads import PayloadValidator, json_path
from edge_agent.contract.topics import ChannelMatcher, TopicMatch, TopicRouter
from edge_agent.contract.validator import DEFAULT_MAX_PAYLOAD_BYTES, ContractValidator, Verdict

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "ChannelMatcher",
    "ChannelSpec",
    "Contract",
    "ContractDocumentError",
    "ContractError",
    "ContractValidator",
    "ErrorKind",
    "MessageExample",
    "MessageSpec",
    "OperationSpec",
    "ParameterSpec",
    "PayloadValidator",
    "TopicMatch",
    "TopicRouter",
    "Verdict",
    "default_contract_path",
    "json_path",
    "load_contract",
]
