"""`python -m d1nb` runs the d1nb command."""

from .cli import main

raise SystemExit(main())
