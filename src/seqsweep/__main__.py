"""`python -m seqsweep ARGS`: the `seqsweep` console script, for an environment without its entry point."""

import sys

from seqsweep.cli import main

if __name__ == "__main__":
    sys.exit(main())
