"""``python -m sim`` is the ``kafka-sim`` command line."""

import sys

from sim.cli import main

sys.exit(main())
