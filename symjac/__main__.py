"""``python -m symjac``: the command line (:mod:`symjac.cli`)."""

import sys

from .cli import main

sys.exit(main())
