"""`make run` checks for the system libraries Qt's X11 plugin needs and prints the exact install command (issue 18,
item 1): the real plugin, the real ``ldd``, the real check as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

from desktop._testsupport import REPO_ROOT
from desktop.system_check import PACKAGES, distribution, install_command, missing_libraries


def _check(**env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    environ.update(env, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-m", "desktop.system_check"], cwd=REPO_ROOT, env=environ,
                          capture_output=True, text=True, timeout=60)


def test_the_check_names_what_this_machine_lacks_and_the_command_that_installs_it():
    missing = missing_libraries()
    result = _check()
    if not sys.platform.startswith("linux"):
        assert result.returncode == 0
        return
    if not missing:
        assert result.returncode == 0 and result.stderr == ""
        return
    assert result.returncode == 1
    for soname in missing:
        assert soname in result.stderr
        assert PACKAGES.get(soname, (soname,))[0] in result.stderr or PACKAGES[soname][1] in result.stderr
    assert "apt-get install -y" in result.stderr or "dnf install -y" in result.stderr


def test_no_x11_no_check():
    assert _check(QT_QPA_PLATFORM="offscreen").returncode == 0


def test_in_a_wayland_session_missing_x11_libraries_are_a_note_not_a_stop():
    result = _check(WAYLAND_DISPLAY="wayland-0")
    assert result.returncode == 0
    if missing_libraries():
        assert result.stderr.startswith("Note:") and "install -y" in result.stderr


def test_a_library_qt_loads_at_run_time_is_checked_too(tmp_path):
    assert missing_libraries(tmp_path / "no-plugin.so", ["libsketchgen-not-installed.so.7"]) == [
        "libsketchgen-not-installed.so.7"]
    assert missing_libraries(tmp_path / "no-plugin.so", ["libc.so.6"]) == []


def test_the_command_fits_the_distribution(tmp_path):
    os_release = tmp_path / "os-release"
    missing = ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-shape.so.0"]
    os_release.write_text('NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n')
    assert distribution(os_release) == "debian"
    assert install_command(missing, "debian") == [
        "sudo apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0"]
    os_release.write_text('ID="fedora"\n')
    assert distribution(os_release) == "fedora"
    assert install_command(missing, "fedora") == [
        "sudo dnf install -y xcb-util-cursor xcb-util-wm xcb-util-keysyms libxcb"]
    os_release.write_text("ID=arch\n")
    both = install_command(missing, distribution(os_release))
    assert len(both) == 2 and "apt-get" in both[0] and "dnf" in both[1]
