"""Every console script in pyproject.toml ends through ``sketchgen.console.console_main`` (no raw tracebacks)."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
_SECTION = (REPO_ROOT / "pyproject.toml").read_text().split("[project.scripts]", 1)[1].split("\n[", 1)[0]
SCRIPTS = dict(re.findall(r'^([\w-]+)\s*=\s*"([\w.:]+)"', _SECTION, flags=re.M))  # tomllib is Python 3.11+


def test_the_scripts_were_found() -> None:
    assert {"sketchgen", "sketchgen-data", "sketchgen-train", "sketchgen-export", "sketchgen-sample"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_console_script_is_wrapped(name: str) -> None:
    module, function = SCRIPTS[name].split(":")
    entry = getattr(importlib.import_module(module), function)
    assert getattr(entry, "sketchgen_console_main", False), (
        f"{name} = {SCRIPTS[name]}: decorate it with @sketchgen.console.console_main")
