"""`python -m labtui` is the `labtui` command."""

import sys

from labtui.cli import main

sys.exit(main())
