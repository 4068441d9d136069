"""`python -m repro_template`: the template's command line (train, lock, package)."""

from repro_template.cli import main

raise SystemExit(main())
