"""The edge agent: multithreaded UNS ingestion, validation, crash-safe capture, store-and-forward.

    settings = load_settings("edge.yaml")   # EDGE_... environment variables override the file
    agent = EdgeAgent(settings)
    exit_code = agent.run()                 # until agent.stop_requested is set (SIGTERM/SIGINT in the CLI)

See `app.py` for the pipeline and `writer.py` for what "acknowledged" guarantees.
"""

from edge_agent.agent.app import EdgeAgent
from edge_agent.agent.messages import Message
from edge_agent.agent.processors import Processor, ProcessorKind
from edge_agent.agent.settings import EdgeSettings, load_settings

__all__ = ["EdgeAgent", "EdgeSettings", "Message", "Processor", "ProcessorKind", "load_settings"]
