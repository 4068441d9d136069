"""The command line's bad input: a clear message naming the value, exit status 2, nothing
written and no tracking store touched (the README's exit-status table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_repro.cli import main


def test_an_html_path_that_cannot_be_written_is_refused_before_any_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An unreachable store: had the command looked, the message would say so instead.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    assert main(["diff", "a" * 32, "b" * 32, "--html", "/nonexistent/x.html"]) == 2
    err = capsys.readouterr().err
    assert "--html /nonexistent/x.html cannot be written: its folder /nonexistent does not " in err
    assert "Traceback" not in err
    assert main(["diff", "a" * 32, "b" * 32, "--html", str(tmp_path)]) == 2
    assert "it is a folder" in capsys.readouterr().err


def test_a_key_that_cannot_be_written_is_a_clear_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["keygen", "/proc/nope.key"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("mlflow-repro: error: the key cannot be written") and "/proc/nope.key" in err
    )


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "x"])
def test_a_tolerance_must_be_a_finite_number_of_zero_or_more(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for option in ("--rel-tol", "--abs-tol"):
        with pytest.raises(SystemExit) as exited:
            main(["reproduce", "a" * 32, f"{option}={value}"])
        assert exited.value.code == 2
        assert f"{value!r} is not a tolerance" in capsys.readouterr().err
