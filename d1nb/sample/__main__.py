"""`python -m d1nb.sample --out data/sample` regenerates the sample."""

from d1nb.sample.generate import main

raise SystemExit(main())
