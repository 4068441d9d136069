"""The git collector on real repositories: every state a user's checkout can be in."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mlflow_repro.capture.code import collect_code, repository_root
from mlflow_repro.capture.settings import Settings
from mlflow_repro.capture.staging import Staging
from tests.conftest import Repo


def staged_bytes(staging: Staging, artifact_path: str) -> bytes:
    return (staging.root / artifact_path.removeprefix("repro/")).read_bytes()


def test_clean_checkout(repo: Repo, staging: Staging, settings: Settings) -> None:
    code, errors = collect_code(repo.root, staging, settings)
    assert errors == []
    assert code.vcs == "git"
    assert code.commit == repo.git("rev-parse", "HEAD")
    assert code.branch == "main" and not code.detached
    assert code.dirty is False and code.diff is None and code.untracked == []
    assert code.remote_url is None and code.pushed is False
    assert code.complete


def test_dirty_tracked_file_is_captured_as_an_applicable_diff(
    repo: Repo, staging: Staging, settings: Settings, tmp_path: Path
) -> None:
    repo.write("train.py", "print('changed')\n")
    repo.write("staged.py", "x = 1\n")
    repo.git("add", "staged.py")
    code, _ = collect_code(repo.root, staging, settings)
    assert code.dirty is True and code.diff is not None
    diff = staged_bytes(staging, code.diff.path)
    assert hashlib.sha256(diff).hexdigest() == code.diff.sha256 and len(diff) == code.diff.size
    assert b"print('changed')" in diff and b"x = 1" in diff

    # The diff rebuilds the working tree on a clean checkout of the commit.
    clone = tmp_path / "clone"
    Repo(tmp_path).git("clone", "-q", str(repo.root), str(clone))
    patch = tmp_path / "p.diff"
    patch.write_bytes(diff)
    Repo(clone).git("apply", "--index", str(patch))
    assert (clone / "train.py").read_text() == "print('changed')\n"
    assert (clone / "staged.py").read_text() == "x = 1\n"


def test_untracked_text_and_binary_files_are_uploaded_byte_for_byte(
    repo: Repo, staging: Staging, settings: Settings
) -> None:
    repo.write("notes/readme.txt", "hello\n")
    blob = bytes(range(256)) * 4
    repo.write("weights.bin", blob)
    repo.write("ignored/cache.txt", "not captured\n")
    code, _ = collect_code(repo.root, staging, settings)
    assert code.dirty is True
    by_path = {u.path: u.payload for u in code.untracked}
    assert set(by_path) == {"notes/readme.txt", "weights.bin"}
    assert staged_bytes(staging, by_path["weights.bin"].path) == blob
    assert by_path["weights.bin"].sha256 == hashlib.sha256(blob).hexdigest()
    assert by_path["weights.bin"].path == "repro/untracked/weights.bin"


def test_binary_change_to_tracked_file_is_a_binary_diff(
    repo: Repo, staging: Staging, settings: Settings
) -> None:
    repo.write("model.bin", b"\x00\x01\x02")
    repo.commit("binary")
    repo.write("model.bin", b"\x00\xff\x02\x03")
    code, _ = collect_code(repo.root, staging, settings)
    assert code.diff is not None
    assert b"GIT binary patch" in staged_bytes(staging, code.diff.path)


def test_detached_head(repo: Repo, staging: Staging, settings: Settings) -> None:
    first = repo.git("rev-parse", "HEAD")
    repo.write("train.py", "v2\n")
    repo.commit("second")
    repo.git("checkout", "-q", first)
    code, _ = collect_code(repo.root, staging, settings)
    assert code.detached and code.branch is None and code.commit == first


def test_remote_url_credentials_are_stripped_and_push_state_known(
    repo: Repo, staging: Staging, settings: Settings, tmp_path: Path
) -> None:
    bare = tmp_path / "remote.git"
    Repo(tmp_path).git("init", "-q", "--bare", str(bare))
    repo.git("remote", "add", "origin", str(bare))
    repo.git("push", "-q", "origin", "main")
    code, _ = collect_code(repo.root, staging, settings)
    assert code.remote_name == "origin" and code.pushed is True

    repo.write("train.py", "unpushed\n")
    repo.commit("local only")
    repo.git(
        "remote",
        "set-url",
        "origin",
        "https://oauth2:ghp_SECRETSECRETSECRET@git.example.com/team/p.git",
    )
    code, _ = collect_code(repo.root, staging, settings)
    assert code.pushed is False
    assert code.remote_url == "https://git.example.com/team/p.git"


def test_no_git_at_all(tmp_path: Path, staging: Staging, settings: Settings) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    assert repository_root(folder) is None
    code, errors = collect_code(None, staging, settings)
    assert code.vcs == "none" and code.commit is None and errors == []


def test_repository_without_commits(tmp_path: Path, staging: Staging, settings: Settings) -> None:
    r = Repo(tmp_path)
    r.git("init", "-q")
    r.write("a.py", "a = 1\n")
    r.git("add", "a.py")
    code, _ = collect_code(tmp_path, staging, settings)
    assert code.commit is None and code.dirty is True and code.diff is not None


def test_huge_diff_over_the_cap_is_left_out_and_said_so(
    repo: Repo, staging: Staging, tmp_path: Path
) -> None:
    repo.write("small.py", "s = 0\n")
    repo.write("big.txt", "x\n")
    repo.commit("two files")
    repo.write("small.py", "s = 1\n")
    repo.write("big.txt", "y" * 100 + "\n" + "line\n" * 50_000)
    repo.write("huge-untracked.bin", b"\x00" * 3_000_000)
    code, _ = collect_code(repo.root, staging, Settings(max_diff_bytes=10_000))
    assert code.complete is False
    reasons = {o.path: o.reason for o in code.omitted}
    assert reasons["diff:big.txt"] == "diff-size-cap"
    assert reasons["huge-untracked.bin"] == "file-size-cap"
    assert code.diff is not None and code.diff.size <= 10_000
    assert b"s = 1" in staged_bytes(staging, code.diff.path)


def test_secret_files_are_named_never_uploaded(
    repo: Repo, staging: Staging, settings: Settings
) -> None:
    repo.write(".env", "DB_PASSWORD=hunter2hunter2\n")
    repo.write("deploy/id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")
    repo.write("config.py", "API_KEY = 'AKIAABCDEFGHIJKLMNOP'\n")
    repo.write("train.py", "token = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'\n")
    code, _ = collect_code(repo.root, staging, settings)
    reasons = {o.path: o.reason for o in code.omitted}
    assert reasons == {
        ".env": "secret-name",
        "deploy/id_rsa": "secret-name",
        "config.py": "secret-content",
        "diff:train.py": "secret-content",
    }
    assert code.untracked == [] and code.diff is None and code.complete is False
    staged = b"".join(p.read_bytes() for p in staging.root.rglob("*") if p.is_file())
    for secret in (b"hunter2", b"OPENSSH", b"AKIAABCDEFGHIJKLMNOP", b"ghp_abcdef"):
        assert secret not in staged


def test_renamed_file_diff_applies(
    repo: Repo, staging: Staging, settings: Settings, tmp_path: Path
) -> None:
    repo.git("mv", "train.py", "fit.py")
    code, _ = collect_code(repo.root, staging, settings)
    assert code.diff is not None
    diff = staged_bytes(staging, code.diff.path)
    clone = tmp_path / "clone"
    Repo(tmp_path).git("clone", "-q", str(repo.root), str(clone))
    (tmp_path / "p.diff").write_bytes(diff)
    Repo(clone).git("apply", "--index", str(tmp_path / "p.diff"))
    assert (clone / "fit.py").is_file() and not (clone / "train.py").exists()


def test_capture_leaves_the_index_untouched(
    repo: Repo, staging: Staging, settings: Settings
) -> None:
    repo.write("train.py", "changed\n")
    index = repo.root / ".git" / "index"
    before = index.read_bytes()
    collect_code(repo.root, staging, settings)
    assert index.read_bytes() == before


def applies_cleanly(repo: Repo, staging: Staging, diff_path: str, tmp_path: Path) -> Path:
    clone = tmp_path / "clone"
    Repo(tmp_path).git("clone", "-q", str(repo.root), str(clone))
    (tmp_path / "p.diff").write_bytes(staged_bytes(staging, diff_path))
    Repo(clone).git("apply", "--index", str(tmp_path / "p.diff"))
    return clone


def test_secret_file_behind_a_quoted_path_is_withheld(
    repo: Repo, staging: Staging, settings: Settings
) -> None:
    repo.write("dïr/.env", "DB=one\n")
    repo.write("dïr/model.py", "a = 1\n")
    repo.commit("unicode dir")
    repo.write("dïr/.env", "DB=postgres://u:hunter3@h/db\n")
    repo.write("dïr/model.py", "a = 2\n")
    code, _ = collect_code(repo.root, staging, settings)
    assert {o.path: o.reason for o in code.omitted} == {"diff:dïr/.env": "secret-name"}
    assert code.diff is not None
    assert b"hunter3" not in staged_bytes(staging, code.diff.path)
    assert b"a = 2" in staged_bytes(staging, code.diff.path)


def test_user_diff_config_cannot_change_the_patch(
    repo: Repo, staging: Staging, settings: Settings, tmp_path: Path
) -> None:
    repo.write(".netrc", "machine h login u password one\n")
    repo.write("blob.hex", b"\x00\x01")
    repo.write(".gitattributes", "*.hex diff=hexdump\n")
    repo.commit("config-sensitive files")
    repo.git("config", "diff.noprefix", "true")
    repo.git("config", "diff.hexdump.textconv", "od -c")
    repo.write(".netrc", "machine h login u password hunter33\n")
    repo.write("blob.hex", b"\x00\x02\x03")
    code, _ = collect_code(repo.root, staging, settings)
    assert {o.path: o.reason for o in code.omitted} == {"diff:.netrc": "secret-name"}
    assert code.diff is not None
    clone = applies_cleanly(repo, staging, code.diff.path, tmp_path)
    assert (clone / "blob.hex").read_bytes() == b"\x00\x02\x03"


def test_binary_patch_is_scanned_through_the_file_itself(
    repo: Repo, staging: Staging, settings: Settings
) -> None:
    repo.write("blob.dat", b"\x00" * 10)
    repo.commit("blob")
    repo.write("blob.dat", b"\x00AKIAABCDEFGHIJKLMNOP\x00")
    code, _ = collect_code(repo.root, staging, settings)
    assert {o.path: o.reason for o in code.omitted} == {"diff:blob.dat": "secret-content"}
    assert code.diff is None


def test_failed_status_uploads_no_diff(repo: Repo, staging: Staging, settings: Settings) -> None:
    repo.write("train.py", "changed\n")
    (repo.root / ".git" / "index").write_bytes(b"not an index")
    code, errors = collect_code(repo.root, staging, settings)
    assert errors and code.diff is None and code.dirty is None and code.complete is False
    assert not (staging.root / "git.diff").exists()


def test_untracked_symlinks_and_devices_are_never_read(
    repo: Repo, staging: Staging, settings: Settings, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("private\n")
    (repo.root / "link.txt").symlink_to(outside)
    (repo.root / "zero").symlink_to("/dev/zero")
    code, _ = collect_code(repo.root, staging, settings)
    assert {o.path: o.reason for o in code.omitted} == {"link.txt": "symlink", "zero": "symlink"}
    assert code.untracked == []


def test_untracked_file_count_cap_is_summarised(repo: Repo, staging: Staging) -> None:
    for i in range(12):
        repo.write(f"many/f{i:02}.txt", f"{i}\n")
    code, _ = collect_code(repo.root, staging, Settings(max_untracked_files=5))
    assert len(code.untracked) == 5
    assert [(o.path, o.reason) for o in code.omitted] == [
        ("7 more untracked files", "file-count-cap")
    ]


def test_a_symlink_loop_among_untracked_files_costs_only_itself(
    repo: Repo, staging: Staging, settings: Settings
) -> None:
    (repo.root / "loop-a").symlink_to("loop-b")
    (repo.root / "loop-b").symlink_to("loop-a")
    repo.write("notes.txt", "kept\n")
    code, errors = collect_code(repo.root, staging, settings)
    assert errors == []
    assert code.commit == repo.git("rev-parse", "HEAD") and code.branch == "main"
    assert [u.path for u in code.untracked] == ["notes.txt"]
    assert {(o.path, o.reason) for o in code.omitted} == {
        ("loop-a", "symlink"),
        ("loop-b", "symlink"),
    }


def test_git_missing_from_path_is_an_error_not_no_repository(
    repo: Repo, staging: Staging, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    top = repository_root(repo.root / ".")
    assert top == repo.root  # found by its .git folder
    code, errors = collect_code(top, staging, settings)
    assert code.vcs == "git" and code.commit is None and not code.complete
    assert any("git: not found" in e for e in errors)


def test_a_failing_part_is_named_and_leaves_the_rest(
    repo: Repo, staging: Staging, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow_repro.capture import code as collector

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(collector, "_untracked", broken)
    repo.write("notes.txt", "new\n")
    code, errors = collect_code(repo.root, staging, settings)
    assert errors == ["code.untracked: RuntimeError: boom"]
    assert code.commit == repo.git("rev-parse", "HEAD") and code.dirty is True
    assert not code.complete


def test_any_name_git_accepts_is_captured_and_rebuilt(
    repo: Repo, staging: Staging, settings: Settings, tmp_path: Path
) -> None:
    import shutil

    from mlflow_repro.replay.workspace import build_workspace

    odd = ["new\nline.py", "tab\tand space.py", 'quote"d.py', "back\\slash.py", "é-accent.py"]
    odd.append(b"latin1-\xe9t\xe9.py".decode("utf-8", "surrogateescape"))  # not UTF-8 at all
    for name in odd:
        repo.write(name, "v = 1\n")
    repo.commit("odd names")
    for name in odd:
        repo.write(name, "v = 2\n")  # a tracked change to each
        repo.write("new " + name, "untracked\n")  # and an untracked file beside it
    code, errors = collect_code(repo.root, staging, settings)
    assert errors == [] and code.omitted == [] and code.complete
    assert sorted(u.path for u in code.untracked) == sorted("new " + n for n in odd)
    assert all(u.payload.path.startswith("repro/untracked-encoded/") for u in code.untracked)

    # Through the manifest's JSON, as replay reads it (names that are not UTF-8 included).
    from mlflow_repro.manifest import Manifest

    code = Manifest.from_json(Manifest(code=code).to_json()).code
    payloads = tmp_path / "payloads"
    shutil.copytree(staging.root, payloads / "repro")
    workspace = tmp_path / "workspace"
    build_workspace(code, payloads, workspace, "r1")
    for name in odd:
        assert (workspace / name).read_text() == "v = 2\n", name
        assert (workspace / ("new " + name)).read_text() == "untracked\n", name


def _with_submodule(repo: Repo, tmp_path: Path) -> Repo:
    sub = Repo(tmp_path / "lib")
    sub.root.mkdir()
    sub.git("init", "-q")
    sub.write("lib.py", "answer = 42\n")
    sub.commit("lib")
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.root), "lib")
    repo.commit("add lib as a submodule")
    return Repo(repo.root / "lib")


def test_a_clean_submodule_is_complete_and_rebuilt_at_its_commit(
    repo: Repo, staging: Staging, settings: Settings, tmp_path: Path
) -> None:
    from mlflow_repro.replay.workspace import build_workspace

    _with_submodule(repo, tmp_path)
    code, errors = collect_code(repo.root, staging, settings)
    assert errors == [] and code.complete and code.dirty is False
    workspace = tmp_path / "workspace"
    build_workspace(code, tmp_path, workspace, "r1")
    assert (workspace / "lib" / "lib.py").read_text() == "answer = 42\n"


def test_changes_inside_a_submodule_make_the_code_incomplete(
    repo: Repo, staging: Staging, settings: Settings, tmp_path: Path
) -> None:
    from mlflow_repro.errors import ReplayError
    from mlflow_repro.replay.workspace import build_workspace

    lib = _with_submodule(repo, tmp_path)
    lib.write("lib.py", "answer = 43\n")  # an edit inside the submodule
    repo.write("train.py", "print('also changed')\n")
    code, _ = collect_code(repo.root, staging, settings)
    assert not code.complete
    assert ("diff:lib", "submodule-changes") in {(o.path, o.reason) for o in code.omitted}
    with pytest.raises(ReplayError, match=r"lib \(submodule-changes\)"):
        build_workspace(code, tmp_path, tmp_path / "workspace", "r1")


def test_the_teams_gitleaks_allowlist_lets_a_marked_false_positive_through(
    repo: Repo, staging: Staging, settings: Settings
) -> None:
    fixture = "tests/fixtures/fake_key.txt"
    repo.write(fixture, "q7Xv2LmR9tZpK4wN8sYbE3hJ6dCf\n")
    code, _ = collect_code(repo.root, staging, settings)
    assert (fixture, "secret-content") in {(o.path, o.reason) for o in code.omitted}

    repo.write(".gitleaks.toml", '[allowlist]\npaths = ["^tests/fixtures/"]\n')
    code, errors = collect_code(repo.root, Staging(), settings)
    assert errors == []
    assert fixture in {u.path for u in code.untracked} and code.complete


def _notebook(source: str, output: str = "") -> str:
    import json

    cell = {
        "cell_type": "code",
        "metadata": {},
        "source": source.splitlines(keepends=True),
        "outputs": [{"output_type": "stream", "name": "stdout", "text": output}] if output else [],
    }
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4}, indent=1) + "\n"


# Made-up values (not credentials): a keyword with a literal, a key with no format printed on a
# line of its own, and a password echoed in prose.
NOTEBOOK_TOKEN = "Zq7v4Lm2Rt9x"
PRINTED_KEY = "q7Xv2LmR9tZpK4wN8sYbE3hJ6dCf"
ECHOED_PASSWORD = "Xk9#mQ2!zz"


def test_notebook_cells_and_outputs_are_screened_as_the_cells_hold_them(
    repo: Repo, staging: Staging, settings: Settings
) -> None:
    repo.write("explore.ipynb", _notebook("import pandas as pd\n"))
    repo.commit("notebook")
    # In the JSON `MY_TOKEN = "..."` is `MY_TOKEN = \\"...\\"` and an output's line break `\\n`.
    repo.write("explore.ipynb", _notebook(f'MY_TOKEN = "{NOTEBOOK_TOKEN}"\nconnect(MY_TOKEN)\n'))
    repo.write("keys.ipynb", _notebook("print(key)\n", f"the key:\n{PRINTED_KEY}\n"))
    repo.write("reset.ipynb", _notebook("reset()\n", f"Your new password is: {ECHOED_PASSWORD}\n"))
    repo.write("clean.ipynb", _notebook("token = tokenizer(text)\n", "loss 0.25\n"))
    code, _ = collect_code(repo.root, staging, settings)
    assert {o.path: o.reason for o in code.omitted} == {
        "diff:explore.ipynb": "secret-content",
        "keys.ipynb": "secret-content",
        "reset.ipynb": "secret-content",
    }
    assert [u.path for u in code.untracked] == ["clean.ipynb"]
    staged = b"".join(p.read_bytes() for p in staging.root.rglob("*") if p.is_file())
    for secret in (NOTEBOOK_TOKEN, PRINTED_KEY, ECHOED_PASSWORD):
        assert secret.encode() not in staged


def test_a_file_whose_name_holds_a_token_is_named_without_it(
    repo: Repo, staging: Staging, settings: Settings
) -> None:
    from tests.capture.test_secrets import ALNUM, _fake

    token = _fake("ghp_", ALNUM, 36)  # made up
    repo.write(f"old-{token[:-1]}x.txt", "tracked\n")
    repo.commit("tracked file with a token in its name")
    repo.write(f"old-{token[:-1]}x.txt", "changed\n")
    repo.write(f"notes/notes-{token}.txt", "rotate this one\n")
    code, _ = collect_code(repo.root, staging, settings)
    import re

    assert {re.sub("[0-9a-f]{16}>", "...>", o.path): o.reason for o in code.omitted} == {
        "diff:<withheld-sha256:...>": "secret-name",
        "notes/<withheld-sha256:...>": "secret-name",
    }
    assert len({o.path.removeprefix("diff:") for o in code.omitted}) == 2  # told apart
    assert code.untracked == [] and code.diff is None and not code.complete
    staged = [p.read_bytes() for p in staging.root.rglob("*") if p.is_file()]
    staged += [str(p).encode() for p in staging.root.rglob("*")]
    for part in (token, token[4:20]):
        assert part not in repr(code) and not any(part.encode() in blob for blob in staged)
