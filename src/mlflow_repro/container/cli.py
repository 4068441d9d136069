"""`mlflow-repro image base|build`: the image recipe (build.py) from the command line.

    python -m mlflow_repro.container.cli base [--tag T] [--suite bookworm]
    python -m mlflow_repro.container.cli build [--project .] [--base B] [--tag T]
        [--group G ...] [--wheel W ...]

Progress goes to stderr, line by line; at the end stdout holds the image id, its tag and the
build inputs (the image's io.mlflow-repro.* labels). Errors exit 2 with the problem and a hint.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from mlflow_repro.errors import ReproError


def _progress() -> Any:
    start = time.monotonic()

    def say(line: str) -> None:
        print(f"[{time.monotonic() - start:6.1f}s] {line}", file=sys.stderr, flush=True)

    return say


def _add_base(sub: Any) -> None:
    from mlflow_repro.container.build import DEFAULT_BASE_TAG, DEFAULT_SUITE

    base = sub.add_parser(
        "base",
        help="build the base image from Debian's packages (mmdebstrap; root)",
        description="Debian minbase with python3, python3-venv, git and ca-certificates, "
        "its root filesystem cached and loaded with a fixed configuration (the same tar: the "
        "same image id).",
    )
    base.add_argument("--tag", default=DEFAULT_BASE_TAG, help=f"(default {DEFAULT_BASE_TAG})")
    base.add_argument("--suite", default=DEFAULT_SUITE, help=f"(default {DEFAULT_SUITE})")
    base.set_defaults(image_func=_cmd_base)


def _add_build(sub: Any) -> None:
    from mlflow_repro.container.build import DEFAULT_BASE_TAG

    build = sub.add_parser(
        "build",
        help="build the project's environment image from uv.lock (offline, hash-checked)",
        description="FROM the base by digest or id; the locked wheels downloaded on the host "
        "and installed by uv with --require-hashes and no network; the project's wheel with "
        "--no-deps; every input recorded as an io.mlflow-repro.* label.",
    )
    build.add_argument("--project", type=Path, default=Path("."), help="(default: .)")
    build.add_argument("--base", default=DEFAULT_BASE_TAG, help=f"(default {DEFAULT_BASE_TAG})")
    build.add_argument("--tag", help="(default <project>-env:<uv.lock sha256[:12]>)")
    build.add_argument(
        "--group", action="append", default=[], help="a dependency group beyond the defaults"
    )
    build.add_argument(
        "--wheel",
        action="append",
        type=Path,
        default=None,
        help="the project's wheel(s) to install (default: built from the project)",
    )
    build.set_defaults(image_func=_cmd_build)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `image` (with `base` and `build`) to a parent parser's subparsers."""
    image = subparsers.add_parser(
        "image",
        help="build the environment image a run can be replayed in (Docker)",
        description="`image base`: a Debian base image from Debian's packages (mmdebstrap; the "
        "same root filesystem loads as the same image id). `image build`: the project's "
        "environment image FROM a base named by id or digest, uv.lock's packages installed "
        "offline and hash-checked into /opt/venv, the project's wheel, the build inputs as "
        "io.mlflow-repro.* labels (what `reproduce --rebuild-image` repeats). Run it with "
        '`mlflow run -b repro-docker --backend-config \'{"image": "<tag>"}\' .` '
        "(docs/deployment.md, Containers).",
    )
    sub = image.add_subparsers(dest="image_command", required=True)
    _add_base(sub)
    _add_build(sub)
    image.set_defaults(handler=run)  # mlflow_repro/cli.py calls args.handler(args)
    return image  # type: ignore[no-any-return]


def _cmd_base(args: argparse.Namespace) -> int:
    from mlflow_repro.container.build import base_image

    info = base_image(args.tag, args.suite, progress=_progress())
    print(f"image: {info.id}")
    print(f"tag: {args.tag}")
    for key, value in sorted(info.build_inputs.items()):
        print(f"  {key}: {value}")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from mlflow_repro.container.build import build_image

    built = build_image(
        args.project,
        base=args.base,
        tag=args.tag,
        groups=args.group,
        wheels=args.wheel,
        progress=_progress(),
    )
    print(f"image: {built.id}")
    print(f"tag: {built.tag}")
    print("inputs:")
    for key, value in sorted(built.inputs.items()):
        if key == "dockerfile":
            value = f"<{len(value)} chars base64: the Dockerfile below>"
        print(f"  {key}: {value}")
    print("Dockerfile:")
    print("  " + built.dockerfile.rstrip("\n").replace("\n", "\n  "))
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the `image` subcommand parsed into `args`; a ReproError prints and returns 2."""
    try:
        return int(args.image_func(args))
    except ReproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlflow_repro.container.cli")
    sub = parser.add_subparsers(dest="image_command", required=True)
    _add_base(sub)
    _add_build(sub)
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
