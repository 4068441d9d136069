"""Inspect: answer questions about logged runs from their manifests.

- `audit.py`: the auditor's list for a run or a registered model version, checked now.
- `diff.py`: why two runs differ, grouped and ranked by likely cause.
- `parity.py`: does a serving environment match the training environment?

All three read manifests (and MLflow's record for what MLflow owns: params, metrics, models,
the registry), return the typed records of `records.py`, and never change a run. `render.py`
turns the records into text, JSON and HTML for the CLI.
"""
