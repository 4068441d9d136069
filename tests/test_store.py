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


# Run ids as the UI shows them: a unique prefix of 8 characters or more names the run.

A_ID = "86fa1b61" + "0" * 23 + "1"
B_ID = "86fa1b62" + "0" * 23 + "2"  # shares 7 characters with A
C_ID = "abcdef00" + "1" * 24
D_ID = "abcdef00" + "2" * 24  # shares 8 characters with C: the prefix abcdef00 is ambiguous


@pytest.fixture
def prefixed(tracking_uri: str, monkeypatch: pytest.MonkeyPatch) -> object:
    """A sqlite store holding runs A, B (Default), C (experiment `prod`, run `train`) and D
    (experiment `dev`, run `tune`, deleted), made with the ids above."""
    import types
    import uuid

    import mlflow.store.tracking.sqlalchemy_store as sql_store
    from mlflow.tracking import MlflowClient

    from tests.conftest import NO_CAPTURE

    ids = iter([A_ID, B_ID, C_ID, D_ID])
    fake = types.SimpleNamespace(**vars(uuid))
    fake.uuid4 = lambda: uuid.UUID(hex=next(ids))
    client = MlflowClient(tracking_uri=tracking_uri)
    prod, dev = client.create_experiment("prod"), client.create_experiment("dev")
    with monkeypatch.context() as patched:
        patched.setattr(sql_store, "uuid", fake)
        made = [
            client.create_run("0", tags=NO_CAPTURE).info.run_id,
            client.create_run("0", tags=NO_CAPTURE).info.run_id,
            client.create_run(prod, tags=NO_CAPTURE, run_name="train").info.run_id,
            client.create_run(dev, tags=NO_CAPTURE, run_name="tune").info.run_id,
        ]
    assert made == [A_ID, B_ID, C_ID, D_ID]
    client.delete_run(D_ID)
    return client


def test_a_unique_prefix_of_eight_or_more_names_the_run(prefixed: object) -> None:
    from mlflow_repro.store import get_run, resolve_run_id

    for given in ("86fa1b61", "86fa1b61…", "86FA1B61", " 86fa1b610000 ", "abcdef002"):
        assert resolve_run_id(prefixed, given) == (D_ID if given == "abcdef002" else A_ID)
    assert get_run(prefixed, "86fa1b62").info.run_id == B_ID


def test_a_full_id_is_read_as_it_is_without_a_search(
    prefixed: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow_repro.store import get_run, resolve_run_id

    def no_search(*args: object, **kwargs: object) -> None:
        raise AssertionError("a full id needs no search")

    monkeypatch.setattr(prefixed, "search_runs", no_search)
    monkeypatch.setattr(prefixed, "search_experiments", no_search)
    assert resolve_run_id(prefixed, A_ID) == A_ID
    assert get_run(prefixed, A_ID).info.run_id == A_ID
    with pytest.raises(UsageError, match="no run with this id"):
        get_run(prefixed, "f" * 32)


def test_an_ambiguous_prefix_is_refused_naming_the_candidates(prefixed: object) -> None:
    from mlflow_repro.store import resolve_run_id

    with pytest.raises(UsageError) as caught:
        resolve_run_id(prefixed, "abcdef00")
    message = str(caught.value)
    assert "the run id prefix 'abcdef00' is ambiguous: 2 runs begin with it" in message
    assert f"{C_ID} (experiment 'prod', run 'train')" in message
    assert f"{D_ID} (experiment 'dev', run 'tune')" in message  # deleted runs too
    assert "give more characters of the id" in message


def test_a_prefix_shorter_than_eight_is_refused_saying_the_minimum(prefixed: object) -> None:
    from mlflow_repro.store import resolve_run_id

    with pytest.raises(UsageError, match="needs at least 8 characters; this one has 7"):
        resolve_run_id(prefixed, "86fa1b6")


def test_a_prefix_no_run_id_begins_with_is_unknown(prefixed: object) -> None:
    from mlflow_repro.store import resolve_run_id

    with pytest.raises(UsageError, match="has an id beginning with 'deadbeef'"):
        resolve_run_id(prefixed, "deadbeef")
    with pytest.raises(UsageError, match="no run with this id"):  # not hex: the store says
        from mlflow_repro.store import get_run

        get_run(prefixed, "not-a-run")


def test_the_commands_take_prefixes_and_exit_2_on_an_ambiguous_one(
    prefixed: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow_repro.cli import main
    from mlflow_repro.inspect.diff import diff_runs
    from mlflow_repro.replay.batch import select_runs

    assert main(["audit", "86fa1b61"]) == 1  # no manifest: not rebuildable, but found
    assert f"audit of run {A_ID}" in capsys.readouterr().out
    result = diff_runs("86fa1b61", "86fa1b62")
    assert (result.run_a, result.run_b) == (A_ID, B_ID)
    assert select_runs(prefixed, ["86fa1b61", A_ID, "abcdef002"], [], None) == [A_ID, D_ID]
    for argv in (
        ["audit", "abcdef00"],
        ["diff", "86fa1b61", "abcdef00"],
        ["parity", "abcdef00", "--python", "python"],
        ["reproduce", "abcdef00"],
        ["reproduce", "86fa1b61", "abcdef00"],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "mlflow-repro: error: the run id prefix 'abcdef00' is ambiguous" in err, argv
        assert C_ID in err and D_ID in err
