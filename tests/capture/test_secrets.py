"""Credentials are stripped from URLs and command lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_repro.secrets import (
    has_secret_content,
    has_secret_in_file,
    is_secret_name,
    redact_argv,
    redact_path,
    redact_requirement_urls,
    redact_urls,
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
        # A password holding a raw `#`, `?` or `/` (urlsplit ends the netloc there), or encoded.
        ("http://u:pa#ss@host/x", "http://host/x"),
        ("http://u:pa?ss@host/x", "http://host/x"),
        ("http://u:pa/ss@host/x", "http://host/x"),
        ("http://u:p/a@s#s@host/x", "<withheld>"),
        ("http://user:pa%2Fss@host", "http://host"),
        ("redis://:hunter2x@cache:6379/0", "redis://cache:6379/0"),
        # Refs, ssh users, absolute sqlite paths and IPv6 hosts are left as they are.
        ("git+https://host/org/pkg@v1.0", "git+https://host/org/pkg@v1.0"),
        ("ssh://git@host", "ssh://git@host"),
        ("sqlite:////abs/path", "sqlite:////abs/path"),
        ("http://[::1]:8080/x@y", "http://[::1]:8080/x@y"),
        # A port or a password of digits before a `/`: cannot tell, withheld whole.
        ("https://host:8443/org/pkg@v1", "<withheld>"),
        ("http://u:1234/5@host/x", "<withheld>"),
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


def _fake(prefix: str, alphabet: str, length: int) -> str:
    """A format-valid, made-up token (never a real one): `prefix` + `length` characters."""
    return prefix + "".join(alphabet[(i * 7 + 3) % len(alphabet)] for i in range(length))


UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
HEX = "0123456789abcdef"
TOKENS = {
    "aws-access-key-id": _fake("AKIA", UPPER_DIGITS, 16),
    "aws-temporary-key-id": _fake("ASIA", UPPER_DIGITS, 16),
    "aws-secret-access-key": "aws_secret_access_key = " + _fake("", ALNUM, 40),
    "github-classic": _fake("ghp_", ALNUM, 36),
    "github-fine-grained": _fake("github_pat_", ALNUM, 60),
    "gitlab": _fake("glpat-", ALNUM, 20),
    "slack-bot": _fake("xoxb-", ALNUM, 40),
    "slack-webhook": "https://hooks.slack.com/services/T0123ABCD/B0123ABCD/" + _fake("", ALNUM, 24),
    "openai": _fake("sk-proj-", ALNUM, 48),
    "anthropic": _fake("sk-ant-api03-", ALNUM, 80),
    "hugging-face": _fake("hf_", ALNUM, 34),
    "google-api-key": _fake("AIza", ALNUM, 35),
    "google-oauth": _fake("ya29.", ALNUM, 60),
    "stripe-live": _fake("sk_live_", ALNUM, 24),
    "stripe-restricted": _fake("rk_live_", ALNUM, 24),
    "stripe-webhook": _fake("whsec_", ALNUM, 32),
    "npm": _fake("npm_", ALNUM, 36),
    "pypi": _fake("pypi-AgEIcHlwaS5vcmc", ALNUM, 60),
    "sendgrid": "SG." + _fake("", ALNUM, 22) + "." + _fake("", ALNUM, 43),
    "digitalocean": _fake("dop_v1_", HEX, 64),
    "databricks": _fake("dapi", HEX, 32),
    "shopify": _fake("shpat_", HEX, 32),
    "azure-storage": "DefaultEndpointsProtocol=https;AccountKey=" + _fake("", ALNUM, 86) + "==",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + _fake("", ALNUM, 43),
    "private-key-block": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n",
    "url-with-password": "postgresql://ml:" + _fake("", ALNUM, 16) + "@db.internal:5432/mlflow",
    "discord-webhook": "https://discord.com/api/webhooks/123456789/" + _fake("", ALNUM, 60),
}


@pytest.mark.parametrize("kind", sorted(TOKENS))
def test_known_token_formats_are_found_with_no_keyword_near_them(kind: str) -> None:
    # As a value in source code with nothing around it that says "secret".
    line = f'DEFAULTS = {{"endpoint": "{TOKENS[kind]}"}}\n'.encode()
    assert has_secret_content(line), kind


def test_there_are_at_least_25_kinds() -> None:
    assert len(TOKENS) >= 25


def test_this_repositorys_own_source_and_lock_are_not_withheld() -> None:
    """False positives: the screen over the plugin's and template's sources, the lock (full of
    sha256 hashes) and the docs withholds nothing."""
    from tests.conftest import REPO_ROOT

    files = [
        *sorted((REPO_ROOT / "src").rglob("*.py")),
        REPO_ROOT / "uv.lock",
        REPO_ROOT / "python_env.yaml",
        REPO_ROOT / "README.md",
        *sorted((REPO_ROOT / "docs").glob("*.md")),
    ]
    flagged = [
        f"{path.relative_to(REPO_ROOT)}:{number}"
        for path in files
        for number, line in enumerate(path.read_bytes().splitlines(), 1)
        if has_secret_content(line)
    ]
    assert flagged == [], flagged


def test_more_flag_spellings_are_withheld_in_both_value_forms() -> None:
    argv = ["train.py", "--hf-token", "a1", "--apiKey=b2", "--pass", "c3", "--db-pwd=d4"]
    argv += ["--session-cookie", "e5", "--num-passes", "3", "--lr", "0.1"]
    assert redact_argv(argv) == [
        "train.py",
        "--hf-token",
        "<withheld>",
        "--apiKey=<withheld>",
        "--pass",
        "<withheld>",
        "--db-pwd=<withheld>",
        "--session-cookie",
        "<withheld>",
        "--num-passes",
        "3",
        "--lr",
        "0.1",
    ]


def test_a_raw_hash_in_a_password_leaves_no_part_of_it_in_a_message() -> None:
    message = redact_urls("could not reach http://ml:pa#ss1@db.example.invalid/x: refused")
    assert message == "could not reach http://db.example.invalid/x: refused"


def test_short_password_flags_are_withheld_in_both_value_forms() -> None:
    argv = ["train.py", "-p", "a1", "--pw", "b2", "--pw=c3", "--db-pw", "d4", "-p=e5"]
    argv += ["--upweight", "2.0", "-n", "3", "-P", "alpha=0.5"]
    assert redact_argv(argv) == [
        "train.py",
        "-p",
        "<withheld>",
        "--pw",
        "<withheld>",
        "--pw=<withheld>",
        "--db-pw",
        "<withheld>",
        "-p=<withheld>",
        "--upweight",
        "2.0",
        "-n",
        "3",
        "-P",
        "alpha=0.5",
    ]


@pytest.mark.parametrize(
    "text",
    [
        b"db:\n  pass: Zq7!value9\n",
        b'DB_PASS = "quartz-lantern"\n',
        b"Your new password is: Xk9#mQ2!zz\n",
        b'CACHE = "redis://:S3cretPw9@cache:6379/0"\n',
        b"url: postgres://ml:pa/ss9@db.internal/mlflow\n",
    ],
)
def test_short_keys_prose_and_empty_url_users_are_found(text: bytes) -> None:
    assert has_secret_content(text), text


@pytest.mark.parametrize(
    "text",
    [
        b"if ok:\n    pass\n",
        b"bypass: true\n",
        b"compass = heading_2\n",
        b'    PASS = "pass"\n',
        b"    'pass': 'bandpass',\n",
        b"gist://:TOKEN@<gist_id>/file.txt\n",
        b"pip install git+https://github.com/org/pkg@v1.0\n",
        b"url = https://pkgs.example.invalid:8443/org/pkg@v1.0\n",
        b'uri = "sqlite:////abs/mlflow.db"\n',
    ],
)
def test_passes_refs_and_ports_are_not_credentials(text: bytes) -> None:
    assert not has_secret_content(text), text


# A made-up private key (not a key: the body is filler), base64-encoded once more as a YAML or
# kubeconfig value holds it; a certificate the same way is public.
FAKE_PEM = b"-----BEGIN PRIVATE KEY-----\n" + _fake("MII", ALNUM, 61).encode() + b"\n"
FAKE_CERT = b"-----BEGIN CERTIFICATE-----\n" + _fake("MII", ALNUM, 61).encode() + b"\n"


@pytest.mark.parametrize("lead", [b"", b"\n", b"\n\n"])  # the three base64 alignments
def test_a_base64_encoded_private_key_is_found(lead: bytes) -> None:
    import base64

    encoded = base64.b64encode(lead + FAKE_PEM)
    assert has_secret_content(b"tls:\n  key: " + encoded + b"\n")
    assert has_secret_content(b'{"key": "' + base64.urlsafe_b64encode(lead + FAKE_PEM) + b'"}')
    assert not has_secret_content(b"ca: " + base64.b64encode(lead + FAKE_CERT) + b"\n")


FAKE_HEX_KEY = _fake("", HEX, 64)


def test_a_quoted_64_digit_hex_key_with_no_keyword_is_found() -> None:
    assert has_secret_content(f"def connect(key=f\"{{'{FAKE_HEX_KEY}'}}\"):\n".encode())
    assert has_secret_content(f'DEFAULTS = ("{FAKE_HEX_KEY.upper()}",)\n'.encode())
    assert has_secret_content(f'shared_key = "{FAKE_HEX_KEY}"  # shape: 32 bytes\n'.encode())
    # Digests say so, or are not quoted hex: lock and DVC files, pip hashes, commits, run ids.
    for ordinary in (
        f'expected_sha256 = "{FAKE_HEX_KEY}"',
        f'{{"checksum": "{FAKE_HEX_KEY}"}}',
        f'wheels = [{{ url = "https://h/p.whl", hash = "sha256:{FAKE_HEX_KEY}" }}]',
        f"numpy==2.0 --hash=sha256:{FAKE_HEX_KEY}",
        f"- md5: {FAKE_HEX_KEY[:32]}\n  path: data",
        f'commit = "{FAKE_HEX_KEY[:40]}"',
        f'N = "{"1234567890" * 7}"',
    ):
        assert not has_secret_content(ordinary.encode()), ordinary


def _notebook(source: list[str], outputs: list[dict[str, object]]) -> bytes:
    import json

    cell = {"cell_type": "code", "metadata": {}, "source": source, "outputs": outputs}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4}, indent=1).encode()


PRINTED_KEY = "q7Xv2LmR9tZpK4wN8sYbE3hJ6dCf"  # base62, no prefix (as above)


@pytest.mark.parametrize(
    ("source", "outputs"),
    [
        (['MY_TOKEN = "Zq7v4Lm2Rt9x"\n', "client = connect(MY_TOKEN)"], []),
        (["print(key)"], [{"output_type": "stream", "text": f"key:\n{PRINTED_KEY}\n"}]),
        (
            ["reset()"],
            [
                {
                    "output_type": "execute_result",
                    "data": {"text/plain": ["reset\n", "Your new password is: Xk9#mQ2!zz\n"]},
                }
            ],
        ),
    ],
)
def test_a_notebook_is_screened_cell_by_cell_decoded(
    source: list[str], outputs: list[dict[str, object]]
) -> None:
    notebook = _notebook(source, outputs)
    assert not has_secret_content(notebook)  # the JSON escapes hide it from the raw screen
    assert has_secret_in_file("analysis.ipynb", notebook)
    assert not has_secret_in_file("analysis.json", notebook)  # only notebooks are decoded
    # A diff chunk of a tracked notebook does not decode: its escapes are undone instead.
    chunk = b"diff --git a/n.ipynb b/n.ipynb\n" + b"".join(
        b"+" + line + b"\n" for line in notebook.splitlines()
    )
    assert has_secret_in_file("n.ipynb", chunk)


def test_an_ordinary_notebook_is_not_withheld() -> None:
    notebook = _notebook(
        ["import numpy as np\n", 'print("loss", 0.25)\n', "token = tokenizer(text)\n"],
        [{"output_type": "stream", "text": ["loss 0.25\n"]}],
    )
    assert not has_secret_in_file("analysis.ipynb", notebook)


def test_a_name_holding_a_token_is_recorded_without_it() -> None:
    token = _fake("ghp_", ALNUM, 36)
    shown = redact_path(f"notes/notes-{token}.txt")
    assert token not in shown and token[4:12] not in shown
    assert shown.startswith("notes/<withheld-sha256:") and shown.endswith(">")
    assert redact_path(f"{token}/a.txt").endswith("/a.txt")
    assert redact_path(f"notes/notes-{token[:-1]}x.txt") != shown  # told apart
    for ordinary in ("notes/todo.txt", "data/part-00001.parquet", "src/tokenizer.py"):
        assert redact_path(ordinary) == ordinary


def test_requirement_urls_lose_credentials_and_queries_but_keep_what_to_build() -> None:
    text = (
        "private-pkg @ https://bot:tok-1234@pkgs.example.invalid/p-1.0-py3-none-any.whl \\\n"
        "    --hash=sha256:" + "ab" * 32 + "\n"
        "signed @ https://pkgs.example.invalid/s-1.0.whl?token=tok-5678\n"
        "sub @ git+https://tok-9012@git.example.invalid/org/mono@"
        + "c"
        * 40
        + "#subdirectory=pkgs/sub\n"
        "numpy==2.0 --hash=sha256:" + "cd" * 32 + "\n"
    )
    assert redact_requirement_urls(text) == (
        "private-pkg @ https://pkgs.example.invalid/p-1.0-py3-none-any.whl \\\n"
        "    --hash=sha256:" + "ab" * 32 + "\n"
        "signed @ https://pkgs.example.invalid/s-1.0.whl\n"
        "sub @ git+https://git.example.invalid/org/mono@" + "c" * 40 + "#subdirectory=pkgs/sub\n"
        "numpy==2.0 --hash=sha256:" + "cd" * 32 + "\n"
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://files.pythonhosted.org/packages/ab/cd/numpy-2.0-py3-none-any.whl",
        "https://user:tok@github.com/o/r.git",
        "https://h/p.whl?X-Amz-Security-Token=abc",
        "https://h/p.whl#frag",
        "https://[::1/x",
        "http://[::1]:8080/x",
        "https://h]/x",
        "https://hést.example/x",
        "git+https://host/org/pkg@v1.0",
        "file:///srv/wheels/p-1.0-py3-none-any.whl",
    ],
)
def test_text_without_a_url_to_redact_skips_the_url_by_url_pass_with_the_same_result(
    url: str,
) -> None:
    """The shortcut for lock exports (thousands of index URLs, none with a user, query or
    fragment) returns what the URL-by-URL pass would, for URLs it changes and those it keeps."""
    from mlflow_repro.secrets import _URL, _redact_requirement_url

    for text in (
        f"pkg @ {url} --hash=sha256:{'ab' * 32}\n",
        f'wheels = [{{ url = "{url}", hashes = {{ sha256 = "{"cd" * 32}" }} }}]\n',
    ):
        assert redact_requirement_urls(text) == _URL.sub(_redact_requirement_url, text)


def test_a_pylock_export_has_no_url_to_redact_and_is_kept_byte_for_byte() -> None:
    from mlflow_repro.secrets import _no_url_to_redact
    from tests.conftest import REPO_ROOT

    lock = (REPO_ROOT / "uv.lock").read_text()
    wheel = next(line for line in lock.splitlines() if "files.pythonhosted.org" in line)
    url = wheel.split('url = "', 1)[1].split('"', 1)[0]
    text = f'index = "https://pypi.org/simple"\nwheels = [{{ url = "{url}" }}]\n' * 500
    assert _no_url_to_redact(text) and redact_requirement_urls(text) == text


@pytest.mark.parametrize(
    ("image", "recorded"),
    [
        ("registry.example/team/train:1.4", "registry.example/team/train:1.4"),
        ("bot:s3cr3t-tok@registry.example/team/train:1.4", "registry.example/team/train:1.4"),
        ("https://bot:s3cr3t@registry.example/v2/train", "https://registry.example/v2/train"),
        ("repo/img@sha256:" + "a" * 64, "repo/img@sha256:" + "a" * 64),
    ],
)
def test_the_image_name_is_recorded_without_credentials(
    image: str, recorded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow_repro.capture.environment import _image

    monkeypatch.setenv("MLFLOW_REPRO_IMAGE", image)
    assert _image() == recorded


def test_a_random_looking_token_with_no_known_format_is_found() -> None:
    token = "q7Xv2LmR9tZpK4wN8sYbE3hJ6dCf"  # base62, no prefix, no keyword near it
    assert has_secret_content(f'ENDPOINT_OPTS = ("{token}",)\n'.encode())
    # Identifiers, hashes, ids and URL paths are not.
    for ordinary in (
        b"layer = nn.UpsamplingBilinear2d(scale_factor=2)",
        b"sha256:9243213661e29250eb41368e5daa826fc017156c3b8a11440826b2e3ed376472",
        b"run_id = '4e449b7e97e4445783141d7795d5b672'",
        b"see https://github.com/advisories/GHSA-gq3w-7jj3-x7gr",
        b"class LapackILP64NotFoundError(Exception): ...",
    ):
        assert not has_secret_content(ordinary), ordinary


def test_a_gitleaks_allowlist_marks_false_positives(tmp_path: Path) -> None:
    from mlflow_repro.secrets import load_allowlist

    token = "q7Xv2LmR9tZpK4wN8sYbE3hJ6dCf"
    (tmp_path / ".gitleaks.toml").write_text(
        "[allowlist]\n"
        'description = "test fixtures"\n'
        f'regexes = ["^{token[:6]}"]\n'
        'stopwords = ["example"]\n'
        'paths = ["^tests/fixtures/"]\n'
    )
    allow, error = load_allowlist(tmp_path)
    assert error is None
    assert has_secret_content(token.encode()) and not has_secret_content(token.encode(), allow)
    assert not has_secret_content(b'password = "example1234"', allow)
    assert has_secret_content(b'password = "hunter2024"', allow)
    assert allow.allows_path("tests/fixtures/keys.txt") and not allow.allows_path("src/app.py")
    (tmp_path / ".gitleaks.toml").write_text("[allowlist\n")
    allow, error = load_allowlist(tmp_path)
    assert error is not None and ".gitleaks.toml not used" in error
