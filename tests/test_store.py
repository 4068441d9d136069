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
