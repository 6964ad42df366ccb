"""Morph state (no Qt): sketches in slots A-D, their cached latent vectors and the decoded in-betweens.

Each slot's sketch is encoded once (its latent is cached until the slot changes); moving the handle only decodes the
interpolated latent. Every slot change bumps the slot's revision, so a latent computed for an older sketch is never
stored for the new one.
"""

from __future__ import annotations

import numpy as np

from desktop.document import Signal

__all__ = ["SLOTS", "HANDLE_STEPS", "STRIP_LENGTH", "GRID_SIZE", "MorphState"]

SLOTS = ("A", "B", "C", "D")
HANDLE_STEPS = 100  # the handle moves in 1 % steps from A (0) to B (100)
STRIP_LENGTH = 7  # sketches in the strip, A and B included
GRID_SIZE = 5  # the 2x2 grid is filled out to GRID_SIZE x GRID_SIZE sketches


class MorphState:
    """``changed(what)`` fires with "slot", "between", "strip" or "grid"."""

    def __init__(self) -> None:
        self.slots: dict[str, np.ndarray | None] = {name: None for name in SLOTS}
        self.revisions: dict[str, int] = {name: 0 for name in SLOTS}
        self.latents: dict[str, np.ndarray] = {}
        self.handle = HANDLE_STEPS // 2
        self.between: np.ndarray | None = None
        self.between_handle: int | None = None  # the handle position ``between`` was decoded for
        self.strip: list[np.ndarray] = []
        self.grid: list[np.ndarray] = []
        self.changed = Signal()

    # slots ----------------------------------------------------------------------------------------------------------
    def set_slot(self, name: str, sketch: np.ndarray | None) -> None:
        if name not in self.slots:
            raise KeyError(f"no morph slot {name!r}; slots are {', '.join(SLOTS)}")
        self.slots[name] = None if sketch is None else np.array(sketch, dtype=np.float32)
        self.revisions[name] += 1
        self.latents.pop(name, None)
        if name in ("A", "B"):
            self.between = None
            self.between_handle = None
            self.strip = []
        self.grid = []
        self.changed.emit("slot")

    def filled(self, *names: str) -> bool:
        return all(self.slots[name] is not None for name in names)

    def missing_latents(self, *names: str) -> list[str]:
        return [name for name in names if name not in self.latents]

    def store_latent(self, name: str, revision: int, z: np.ndarray) -> bool:
        """Keep ``z`` if it was computed for the slot's current sketch; False when the slot changed since."""
        if self.revisions[name] != revision:
            return False
        self.latents[name] = np.asarray(z, dtype=np.float32)
        return True

    def forget_latents(self) -> None:
        """The model changed: every cached latent and decoded sketch belongs to the old one."""
        self.latents.clear()
        self.between = None
        self.between_handle = None
        self.strip = []
        self.grid = []
        self.changed.emit("between")

    # results ----------------------------------------------------------------------------------------------------------
    def set_handle(self, value: int) -> None:
        self.handle = int(min(max(value, 0), HANDLE_STEPS))

    @property
    def t(self) -> float:
        return self.handle / HANDLE_STEPS

    def set_between(self, handle: int, sketch: np.ndarray) -> None:
        self.between = sketch
        self.between_handle = handle
        self.changed.emit("between")

    def set_strip(self, sketches: list[np.ndarray]) -> None:
        self.strip = list(sketches)
        self.changed.emit("strip")

    def set_grid(self, sketches: list[np.ndarray]) -> None:
        self.grid = list(sketches)
        self.changed.emit("grid")
