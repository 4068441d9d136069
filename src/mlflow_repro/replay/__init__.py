"""Replay: rebuild a logged run from its manifest in a fresh workspace, re-launch it through
`mlflow run`, and verify the new run against the original, value by value and hash by hash.

Reads only the manifest and the run's artifacts; never re-runs a capture collector, and never
touches the user's checkout (the workspace is a new clone in a temporary directory).
"""
