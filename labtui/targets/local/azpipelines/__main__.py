import sys

from labtui.targets.local.azpipelines.cli import main

sys.exit(main())
