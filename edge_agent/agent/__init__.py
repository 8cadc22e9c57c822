"""The edge agent: UNS ingestion, validation against the contract, crash-safe capture, store-and-forward.

settings = load_settings("edge.yaml")   # EDGE_... environment variables override the file
with EdgeAgent(settings) as agent:      # starts; stops in order on leaving
    agent.ready.wait(30)
"""

from edge_agent.agent.app import EdgeAgent
from edge_agent.agent.messages import Message
from edge_agent.agent.pipeline.processors import Processor, ProcessorKind
from edge_agent.agent.settings import EdgeSettings, load_settings

__all__ = ["EdgeAgent", "EdgeSettings", "Message", "Processor", "ProcessorKind", "load_settings"]
