"""``python -m bshm`` runs the command line."""

import sys

from bshm.cli import main

sys.exit(main())
