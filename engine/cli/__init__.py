"""The operator command line (``hotline``, entry point ``cli.py``): parser, commands, shared helpers."""
