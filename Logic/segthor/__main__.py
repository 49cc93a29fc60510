import sys

from segthor.cli.main import main

sys.exit(main())
