"""`python -m studio ...`: the command-line twin of the UI."""

from studio.cli import main

raise SystemExit(main())
