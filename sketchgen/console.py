"""The one way every SketchGen console script ends: a clear line on stderr and a conventional exit status.

A user must never see a raw traceback. ``@console_main`` wraps a script's ``main(argv) -> int``:

* a ``SketchGenError`` (bad input, a file that cannot be read or written) prints ``error: <file>: <problem>``, exit 2;
* a closed stdout (``sketchgen-data info X | head -1``) ends quietly with 141 (128 + SIGPIPE), Ctrl-C quietly with
  130 (scripts with something to say about an interruption catch it themselves);
* anything else is a bug: one line saying so and where the full traceback was written (a file in the temp folder),
  exit 1. ``SKETCHGEN_TRACEBACK=1`` lets it through raw instead, for debugging.

Scripts build their parsers with :class:`ArgumentParser`, whose usage errors are ``ConfigError`` s and so end the
same way (usage line, ``error: ...``, exit 2).
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from sketchgen.errors import ConfigError, SketchGenError

__all__ = ["console_main", "ArgumentParser", "add_max_data_mb", "apply_max_data_mb", "EXIT_ERROR", "EXIT_BUG",
           "EXIT_INTERRUPTED", "EXIT_BROKEN_PIPE", "TRACEBACK_ENV"]

EXIT_ERROR = 2  # the user's input or environment is wrong; the message says how
EXIT_BUG = 1  # an unexpected exception (a bug): see the traceback file
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, as a shell reports a Ctrl-C
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # 141, as a shell reports a reader that went away
TRACEBACK_ENV = "SKETCHGEN_TRACEBACK"


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors print the usage line and raise ``ConfigError`` (no ``SystemExit(2)`` of its own)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise ConfigError(message)


def add_max_data_mb(parser: argparse.ArgumentParser) -> None:
    """``--max-data-mb MB``, for every command that loads .npz data (see :mod:`sketchgen.safe_npz`)."""
    from sketchgen.safe_npz import DEFAULT_MAX_DATA_MB, MAX_DATA_MB_ENV

    parser.add_argument(
        "--max-data-mb", "--max_data_mb", dest="max_data_mb", type=float, default=None, metavar="MB",
        help=f"refuse .npz data files whose arrays take more than MB MiB (default ${MAX_DATA_MB_ENV} or "
             f"{DEFAULT_MAX_DATA_MB}: every official QuickDraw file fits; raise it for bigger data sets)")


def apply_max_data_mb(args: argparse.Namespace) -> None:
    """Make ``--max-data-mb`` the limit of every loader this process runs (through ``$SKETCHGEN_MAX_DATA_MB``)."""
    if getattr(args, "max_data_mb", None) is None:
        return
    from sketchgen.safe_npz import MAX_DATA_MB_ENV, max_data_bytes

    if not args.max_data_mb > 0:
        raise ConfigError(f"--max-data-mb must be above 0, got {args.max_data_mb:g}")
    max_data_bytes(args.max_data_mb)
    os.environ[MAX_DATA_MB_ENV] = repr(args.max_data_mb)


def _silence_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the interpreter's final flush cannot raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _write_traceback(prog: str) -> Path | None:
    """The current exception's full traceback in a new file under the temp folder (None if it cannot be written)."""
    import datetime  # only when something went wrong: start-up stays light
    import tempfile
    import traceback

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        fd, name = tempfile.mkstemp(prefix=f"{prog}-crash-{stamp}-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"{prog} {' '.join(sys.argv[1:])}\n\n")
            traceback.print_exc(file=fh)
        return Path(name)
    except OSError:
        return None


def _prog_name(fallback: str) -> str:
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name if name.startswith("sketchgen") else fallback


def console_main(main: Callable[..., int | None]) -> Callable[..., int]:
    """Wrap a console script's ``main``: it returns the exit status instead of letting any exception out."""

    @functools.wraps(main)
    def wrapped(*args, **kwargs) -> int:
        prog = _prog_name(main.__module__.split(".")[0])
        try:
            status = main(*args, **kwargs)
            sys.stdout.flush()  # a closed pipe shows up here for output still buffered
            return int(status or 0)
        except SketchGenError as exc:
            _flush_quietly()
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        except BrokenPipeError:
            _silence_stdout()
            return EXIT_BROKEN_PIPE
        except KeyboardInterrupt:
            _flush_quietly()
            return EXIT_INTERRUPTED
        except SystemExit as exc:  # argparse's --help / --version, or a script's own sys.exit
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_ERROR)
        except Exception as exc:
            if os.environ.get(TRACEBACK_ENV, "") not in ("", "0"):
                raise
            _flush_quietly()
            where = _write_traceback(prog)
            kind = "ran out of memory" if isinstance(exc, MemoryError) else f"unexpected {type(exc).__name__}"
            text = str(exc).splitlines()[0][:200] if str(exc) else ""
            saved = f"the full traceback is in {where}" if where else "the traceback could not be saved"
            print(f"error: {kind}{': ' + text if text else ''} (a bug in {prog}; {saved}; please report it)",
                  file=sys.stderr)
            return EXIT_BUG

    wrapped.sketchgen_console_main = True  # type: ignore[attr-defined]  (tests check every script has it)
    return wrapped


def _flush_quietly() -> None:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError, ValueError):
        _silence_stdout()
