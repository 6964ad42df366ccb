"""Where the app keeps its things: QSettings (window, model, temperature, recent files) and the data folder.

``$SKETCHGEN_HOME``, when set, holds both the settings (``settings.ini``) and the autosave, so tests and portable
installs never touch the user's real configuration; otherwise Qt's standard locations are used.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QCoreApplication, QSettings, QStandardPaths

from sketchgen.engine.sampling import DEFAULT_RULE, TEMPERATURE_RULES

__all__ = ["ORGANIZATION", "APPLICATION", "HOME_ENV", "app_home", "AppSettings", "MAX_RECENT"]

ORGANIZATION = "SketchGen"
APPLICATION = "sketchgen"
HOME_ENV = "SKETCHGEN_HOME"
MAX_RECENT = 10


def _ensure_names() -> None:
    if QCoreApplication.organizationName() != ORGANIZATION:
        QCoreApplication.setOrganizationName(ORGANIZATION)
    if QCoreApplication.applicationName() != APPLICATION:
        QCoreApplication.setApplicationName(APPLICATION)


def app_home() -> Path:
    """The app's data folder ($SKETCHGEN_HOME or the platform's app-data location), created if needed."""
    env = os.environ.get(HOME_ENV)
    if env:
        home = Path(env)
    else:
        _ensure_names()
        home = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))
    home.mkdir(parents=True, exist_ok=True)
    return home


def _open_qsettings() -> QSettings:
    env = os.environ.get(HOME_ENV)
    if env:
        return QSettings(str(app_home() / "settings.ini"), QSettings.Format.IniFormat)
    _ensure_names()
    return QSettings()


class AppSettings:
    """Typed access to the keys the app keeps between runs."""

    def __init__(self) -> None:
        self._qs = _open_qsettings()

    def sync(self) -> None:
        self._qs.sync()

    # window -----------------------------------------------------------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, value: QByteArray) -> None:
        self._qs.setValue("window/geometry", value)

    def window_state(self) -> QByteArray | None:
        value = self._qs.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_window_state(self, value: QByteArray) -> None:
        self._qs.setValue("window/state", value)

    # model ------------------------------------------------------------------------------------------------------------
    def last_model(self) -> str | None:
        value = self._qs.value("model/last")
        return str(value) if value else None

    def set_last_model(self, path: str | None) -> None:
        self._qs.setValue("model/last", path or "")

    def model_folders(self) -> list[str]:
        return self._string_list("model/folders")

    def set_model_folders(self, folders: list[str]) -> None:
        self._qs.setValue("model/folders", list(folders))

    def temperature(self, default: float = 0.5) -> float:
        return self._number("model/temperature", default, 0.01, 2.0)

    def set_temperature(self, value: float) -> None:
        self._qs.setValue("model/temperature", float(value))

    def temperature_rule(self, default: str = DEFAULT_RULE) -> str:
        """The engine's temperature rule (sketchgen.engine.sampling); an unknown stored value gives the default."""
        value = self._qs.value("model/temperature_rule")
        return str(value) if value in TEMPERATURE_RULES else default

    def set_temperature_rule(self, rule: str) -> None:
        self._qs.setValue("model/temperature_rule", str(rule))

    def continuation_count(self, default: int = 4) -> int:
        return int(self._number("draw/continuations", default, 1, 12))

    def set_continuation_count(self, value: int) -> None:
        self._qs.setValue("draw/continuations", int(value))

    def pen_speed(self, default: float) -> float:
        return self._number("draw/pen_speed", default, 1.0, 100_000.0)

    def set_pen_speed(self, value: float) -> None:
        self._qs.setValue("draw/pen_speed", float(value))

    def draw_together(self) -> bool:
        return str(self._qs.value("draw/together", "false")).lower() in ("true", "1")

    def set_draw_together(self, on: bool) -> None:
        self._qs.setValue("draw/together", bool(on))

    # files ------------------------------------------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        return self._string_list("files/recent")[:MAX_RECENT]

    def add_recent_file(self, path: str) -> list[str]:
        path = str(Path(path).resolve())
        files = [path] + [p for p in self.recent_files() if p != path]
        self._qs.setValue("files/recent", files[:MAX_RECENT])
        return files[:MAX_RECENT]

    def clear_recent_files(self) -> None:
        self._qs.setValue("files/recent", [])

    def last_folder(self) -> str:
        return str(self._qs.value("files/last_folder") or "")

    def set_last_folder(self, folder: str) -> None:
        self._qs.setValue("files/last_folder", folder)

    # helpers ----------------------------------------------------------------------------------------------------------
    def _string_list(self, key: str) -> list[str]:
        value = self._qs.value(key)
        if value is None or value == "":
            return []
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value if v]

    def _number(self, key: str, default: float, low: float, high: float) -> float:
        value = self._qs.value(key)
        try:
            number = float(value) if value is not None else default
        except (TypeError, ValueError):
            return default
        return min(high, max(low, number)) if number == number else default
