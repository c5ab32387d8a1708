"""`python -m relayscope`: the `relayscope` command (relayscope.cli)."""

import sys

from relayscope.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
