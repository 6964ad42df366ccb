"""``python -m desktop [--model PATH_OR_NAME] [FILE]``: the same as the ``sketchgen`` command."""

import sys

from desktop.app import main

sys.exit(main())
