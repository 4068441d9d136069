"""The tracking store, opened and spoken to the one way every command does: a store that cannot
be opened or does not answer (a database driver missing, a server or database unreachable) is a
clear error naming the store without its credentials, never a traceback, and never taken for
"no such run"."""

from __future__ import annotations

import re
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


# A run id as MLflow makes it (uuid4 hex), and how much of one a prefix must give
FULL_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
HEX = re.compile(r"^[0-9a-f]+$")
MIN_PREFIX = 8
CANDIDATES_SHOWN = 10  # an ambiguous prefix names at most this many runs


def resolve_run_id(client: Any, given: str) -> str:
    """The full id of the run `given` names: a full id as it is (no search), or a unique prefix
    of at least MIN_PREFIX hex characters as the UI shows ids (`86fa1b61`, `86fa1b61…`).

    Raises UsageError for a prefix shorter than MIN_PREFIX, one no run id begins with, and one
    several begin with (naming them: id, experiment, run name). Anything that is not hex (an id
    of another form) is returned as it is, for the store to say whether it has such a run."""
    text = given.strip()
    cut = text.removesuffix("…").removesuffix("...")
    if FULL_RUN_ID.match(text) or not HEX.match(cut.lower()) or len(cut) >= 32:
        return text
    prefix = cut.lower()
    if len(prefix) < MIN_PREFIX:
        raise UsageError(
            f"a run id prefix needs at least {MIN_PREFIX} characters; this one has {len(prefix)}",
            value=given,
            hint=f"give the first {MIN_PREFIX} or more characters of the run id (as the MLflow "
            "UI shows it), or the full id",
        )
    try:
        names, found = _runs_with_prefix(client, prefix)
    except Exception as exc:
        if not is_store_failure(exc):
            raise
        raise store_error(exc, client) from None
    if len(found) == 1:
        return str(found[0].info.run_id)
    if not found:
        raise UsageError(
            f"no run in the tracking store {shown_uri(client)!r} has an id beginning with "
            f"{prefix!r}",
            value=given,
            hint="check the id (mlflow ui) or set MLFLOW_TRACKING_URI",
        )
    listed = "; ".join(
        f"{run.info.run_id} (experiment {names.get(run.info.experiment_id, '?')!r}, "
        f"run {run.info.run_name or '-'!r})"
        for run in found[:CANDIDATES_SHOWN]
    )
    many = f"at least {len(found)}" if len(found) > CANDIDATES_SHOWN else str(len(found))
    raise UsageError(
        f"the run id prefix {prefix!r} is ambiguous: {many} runs begin with it: {listed}",
        value=given,
        hint="give more characters of the id, or the full id",
    )


def _runs_with_prefix(client: Any, prefix: str) -> tuple[dict[str, str], list[Any]]:
    """Experiment id -> name, and the runs (deleted ones too, in every experiment) whose id
    begins with `prefix` (hex only: nothing in it means anything to LIKE), at most one more than
    CANDIDATES_SHOWN: MLflow's search takes `attributes.run_id LIKE` (SQL LIKE on the run id
    column for a database, a pattern match for a file store, the server's store over http), but
    only within named experiments."""
    from mlflow.entities import ViewType

    names: dict[str, str] = {}
    token = None
    while True:
        page = client.search_experiments(view_type=ViewType.ALL, page_token=token)
        names.update({str(e.experiment_id): str(e.name) for e in page})
        token = getattr(page, "token", None)
        if not token:
            break
    ids = list(names)
    found: list[Any] = []
    for start in range(0, len(ids), 100):  # one request per 100 experiments
        found += client.search_runs(
            ids[start : start + 100],
            filter_string=f"attributes.run_id LIKE '{prefix}%'",
            run_view_type=ViewType.ALL,
            max_results=CANDIDATES_SHOWN + 1 - len(found),
        )
        if len(found) > CANDIDATES_SHOWN:
            break
    return names, found


def get_run(client: Any, run_id: str) -> Any:
    """The run `run_id` (a full id, or a unique prefix: `resolve_run_id`); UsageError when the
    store has no such run, or did not answer (said apart: an unreachable store is not "no
    run")."""
    run_id = resolve_run_id(client, run_id)
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
