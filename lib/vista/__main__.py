"""``python -m vista`` runs the CLI."""

import sys

from vista.cli import main

sys.exit(main())
