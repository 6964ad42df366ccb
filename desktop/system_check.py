"""Before the first window: does this Linux have the system libraries Qt's X11 plugin needs? (``make run`` asks.)

PySide6's wheels bring Qt but not the X11 helper libraries it links against (and ``libxcb-cursor``, which Qt loads
at run time). Without them Qt aborts with "Could not load the Qt platform plugin xcb" and a list of plugin names
that does not say what to install. This check reads what the installed plugin really needs (``ldd`` on it, plus the
run-time one) and prints the exact command for this distribution's package manager. Standard library only: it runs
before anything from Qt is loaded.

    python -m desktop.system_check      # exit 0: fine (or not Linux / not X11); 1: libraries missing (command printed)
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["PACKAGES", "missing_libraries", "install_command", "distribution", "main"]

# soname -> (Debian/Ubuntu package, Fedora package)
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}
RUNTIME_LOADED = ["libxcb-cursor.so.0"]  # loaded by Qt with dlopen (Qt >= 6.5), so ldd never lists it


def _plugin() -> Path | None:
    """The installed PySide6's X11 platform plugin, found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    plugin = Path(list(spec.submodule_search_locations)[0]) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(plugin: Path | None = None, runtime: list[str] | None = None) -> list[str]:
    """Sonames the X11 plugin (its links, read with ``ldd``) and Qt's run-time loads cannot find, in order."""
    missing: list[str] = []
    plugin = plugin if plugin is not None else _plugin()
    if plugin is not None and shutil.which("ldd"):
        result = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, check=False)
        for line in result.stdout.splitlines():
            name, _, where = line.strip().partition(" => ")
            if where.strip() == "not found" and name not in missing:
                missing.append(name)
    for soname in RUNTIME_LOADED if runtime is None else runtime:
        if soname not in missing and not _loads(soname):
            missing.append(soname)
    return missing


def distribution(os_release: Path = Path("/etc/os-release")) -> str:
    """"debian", "fedora" or "" (unknown), from ID and ID_LIKE in os-release."""
    try:
        text = os_release.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    ids: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            ids += value.strip().strip('"').lower().split()
    if any(i in ("debian", "ubuntu") for i in ids):
        return "debian"
    if any(i in ("fedora", "rhel", "centos") for i in ids):
        return "fedora"
    return ""


def install_command(missing: list[str], distro: str) -> list[str]:
    """The command line(s) that install ``missing`` (both managers' when the distribution is unknown)."""
    def packages(column: int) -> str:
        names: list[str] = []
        for soname in missing:
            name = PACKAGES.get(soname, (soname, soname))[column]
            if name not in names:
                names.append(name)
        return " ".join(names)

    apt = f"sudo apt-get install -y {packages(0)}"
    dnf = f"sudo dnf install -y {packages(1)}"
    return {"debian": [apt], "fedora": [dnf]}.get(distro, [f"{apt}    # Debian, Ubuntu", f"{dnf}    # Fedora"])


def main() -> int:
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or (platform and not platform.startswith("xcb")):
        return 0
    missing = missing_libraries()
    if not missing:
        return 0
    # In a Wayland session Qt uses its Wayland plugin and X11 is only the fallback: a note, not a stop.
    wayland = not platform and bool(os.environ.get("WAYLAND_DISPLAY"))
    head = ("Note: Qt's X11 fallback lacks system libraries" if wayland else
            "SketchGen cannot start yet: Qt's X11 plugin needs system libraries this machine lacks")
    print(f"{head}:\n  " + ", ".join(missing) + "\nInstall them with:", file=sys.stderr)
    for line in install_command(missing, distribution()):
        print(f"  {line}", file=sys.stderr)
    if wayland:
        return 0
    print("then run `make run` again.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
