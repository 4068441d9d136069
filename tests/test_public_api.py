"""The public API is exactly `mlflow_repro.__all__` (in the manner of httpx's test): a name added
or removed is a decision, made here too. The plugin's requirements stay light."""

from __future__ import annotations

import inspect
import sys
import tomllib

import pytest

import mlflow_repro
from tests.conftest import REPO_ROOT

PUBLIC = {
    "AuditItem",
    "AuditReport",
    "DataStepError",
    "Difference",
    "Manifest",
    "ManifestError",
    "ParityItem",
    "ParityReport",
    "ReplayError",
    "ReplayResult",
    "ReproError",
    "RunDiff",
    "UsageError",
    "Verdict",
    "__version__",
    "audit",
    "diff_runs",
    "load_manifest",
    "model_digest",
    "numpy_generator",
    "parity",
    "reproduce",
    "seed_everything",
    "torch_generator",
}


def test_all_lists_exactly_the_public_api() -> None:
    assert set(mlflow_repro.__all__) == PUBLIC
    assert sorted(mlflow_repro.__all__) == mlflow_repro.__all__


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_name_resolves_and_is_documented(name: str) -> None:
    value = getattr(mlflow_repro, name)
    if name != "__version__":
        assert inspect.getdoc(value), f"{name} has no docstring"
        assert value.__module__.startswith("mlflow_repro")


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        mlflow_repro.no_such_thing  # noqa: B018


def test_the_version_has_one_home_pyproject() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert mlflow_repro.__version__ == project["version"]
    assert "version" not in project.get("dynamic", [])


def test_every_error_is_a_repro_error_and_the_tree_is_drawn_in_one_docstring() -> None:
    errors = [getattr(mlflow_repro, n) for n in PUBLIC if n.endswith("Error")]
    tree = inspect.getdoc(sys.modules["mlflow_repro.errors"]) or ""
    for error in errors:
        assert issubclass(error, mlflow_repro.ReproError)
        assert error.__name__ in tree, f"{error.__name__} is missing from the drawn tree"
    assert issubclass(mlflow_repro.ManifestError, ValueError)
    assert issubclass(mlflow_repro.UsageError, ValueError)


def test_an_error_builds_its_message_from_its_fields() -> None:
    error = mlflow_repro.ReplayError(
        "the lock does not match", run_id="abc", step="environment", value="0" * 8, hint="re-lock"
    )
    assert str(error) == (
        "run abc environment: the lock does not match (value: '00000000'); re-lock"
    )
    assert (error.run_id, error.step, error.value, error.hint) == (
        "abc",
        "environment",
        "0" * 8,
        "re-lock",
    )
    assert str(mlflow_repro.ReproError("plain")) == "plain"


def test_the_plugin_requires_only_mlflow_and_uv() -> None:
    """Nothing of the template (scikit-learn, pandas, pydantic, DVC) in the wheel's metadata."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    names = {r.split(">")[0].split("=")[0].split("[")[0].strip() for r in project["dependencies"]}
    assert names == {"mlflow", "uv"}
    extras = project["optional-dependencies"]
    assert set(extras) == {"dvc", "sign"}  # replay's DVC; OpenSSF model signing (modelsign.py)
    assert {r.split(">")[0].split("=")[0] for r in extras["sign"]} == {"model-signing", "pyopenssl"}
