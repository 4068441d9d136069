"""`python -m mlflow_repro` is the `mlflow-repro` command."""

from mlflow_repro.cli import main

raise SystemExit(main())
