"""Requirement files as parity and diff read them."""

from __future__ import annotations

from mlflow_repro.inspect.packages import parse_requirements

LOCK = """\
numpy==2.3.1 \\
    --hash=sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \\
    --hash=sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
pywin32==312 ; sys_platform == 'win32' \\
    --hash=sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc
Scikit_Learn==1.7.0 ; python_full_version >= '3.11'
-e ./local
# a comment
pandas>=2.0
"""


def test_pins_versions_and_hashes_with_names_normalised() -> None:
    pins = parse_requirements(LOCK, {"sys_platform": "linux", "python_full_version": "3.11.7"})
    assert set(pins) == {"numpy", "scikit-learn"}
    assert pins["numpy"].version == "2.3.1"
    assert pins["numpy"].hashes == {"a" * 64, "b" * 64}
    assert pins["scikit-learn"].hashes == frozenset()


def test_lines_for_another_platform_are_left_out() -> None:
    pins = parse_requirements(LOCK, {"sys_platform": "win32", "python_full_version": "3.11.7"})
    assert pins["pywin32"].version == "312"
    assert "scikit-learn" in pins
    older = parse_requirements(LOCK, {"sys_platform": "linux", "python_full_version": "3.10.0"})
    assert "scikit-learn" not in older


# The same packages as LOCK, as PEP 751 writes them (uv export --format pylock.toml)
PYLOCK = f"""\
lock-version = "1.0"
created-by = "uv"
requires-python = ">=3.11"

[[packages]]
name = "numpy"
version = "2.3.1"
index = "https://pypi.org/simple"
sdist = {{ url = "https://files.example/numpy-2.3.1.tar.gz", hashes = {{ sha256 = "{"a" * 64}" }} }}
wheels = [
    {{ url = "https://files.example/numpy-cp311.whl", hashes = {{ sha256 = "{"B" * 64}" }} }},
]

[[packages]]
name = "pywin32"
version = "312"
marker = "sys_platform == 'win32'"
wheels = [{{ url = "https://files.example/pywin32-312.whl", hashes = {{ sha256 = "{"c" * 64}" }} }}]

[[packages]]
name = "Scikit_Learn"
version = "1.7.0"
marker = "python_full_version >= '3.11'"

[[packages]]
name = "local"
directory = {{ path = "./local", editable = true }}
"""
LINUX = {"sys_platform": "linux", "python_full_version": "3.11.7"}


def test_a_pylock_reads_as_the_same_requirements_hashes_from_every_file() -> None:
    from mlflow_repro.inspect.packages import parse_pylock

    for environment in (LINUX, {"sys_platform": "win32", "python_full_version": "3.11.7"}):
        assert parse_pylock(PYLOCK, environment) == parse_requirements(LOCK, environment)
    older = parse_pylock(PYLOCK, {"sys_platform": "linux", "python_full_version": "3.10.0"})
    assert set(older) == {"numpy"}  # no version (a directory): not pinned, as `-e ./local`


def test_a_pylock_is_known_by_its_name_or_its_lock_version() -> None:
    from mlflow_repro.inspect.packages import is_pylock

    assert is_pylock("pylock.toml", "") and is_pylock("pylock.serving.toml", "")
    assert is_pylock("serving.lock", PYLOCK)
    assert not is_pylock("requirements.txt", LOCK)
    assert not is_pylock("requirements.txt", "# lock-version = 1\nnumpy==2.3.1\n")
    assert not is_pylock("pylock.a.b.toml", "numpy==2.3.1\n")


def test_what_is_not_a_pylock_this_reads_is_named() -> None:
    import re

    import pytest

    from mlflow_repro.inspect.packages import NotAPylock, parse_pylock

    for text, said in (
        ("numpy==2.3.1\n", "not valid TOML"),
        ('lock-version = "2.0"\n', "lock-version 2.0: this reads lock-version 1.x"),
        ('created-by = "x"\n', "lock-version absent"),
        ('lock-version = "1.0"\n[[packages]]\nversion = "1"\n', "packages[0] has no name"),
    ):
        with pytest.raises(NotAPylock, match=re.escape(said)):
            parse_pylock(text)
