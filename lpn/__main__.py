"""`python -m lpn` runs the command line, as the `lpn` script does."""

from lpn.cli import main

raise SystemExit(main())
