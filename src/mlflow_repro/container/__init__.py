"""Containers: the Docker engine spoken to one way (docker.py), the image a run ran in passed from
`mlflow run`'s host process into the container (hostside.py, the `repro-docker` project backend in
backend.py), and the image recipe built from uv.lock (build.py). Neither capture nor replay
imports the other through here: each module is small and imports only what it names."""
