"""`python -m segthor_training DATA -o OUT ...`, also what `torchrun --nproc_per_node N -m segthor_training` runs."""

from __future__ import annotations

import argparse
import sys

from segthor.errors import SegthorError
from segthor_training.cli import HELP, add_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="segthor_training", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except SegthorError as exc:
        print(f"segthor_training: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("segthor_training: interrupted; continue with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
