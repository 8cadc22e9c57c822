"""`python -m edge_agent run --config edge.yaml`: the edge agent's command line."""

from edge_agent.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
