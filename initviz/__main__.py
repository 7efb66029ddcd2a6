"""`python -m initviz` is the same as the `initviz` command."""

import sys

from initviz.cli import main

sys.exit(main())
