"""Entry point of the `segthor` command.

Each subcommand lives in its own module `segthor.cli.<name>` exposing:

    HELP: str                                   one line for `segthor --help`
    add_arguments(parser: ArgumentParser) -> None
    run(args: Namespace) -> int                 exit code

Subcommand modules import heavy packages (torch, SimpleITK, slicer) inside `run`, so `segthor --help`
stays fast. A `SegthorError` raised by `run` is printed as one clear line and exits with code 2, like
argparse's own usage errors; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from segthor._version import __version__
from segthor.errors import CancelledError, SegthorError

SUBCOMMANDS = ("phantom", "segment", "batch", "evaluate", "train", "models")

EXIT_USAGE = 2
EXIT_CANCELLED = 130


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
    try:
        return int(args._run(args) or 0)
    except CancelledError as exc:
        print(f"segthor {args.command}: cancelled: {exc}", file=sys.stderr)
        return EXIT_CANCELLED
    except SegthorError as exc:
        print(f"segthor {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"segthor {args.command}: interrupted", file=sys.stderr)
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
