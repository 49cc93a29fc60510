"""The `segthor` command line: one module per subcommand, each mirroring a Python API function."""
