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
