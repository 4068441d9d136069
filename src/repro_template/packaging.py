"""`just package`: a byte-for-byte reproducible wheel from hash-checked build dependencies.

- `build-constraints.txt` pins [build-system].requires with hashes (`uv pip compile
  --generate-hashes --universal`); it is committed and kept apart from the runtime dependencies.
- The wheel is built by `uv build --wheel --build-constraints build-constraints.txt
  --require-hashes` into a clean directory, with SOURCE_DATE_EPOCH set to the commit time.
- The wheel's runtime requirements (`uv export --no-default-groups` of uv.lock: the wheel's own
  dependencies, not the template's group, with hashes) ship beside the wheel.
- `SHA256SUMS` beside them names the sha256 of both, in `sha256sum`'s format (`<hex>  <name>`):
  `cd dist && sha256sum -c SHA256SUMS` checks a copy.
- `verify` builds twice in separate clean directories and compares the bytes; a difference names
  the members of the wheel that differ.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from mlflow_repro.uvexport import export_command, uv_binary
from repro_template.errors import PackageError

BUILD_CONSTRAINTS = "build-constraints.txt"
RUNTIME_REQUIREMENTS = "requirements.txt"
CHECKSUMS = "SHA256SUMS"


def _uv() -> str:
    return uv_binary() or "uv"


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    import os

    try:
        done = subprocess.run(
            cmd,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PackageError(f"`{' '.join(cmd[:3])}` could not run: {exc}") from exc
    if done.returncode != 0:
        raise PackageError(
            f"`{' '.join(cmd[:3])} ...` failed (exit {done.returncode}):\n{done.stderr.strip()}"
        )
    return done.stdout


def build_requirements(project: Path) -> list[str]:
    """The [build-system].requires of pyproject.toml."""
    data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    requires = data.get("build-system", {}).get("requires")
    if not requires:
        raise PackageError(f"{project / 'pyproject.toml'} has no [build-system].requires")
    return list(requires)


def compile_build_constraints(project: Path) -> Path:
    """Pin the build requirements, with hashes, into build-constraints.txt (needs the index)."""
    out = project / BUILD_CONSTRAINTS
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "build-requirements.in"
        source.write_text("\n".join(build_requirements(project)) + "\n")
        _run(
            [
                _uv(),
                "pip",
                "compile",
                str(source),
                "--generate-hashes",
                "--universal",
                "--no-header",
                "--no-annotate",
                "--quiet",
                "-o",
                str(out),
            ],
            cwd=project,
        )
    text = out.read_text()
    out.write_text(
        "# Build requirements ([build-system].requires) pinned with hashes by\n"
        "# `just package-constraints`; `just package` builds with them and --require-hashes.\n"
        + text
    )
    return out


def commit_epoch(project: Path) -> str:
    """SOURCE_DATE_EPOCH: the committer time of HEAD."""
    try:
        return _run(["git", "log", "-1", "--format=%ct", "HEAD"], cwd=project).strip()
    except PackageError as exc:
        raise PackageError(
            f"cannot read the commit time of HEAD in {project} (is it a git repository with a "
            f"commit?); commit first, the wheel's timestamps come from it\n{exc}"
        ) from exc


@dataclass(frozen=True)
class Package:
    wheel: Path
    sha256: str
    requirements: Path
    checksums: Path  # SHA256SUMS: the wheel's and the requirements' sha256, sha256sum's format


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


BUILD_OUTPUTS = ("*.whl", "*.tar.gz", RUNTIME_REQUIREMENTS, CHECKSUMS)


def write_checksums(out_dir: Path, files: list[Path]) -> Path:
    """`out_dir/SHA256SUMS`: one `<sha256>  <name>` line per file (names relative to
    `out_dir`, as `sha256sum -c` run there reads them)."""
    path = out_dir / CHECKSUMS
    lines = [f"{sha256(f)}  {f.relative_to(out_dir).as_posix()}\n" for f in files]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _clear_output(project: Path, out_dir: Path) -> None:
    """Empty `out_dir` of earlier build outputs, refusing anything that holds other files."""
    out, root = out_dir.resolve(), project.resolve()
    if out == root or root.is_relative_to(out):
        raise PackageError(f"--out-dir {out_dir} is the project or contains it: choose e.g. dist")
    if out.exists():
        outputs = {p for pattern in BUILD_OUTPUTS for p in out.glob(pattern)}
        # uv build writes a `.gitignore` of `*` into its output folder: kept, never an obstacle
        ours = out / ".gitignore"
        kept = {ours} if ours.is_file() and ours.read_text("utf-8").strip() == "*" else set()
        others = [p.name for p in out.iterdir() if p not in outputs | kept]
        if others:
            raise PackageError(
                f"refusing to clear --out-dir {out_dir}: it holds files that are not build "
                f"outputs ({', '.join(sorted(others)[:5])}); choose an empty or new directory"
            )
        for path in outputs:
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def build(project: Path, out_dir: Path, epoch: str | None = None) -> Package:
    """Build the wheel into a clean `out_dir`, with the runtime requirements beside it."""
    constraints = project / BUILD_CONSTRAINTS
    if not constraints.is_file():
        raise PackageError(
            f"{constraints} not found: run `just package-constraints` to pin the build "
            "requirements with hashes, and commit it"
        )
    _clear_output(project, out_dir)
    _run(
        [
            _uv(),
            "build",
            "--wheel",
            "--build-constraints",
            str(constraints),
            "--require-hashes",
            "--out-dir",
            str(out_dir),
            "--no-progress",
            str(project),
        ],
        cwd=project,
        env={"SOURCE_DATE_EPOCH": epoch or commit_epoch(project)},
    )
    wheels = sorted(out_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise PackageError(f"expected one wheel in {out_dir}, found {[w.name for w in wheels]}")
    requirements = out_dir / RUNTIME_REQUIREMENTS
    # The wheel's own closure: the plugin's requirements, not the template's default group.
    requirements.write_text(_run(export_command("--no-default-groups"), cwd=project))
    checksums = write_checksums(out_dir, [wheels[0], requirements])
    return Package(
        wheel=wheels[0], sha256=sha256(wheels[0]), requirements=requirements, checksums=checksums
    )


def diff_wheels(a: Path, b: Path) -> list[str]:
    """The members of two wheels that differ: content, timestamps, permissions or order."""
    with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
        ia = {i.filename: i for i in za.infolist()}
        ib = {i.filename: i for i in zb.infolist()}
        differences = [f"only in {a.name}: {n}" for n in sorted(set(ia) - set(ib))]
        differences += [f"only in {b.name}: {n}" for n in sorted(set(ib) - set(ia))]
        for name in sorted(set(ia) & set(ib)):
            x, y = ia[name], ib[name]
            if za.read(name) != zb.read(name):
                differences.append(f"{name}: content")
            elif x.date_time != y.date_time:
                differences.append(f"{name}: timestamp {x.date_time} != {y.date_time}")
            elif x.external_attr != y.external_attr:
                differences.append(f"{name}: permissions")
        if not differences and list(ia) != list(ib):
            differences.append("member order")
    return differences


@dataclass(frozen=True)
class Verification:
    first: Package
    second: Package
    differences: list[str]

    @property
    def identical(self) -> bool:
        return self.first.sha256 == self.second.sha256


def verify(project: Path, workdir: Path) -> Verification:
    """Build twice in separate clean directories and compare."""
    epoch = commit_epoch(project)
    first = build(project, workdir / "first", epoch)
    second = build(project, workdir / "second", epoch)
    differences = [] if first.sha256 == second.sha256 else diff_wheels(first.wheel, second.wheel)
    return Verification(first, second, differences)
