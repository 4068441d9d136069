"""Configs under tests/confs/valid and confs/ load; those under invalid fail precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro_template.errors import ConfigError
from repro_template.jobs.configs import RandomForestModel, TrainingJob, load_config

HERE = Path(__file__).resolve().parents[2]
VALID = sorted((HERE / "confs" / "valid").glob("*.yaml"))
INVALID = sorted((HERE / "confs" / "invalid").glob("*.yaml"))
SHIPPED = sorted((HERE.parent / "confs").glob("*.yaml"))


def expected_fragment(path: Path) -> str:
    """Each invalid config states, on its first line, what the error must mention."""
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path} must start with '# expect: <fragment>'"
    return first.removeprefix("# expect: ")


def test_there_are_configs_on_both_sides() -> None:
    assert len(VALID) >= 3 and len(INVALID) >= 6 and SHIPPED


@pytest.mark.parametrize("path", VALID + SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_valid_config_loads(path: Path) -> None:
    config = load_config(path)
    assert isinstance(config.job, TrainingJob)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_config_names_file_and_field(path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert expected_fragment(path) in message


def test_unknown_key_is_called_unknown() -> None:
    with pytest.raises(ConfigError, match=r"n_estimator: unknown key"):
        load_config(HERE / "confs" / "invalid" / "unknown-model-key.yaml")


def test_wrong_type_shows_the_value() -> None:
    with pytest.raises(ConfigError, match=r"got '100'"):
        load_config(HERE / "confs" / "invalid" / "wrong-type.yaml")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="file not found") as info:
        load_config(missing)
    assert info.value.path == str(missing)


def test_default_training_config_is_the_one_mlproject_names() -> None:
    config = load_config(HERE.parent / "confs" / "training.yaml")
    assert isinstance(config.job.model, RandomForestModel)
    assert config.job.registered_model_name, "the default job must register its model"
    mlproject = (HERE.parent / "MLproject").read_text()
    assert "default: confs/training.yaml" in mlproject


def test_configs_are_frozen() -> None:
    job = TrainingJob()
    with pytest.raises(Exception, match="frozen"):
        job.run_name = "changed"  # type: ignore[misc]


def test_error_locations_read_as_the_user_wrote_them() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(HERE / "confs" / "invalid" / "wrong-type.yaml")
    assert "TrainingJob" not in str(info.value).split(":", 1)[1]
    assert "job.model.n_estimators" in str(info.value)
