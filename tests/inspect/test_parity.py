"""Parity against a serving requirements file, read with what the logged model needs (the e2e
tests run it on real template runs)."""

from __future__ import annotations

from pathlib import Path

from mlflow_repro.inspect.packages import Pin, parse_requirements
from mlflow_repro.inspect.parity import ModelNeeds, against_model, read_model_needs
from mlflow_repro.inspect.records import ParityItem, ParityReport
from mlflow_repro.inspect.render import parity_text

MLMODEL = """\
artifact_path: /somewhere/artifacts
flavors:
  python_function:
    env: {conda: conda.yaml, virtualenv: python_env.yaml}
    loader_module: mlflow.sklearn
    python_version: 3.11.7
  sklearn:
    pickled_model: model.skops
    serialization_format: skops
    sklearn_version: 1.9.1
mlflow_version: 3.17.2
model_id: m-1
"""
PYTHON_ENV = "python: 3.11.7\nbuild_dependencies:\n- pip\ndependencies:\n- -r requirements.txt\n"
REQUIREMENTS = """\
--extra-index-url https://example.invalid/simple
mlflow==3.17.2
numpy==2.4.6; python_full_version < "3.12"
numpy==2.5.5; python_full_version >= "3.12"
scikit-learn==1.9.1
Scipy==1.17.1
skops
"""
# What training had: the model's packages and the tools around it
LOCK = {
    "mlflow": Pin("3.17.2", frozenset()),
    "numpy": Pin("2.4.6", frozenset()),
    "scikit-learn": Pin("1.9.1", frozenset({"a" * 64})),
    "scipy": Pin("1.17.1", frozenset()),
    "skops": Pin("0.16.0", frozenset()),
    "celery": Pin("5.7.0", frozenset()),
    "dvc": Pin("3.67.1", frozenset()),
    "pytest": Pin("9.0.0", frozenset()),
}


def needs(tmp_path: Path) -> ModelNeeds:
    (tmp_path / "MLmodel").write_text(MLMODEL)
    (tmp_path / "python_env.yaml").write_text(PYTHON_ENV)
    (tmp_path / "requirements.txt").write_text(REQUIREMENTS)
    found = read_model_needs(tmp_path, "model 'model' (m-1)")
    assert found is not None
    return found


def test_a_models_needs_are_its_requirements_its_flavors_library_and_python(
    tmp_path: Path,
) -> None:
    found = needs(tmp_path)
    assert found.core == {"mlflow": "3.17.2", "scikit-learn": "1.9.1"}
    assert found.names == {"mlflow", "numpy", "scikit-learn", "scipy", "skops"}
    assert found.pins["scipy"].version == "1.17.1"
    assert found.python == "3.11.7"
    assert read_model_needs(tmp_path / "nothing-here", "none") is None


def report(tmp_path: Path, serving_text: str) -> ParityReport:
    items = [
        ParityItem("python", "unchecked", "3.11.7", None, "a requirements file names no Python")
    ]
    items += against_model(LOCK, needs(tmp_path), parse_requirements(serving_text), set())
    return ParityReport("r1", "r1", "requirements serving.txt", items, model="model 'model'")


def test_a_two_line_serving_file_that_pins_the_models_libraries_matches(tmp_path: Path) -> None:
    result = report(tmp_path, "mlflow==3.17.2\nscikit-learn==1.9.1\n")
    assert result.verdict == "match", result.mismatches
    status = {i.name: i.status for i in result.items}
    assert status["mlflow"] == status["scikit-learn"] == "match"
    assert {n for n, s in status.items() if s == "unpinned"} == {"numpy", "scipy", "skops"}
    assert {n for n, s in status.items() if s == "training-only"} == {"celery", "dvc", "pytest"}
    text = parity_text(result)
    assert "missing" not in text
    lines = text.splitlines()
    assert [line.split()[0] for line in lines[2:-1]] == ["unchecked", "unpinned", "training-only"]
    assert (
        "  training-only   3 packages only training had (in the run's lock, not in the model's "
        "requirements; not compared): celery, dvc, pytest (--all lists them)"
    ) in text
    assert "3 packages the model needs that the serving file does not pin" in text
    assert "the model's needs: model 'model'" in text
    assert text.splitlines()[-1] == (
        "verdict: match (2 match, 3 training-only, 1 unchecked, 3 unpinned)"
    )
    every = parity_text(result, show_matches=True)
    assert "  training-only   celery: training 5.7.0, serving -" in every


def test_another_scikit_learn_is_named_and_the_models_library_must_be_pinned(
    tmp_path: Path,
) -> None:
    result = report(tmp_path, "mlflow==3.17.2\nscikit-learn==1.0.0\n")
    assert [(i.name, i.status, i.training, i.serving) for i in result.mismatches] == [
        ("scikit-learn", "version-differs", "1.9.1", "1.0.0")
    ]
    assert "scikit-learn: training 1.9.1, serving 1.0.0" in parity_text(result)
    unpinned = report(tmp_path, "mlflow==3.17.2\nnumpy==2.4.6\n")
    assert [(i.name, i.status) for i in unpinned.mismatches] == [("scikit-learn", "missing")]
    # A package both sides pin is compared whether the model needs it or not.
    tool = report(tmp_path, "mlflow==3.17.2\nscikit-learn==1.9.1\ndvc==3.0.0\n")
    assert [(i.name, i.status) for i in tool.mismatches] == [("dvc", "version-differs")]


def test_against_a_lock_every_file_it_names_must_be_one_training_locked() -> None:
    """A pylock.toml names every file the installer may take: a sha256 the run's lock does not
    have for that version is named, even beside ones it has (a requirements file's hashes need
    only one in common)."""
    from mlflow_repro.inspect.parity import _compare

    trained = Pin("1.9.1", frozenset({"a" * 64, "b" * 64}))
    assert _compare("scikit-learn", trained, Pin("1.9.1", frozenset({"a" * 64})), True, True) == (
        ParityItem("scikit-learn", "match", "1.9.1", "1.9.1", "version and hash")
    )
    other = Pin("1.9.1", frozenset({"a" * 64, "c" * 64}))
    locked = _compare("scikit-learn", trained, other, True, True)
    assert (locked.status, locked.detail) == (
        "hash-differs",
        "same version; the serving lock names 1 file(s) the run's lock does not: sha256 "
        "cccccccccccc...",
    )
    assert _compare("scikit-learn", trained, other, True).status == "match"  # requirements
    assert _compare("scikit-learn", trained, Pin("1.0.0", frozenset()), True, True).status == (
        "version-differs"
    )


def test_the_python_against_a_lock_is_its_requires_python_range() -> None:
    from mlflow_repro.inspect.parity import _python_against_lock

    assert _python_against_lock("3.11.7", ">=3.11").status == "unchecked"
    outside = _python_against_lock("3.11.7", ">=3.12")
    assert (outside.status, outside.serving) == ("version-differs", ">=3.12")
    assert _python_against_lock("3.11.7", None).detail == "the lock names no Python"
