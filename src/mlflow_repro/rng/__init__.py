"""Random number generators: the seed ledger (`ledger.py`) and one adapter per generator module
(`generators.py`). Neither imports more than `os` and `sys` at load: the plugin loads them at
`import mlflow`."""
