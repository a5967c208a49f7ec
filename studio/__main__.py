"""`python -m studio ...`: the command-line twin of the UI."""

from studio.cli.main import main

raise SystemExit(main())
