"""`python -m mlops_assets.cli`: the same as the `mlops` entry point."""

import sys

from mlops_assets.cli import main

sys.exit(main())
