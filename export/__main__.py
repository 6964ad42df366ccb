"""``python -m export EXPERIMENT_DIR --out assets/models/NAME`` (the same as sketchgen-export)."""
import sys

from export.cli import main

sys.exit(main())
