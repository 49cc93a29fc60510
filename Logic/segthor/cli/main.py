"""Entry point of the `segthor` command.

Each subcommand lives in its own module `segthor.cli.<name>` exposing:

    HELP: str                                   one line for `segthor --help`
    add_arguments(parser: ArgumentParser) -> None
    run(args: Namespace) -> int                 exit code

Subcommand modules import heavy packages (torch, SimpleITK, slicer) inside `run`, so `segthor --help`
stays fast. A `SegthorError` raised by `run` is printed as one clear line and exits with code 2, like
argparse's own usage errors, and so is an `OSError` (a file that cannot be read or written); a closed pipe
(`segthor models --json | head -1`) ends quietly like other Unix tools; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from segthor._version import __version__
from segthor.errors import CancelledError, OverwriteRefusedError, SegthorError, one_line

SUBCOMMANDS = ("phantom", "segment", "batch", "evaluate", "train", "models")

EXIT_USAGE = 2
EXIT_CANCELLED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by a closed pipe


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segthor",
        description=(
            "Segment the thoracic organs at risk (esophagus, heart, trachea, aorta) in CT, "
            "evaluate segmentations, make synthetic phantoms and train networks."
        ),
        epilog="Bundled models are demo weights, synthetic training data, not for clinical use.",
        # Keep the disclaimer on one line whatever the terminal width.
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"segthor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"segthor.cli.{name}")
        sub_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    api_option = OverwriteRefusedError.option
    OverwriteRefusedError.option = "--overwrite"  # refusals name the CLI's option, also inside batch rows
    try:
        return _run(args)
    finally:
        OverwriteRefusedError.option = api_option  # a caller of main() in-process keeps the API's wording


def _run(args: argparse.Namespace) -> int:
    try:
        code = int(args._run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except CancelledError as exc:
        print(f"segthor {args.command}: cancelled: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_CANCELLED
    except SegthorError as exc:
        print(f"segthor {args.command}: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        from segthor.io.writable import describe_os_error

        where = f" {exc.filename}:" if getattr(exc, "filename", None) else ""
        print(
            f"segthor {args.command}: error:{where} {describe_os_error(exc)}; check the path and its permissions",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"segthor {args.command}: interrupted", file=sys.stderr)
        return EXIT_CANCELLED


def _silence_stdout() -> None:
    """Point stdout at /dev/null so Python's final flush of the dead pipe raises nothing (Python docs' recipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
