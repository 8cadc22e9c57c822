import sys

from edge_agent.simulator.cli import main

sys.exit(main())
