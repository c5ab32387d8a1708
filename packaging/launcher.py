"""Entry point of the packaged app: the same `relayscope` command as `pip install` gives."""

import sys

from relayscope.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
