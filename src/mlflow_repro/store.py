"""The tracking store, opened the one way every command opens it: a store that cannot be opened
(a database driver missing, a server or database unreachable) is a clear error naming the
store without its credentials, never a traceback."""

from __future__ import annotations

from typing import Any

from mlflow_repro.errors import UsageError
from mlflow_repro.secrets import redact_urls, strip_url_credentials


def tracking_client(tracking_uri: str | None = None) -> Any:
    """An MlflowClient on `tracking_uri` (default: MLFLOW_TRACKING_URI, else MLflow's default).

    MLflow opens the store as the client is made; for a database it retries for about 100 s
    before giving up. A failure raises UsageError (the store's URI, credentials stripped)."""
    from mlflow.tracking import MlflowClient

    try:
        return MlflowClient(tracking_uri=tracking_uri)
    except Exception as exc:
        from mlflow.tracking import get_tracking_uri

        uri = strip_url_credentials(tracking_uri or get_tracking_uri())
        reason = redact_urls(f"{type(exc).__name__}: {exc}".splitlines()[0])[:500]
        raise UsageError(
            f"the tracking store could not be opened ({reason})",
            value=uri,
            hint="check MLFLOW_TRACKING_URI, that the server or database is up, and that its "
            "driver is installed (postgresql://: psycopg; mysql://: mysqlclient)",
        ) from exc
