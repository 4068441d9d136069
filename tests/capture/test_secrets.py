"""Credentials are stripped from URLs and command lines."""

from __future__ import annotations

import pytest

from mlflow_repro.secrets import (
    has_secret_content,
    is_secret_name,
    redact_argv,
    strip_url_credentials,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:tok@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://ghp_x@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://github.com/o/r.git", "https://github.com/o/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("ssh://git@host/o/r.git", "ssh://git@host/o/r.git"),
        ("ssh://git:pw@host/o/r.git", "ssh://host/o/r.git"),
        ("/srv/git/r.git", "/srv/git/r.git"),
        ("https://h/p.whl?X-Amz-Security-Token=abc&sig=1#frag", "https://h/p.whl"),
        ("https://[::1@h/x", "<withheld>"),
    ],
)
def test_strip_url_credentials(url: str, expected: str) -> None:
    assert strip_url_credentials(url) == expected


def test_redact_argv() -> None:
    argv = [
        "train.py",
        "--lr",
        "0.1",
        "--api-key",
        "abc123",
        "--token=xyz",
        "--data",
        "https://u:p@h/x",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    ]
    assert redact_argv(argv) == [
        "train.py",
        "--lr",
        "0.1",
        "--api-key",
        "<withheld>",
        "--token=<withheld>",
        "--data",
        "https://h/x",
        "<withheld>",
    ]


@pytest.mark.parametrize(
    "name",
    [
        ".env",
        "a/.env.prod",
        "id_ed25519",
        "k.pem",
        "token.txt",
        ".netrc",
        "credentials",
        "client_secret.json",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["secrets.py", "tokenizer.py", "train.py", "data.csv", "README.md"]
)
def test_source_files_are_not_secret_names(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    "text",
    [
        b"aws = AKIAABCDEFGHIJKLMNOP",
        b'password: "correct-horse-battery"',
        b"password: hunter2",
        b"db_url: postgres://admin:S3cretPw@db/prod",
        b"# notes\nmachine h login u password hunter22\n",
        b"Authorization: Bearer abcdefghijklmnop",
    ],
)
def test_secret_content(text: bytes) -> None:
    assert has_secret_content(text)


@pytest.mark.parametrize(
    "text", [b"learning_rate = 0.1\n", b"url = https://github.com/x/y", b"import password_utils"]
)
def test_ordinary_content(text: bytes) -> None:
    assert not has_secret_content(text)
