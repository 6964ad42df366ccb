"""How a benchmark publishes its table: printed, then written atomically under the repository (unless told not to)."""
from __future__ import annotations

from pathlib import Path

from sketchgen.fileio import atomic_write


def publish(text: str, out: Path, write: bool = True) -> None:
    """Print ``text``; with ``write``, replace ``out`` with it (a half-written table never lands)."""
    print(text)
    if write:
        with atomic_write(out, mode="w") as fh:
            fh.write(text)
        print(f"wrote {out}")
