"""``python -m symjac``: the command line (:mod:`symjac.cli`)."""

import sys

from symjac.cli import main

sys.exit(main())
