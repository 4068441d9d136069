"""The mlflow-repro template: a team's own training project, the package a team renames.

It holds the job configs (`jobs/configs.py`), the DVC `prepare` stage (`jobs/prepare.py`), the
training jobs (`jobs/training.py`, `jobs/neural.py`), and the project tooling behind `just lock`
and `just package` (`envfile.py`, `packaging.py`). It uses the mlflow-repro plugin only through
its public API (`mlflow_repro.__all__`), plus `mlflow_repro.uvexport` so that python_env.yaml,
the captured lock and the wheel's requirements come from one `uv export`.

It runs from the checkout (`PYTHONPATH=src`), as the MLproject does: see docs/architecture.md.
"""
