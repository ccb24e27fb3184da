"""Test-session set-up: the on-disk compile cache goes to a temporary directory, never $HOME."""

import os
import tempfile

os.environ["SYMJAC_CACHE_DIR"] = tempfile.mkdtemp(prefix="symjac-test-cache-")
