"""A tracking store that cannot be opened is a clear error naming it without its credentials."""

from __future__ import annotations

import pytest

from mlflow_repro.errors import UsageError
from mlflow_repro.store import tracking_client


def test_a_store_whose_driver_is_missing_is_named_without_its_password() -> None:
    with pytest.raises(UsageError) as caught:
        tracking_client("mysql://ml:PLANTED-PASSWORD@127.0.0.1:9/mlflow")
    message = str(caught.value)
    assert "the tracking store could not be opened" in message
    assert "No module named 'MySQLdb'" in message
    assert "'mysql://127.0.0.1:9/mlflow'" in message
    assert "PLANTED-PASSWORD" not in message


def test_a_store_that_opens_gives_the_client(tmp_path: object) -> None:
    client = tracking_client(f"sqlite:///{tmp_path}/mlflow.db")
    assert client.search_experiments()[0].name == "Default"


@pytest.mark.parametrize(
    "uri",
    [
        "http://alice:Pl4nted-pw@host:5000",
        "http://alice:Pl4nted%2Fpw@host:5000",
        "http://alice:Pl4nted#pw@host:5000",  # a raw '#': a URL parser takes the rest as fragment
        "http://alice:Pl4nted?pw@host:5000",
        "http://alice:Pl4nted/pw@host:5000",
        "postgresql://alice:Pl4nted-pw@db:5432/mlflow",
    ],
)
def test_a_tracking_uri_is_shown_and_quoted_without_any_piece_of_its_password(uri: str) -> None:
    from mlflow_repro.store import scrub, shown_uri

    assert "Pl4nted" not in shown_uri(uri)
    said = f"API request to {uri}/api/2.0/mlflow/runs/get failed; Invalid url: {uri}/x"
    assert "Pl4nted" not in scrub(said, uri) and "api/2.0/mlflow/runs/get" in scrub(said, uri)


def test_a_store_that_answers_not_found_is_told_apart_from_one_that_does_not_answer() -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST

    from mlflow_repro.store import is_not_found, is_store_failure

    missing = MlflowException("Run 'x' not found", error_code=RESOURCE_DOES_NOT_EXIST)
    refused = MlflowException("API request to http://h/api failed with exception ...")
    assert is_not_found(missing) and is_store_failure(missing)
    assert not is_not_found(refused) and is_store_failure(refused)
    assert not is_store_failure(ValueError("ours"))
