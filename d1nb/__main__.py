"""`python -m d1nb` runs the d1nb command."""

from d1nb.presentation.cli import main

raise SystemExit(main())
