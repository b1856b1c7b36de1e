"""The ``bshm`` command line.

Each command lives in its own module of this package (``cmd_*.py``) and
exposes::

    NAME = "inspect"            # the word typed after ``bshm``
    GROUP = None                # or e.g. "simulate" for ``bshm simulate NAME``
    HELP = "one line for the command list"
    def configure(parser: argparse.ArgumentParser) -> None: ...
    def run(args: argparse.Namespace) -> int: ...

Command modules import only argparse-level things at module level; the
heavy parts (h5py, numba, Qt) are imported inside ``run`` so that
``bshm --help`` stays fast. Commands are discovered, so a command that is
not implemented is never listed.

Exit codes: 0 success, 1 failure, 2 usage or config error.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from bshm._version import __version__

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

_GROUP_HELP = {
    "simulate": "simulated bridge and virtual devices",
}

log = logging.getLogger("bshm")


class _Parser(argparse.ArgumentParser):
    """ArgumentParser that exits with code 2 and a one-line hint."""

    def error(self, message: str) -> NoReturn:  # noqa: D102 - argparse API
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _command_modules() -> list[ModuleType]:
    mods = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("cmd_"):
            mods.append(importlib.import_module(f"{__name__}.{info.name}"))
    return sorted(mods, key=lambda m: (getattr(m, "GROUP", None) or "", m.NAME))


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser from the discovered command modules."""
    parser = _Parser(
        prog="bshm",
        description="bshm: bridge structural health monitoring toolkit.",
        epilog="Run 'bshm COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"bshm {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    groups: dict[str, argparse._SubParsersAction] = {}
    for mod in _command_modules():
        group = getattr(mod, "GROUP", None)
        target = sub
        if group:
            if group not in groups:
                gp = sub.add_parser(
                    group,
                    help=_GROUP_HELP.get(group, group),
                    description=_GROUP_HELP.get(group, group),
                )
                groups[group] = gp.add_subparsers(
                    dest="subcommand", metavar="SUBCOMMAND", parser_class=_Parser
                )
                gp.set_defaults(_group_parser=gp)
            target = groups[group]
        p = target.add_parser(
            mod.NAME,
            help=mod.HELP,
            description=getattr(mod, "DESCRIPTION", None) or mod.HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.configure(p)
        p.set_defaults(_run=mod.run)
    return parser


def setup_logging(verbose: int = 0, quiet: bool = False) -> None:
    """Configure logging for the command line (the only place that does)."""
    level = logging.INFO
    if quiet:
        level = logging.WARNING
    elif verbose >= 2:
        level = logging.DEBUG
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    if verbose < 2:
        for noisy in ("numba", "pymodbus", "asyncio", "distributed", "matplotlib"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _os_error_line(exc: OSError) -> str:
    """One line for an operating-system error (HDF5's can span several lines)."""
    import errno

    hint = {errno.ENOSPC: " (the disk is full)", errno.EROFS: " (the file system is read-only)",
            errno.EDQUOT: " (the disk quota is exceeded)"}.get(exc.errno or 0, "")
    what = exc.strerror or " ".join(str(exc).split())[:200] or type(exc).__name__
    where = exc.filename if exc.filename is not None else ""
    return f"{what}: {where}{hint}" if where else f"{what}{hint}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``bshm`` command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        target = getattr(args, "_group_parser", parser)
        target.print_help(sys.stderr)
        return EXIT_USAGE
    setup_logging(args.verbose, args.quiet)
    from bshm.errors import BshmError, ConfigError

    try:
        return int(args._run(args) or 0)
    except ConfigError as exc:
        if args.debug:
            raise
        print(f"bshm: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BshmError as exc:
        if args.debug:
            raise
        print(f"bshm: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:  # a read-only or full disk, a missing file, no permission ...
        if args.debug:
            raise
        print(f"bshm: error: {_os_error_line(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except ValueError as exc:
        if args.debug:
            raise
        print(f"bshm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("bshm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
