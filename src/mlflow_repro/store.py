"""The tracking store, opened and spoken to the one way every command does: a store that cannot
be opened or does not answer (a database driver missing, a server or database unreachable) is a
clear error naming the store without its credentials, never a traceback, and never taken for
"no such run"."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from mlflow_repro.errors import UsageError
from mlflow_repro.secrets import WITHHELD, redact_urls, strip_url_credentials

# MLflow's error codes that mean the store answered: the thing asked for is not there.
NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"})


def tracking_uri_of(client: Any = None) -> str:
    """The tracking URI `client` speaks to, or `client` itself when it is one (default:
    MLflow's current one), as configured."""
    if isinstance(client, str):
        return client
    uri = getattr(client, "tracking_uri", None)
    if uri:
        return str(uri)
    from mlflow.tracking import get_tracking_uri

    return str(get_tracking_uri())


def shown_uri(client_or_uri: Any = None) -> str:
    """The tracking URI as it may be printed: without credentials."""
    uri = tracking_uri_of(client_or_uri)
    return scrub(strip_url_credentials(uri), uri)


def _credentials_in(uri: str) -> list[str]:
    """The user-info of `uri` and its pieces as a library may quote them: raw, percent-decoded,
    and cut where a raw `#`, `?` or `/` in a password would end a parser's idea of it."""
    rest = uri.split("://", 1)[1] if "://" in uri else ""
    if "@" not in rest:
        return []
    userinfo = rest.rsplit("@", 1)[0]
    pieces = {userinfo, unquote(userinfo)}
    if ":" in userinfo:
        password = userinfo.split(":", 1)[1]
        pieces |= {password, unquote(password)}
        for mark in "#?/":
            pieces |= {p.split(mark, 1)[0] for p in list(pieces)}
    return sorted((p for p in pieces if len(p) >= 3), key=len, reverse=True)


def scrub(text: str, uri: str | None = None) -> str:
    """`text` (an exception's message) safe to print: the credentials of `uri` removed wherever
    they stand, then every URL stripped of user-info, query and fragment."""
    text = redact_urls(text)
    for piece in _credentials_in(uri or ""):
        text = text.replace(piece, WITHHELD)
    return text


# What a failed connection says, deep in urllib3's message, in a person's words
_CAUSES = (
    ("Connection refused", "connection refused: nothing listens there"),
    ("Failed to resolve", "the host name does not resolve"),
    ("Name or service not known", "the host name does not resolve"),
    ("timed out", "the connection timed out"),
    (
        "Invalid url",
        "the URL is not valid (a password holding # ? / or @ must be "
        "percent-encoded, or given as MLFLOW_TRACKING_PASSWORD)",
    ),
    ("CERTIFICATE_VERIFY_FAILED", "the server's TLS certificate is not trusted here"),
)


def store_error(exc: BaseException, client_or_uri: Any = None) -> UsageError:
    """A store that did not answer (or answered with an error), as the one clear error."""
    uri = tracking_uri_of(client_or_uri)
    first = next((line for line in str(exc).splitlines() if line.strip()), "")
    known = next((said for mark, said in _CAUSES if mark in first), None)
    reason = known or scrub(f"{type(exc).__name__}: {first}", uri)[:400]
    return UsageError(
        f"the tracking store did not answer ({reason})",
        value=shown_uri(uri),
        hint="check that the server or database is up and reachable, MLFLOW_TRACKING_URI and "
        "its credentials (MLFLOW_TRACKING_USERNAME/PASSWORD); MLFLOW_HTTP_REQUEST_MAX_RETRIES "
        "sets how often an http store is retried",
    )


def is_not_found(exc: BaseException) -> bool:
    """The store answered, and what was asked for is not there."""
    return str(getattr(exc, "error_code", "")) in NOT_FOUND_CODES


def is_store_failure(exc: BaseException) -> bool:
    """An exception raised by MLflow's client or the libraries under it (HTTP, SQL)."""
    module = type(exc).__module__.split(".", 1)[0]
    return module in {"mlflow", "requests", "urllib3", "sqlalchemy", "psycopg", "psycopg2"}


def tracking_client(tracking_uri: str | None = None) -> Any:
    """An MlflowClient on `tracking_uri` (default: MLFLOW_TRACKING_URI, else MLflow's default).

    MLflow opens the store as the client is made; for a database it retries for about 100 s
    before giving up. A failure raises UsageError (the store's URI, credentials stripped)."""
    from mlflow.tracking import MlflowClient

    try:
        return MlflowClient(tracking_uri=tracking_uri)
    except Exception as exc:
        from mlflow.tracking import get_tracking_uri

        uri = tracking_uri or get_tracking_uri()
        first = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise UsageError(
            f"the tracking store could not be opened ({scrub(first, uri)[:500]})",
            value=shown_uri(uri),
            hint="check MLFLOW_TRACKING_URI, that the server or database is up, and that its "
            "driver is installed (postgresql://: psycopg; mysql://: mysqlclient)",
        ) from exc


def get_run(client: Any, run_id: str) -> Any:
    """The run `run_id`; UsageError when the store has no such run, or did not answer (said
    apart: an unreachable store is not "no run")."""
    try:
        return client.get_run(run_id)
    except Exception as exc:
        if not is_store_failure(exc):
            raise
        if not is_not_found(exc):
            raise store_error(exc, client) from None
        raise UsageError(
            f"no run with this id in the tracking store {shown_uri(client)!r} "
            f"({getattr(exc, 'error_code', '')})",
            run_id=run_id,
            value=run_id,
            hint="check the id (mlflow ui) or set MLFLOW_TRACKING_URI",
        ) from None
