"""The template's command line: `python -m repro_template train|lock|package`.

The plugin's own commands (reproduce, ...) are `mlflow-repro`'s; these belong to the project.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlflow_repro import ReproError


def _train(args: argparse.Namespace) -> int:
    from repro_template.jobs.configs import load_config
    from repro_template.jobs.prerequisites import ensure_data, ensure_framework

    # Validate before importing mlflow or touching the tracking store: a bad config leaves no run.
    config = load_config(args.conf_file)
    # The framework (from uv.lock) and the data (from DVC) in place before `import mlflow`, where
    # the plugin's capture of a run `mlflow run` started reads the environment and the data.
    ensure_framework(config.job.model, args.conf_file)
    ensure_data(config.job.data.path)
    from repro_template.jobs.training import run_training

    result = run_training(config.job, args.conf_file)
    print(
        f"run {result.run_id} finished: "
        + ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items()))
    )
    if result.registered_version is not None:
        print(f"registered model version {result.registered_version} ({result.model_uri})")
    return 0


def _lock(args: argparse.Namespace) -> int:
    from repro_template.envfile import check_python_env, write_python_env

    if args.check:
        check_python_env(args.project)
        print(f"{args.project / 'python_env.yaml'} is up to date with uv.lock")
    else:
        path = write_python_env(args.project)
        print(f"wrote {path}")
    return 0


def _package(args: argparse.Namespace) -> int:
    from repro_template import packaging

    project = args.project.resolve()
    if args.constraints:
        print(f"wrote {packaging.compile_build_constraints(project)}")
        return 0
    if args.verify:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="mlflow-repro-verify-") as tmp:
            result = packaging.verify(project, Path(tmp))
            print(f"first build:  {result.first.sha256}  {result.first.wheel.name}")
            print(f"second build: {result.second.sha256}  {result.second.wheel.name}")
            if not result.identical:
                print("the two builds differ:", *result.differences, sep="\n  ", file=sys.stderr)
                return 1
        print("identical: the wheel is byte-for-byte reproducible")
        return 0
    package = packaging.build(project, args.out_dir.resolve())
    print(f"{package.sha256}  {package.wheel}")
    print(f"runtime requirements (hash-pinned): {package.requirements}")
    print(
        f"checksums: {package.checksums} (check a copy: cd {package.checksums.parent} && "
        f"sha256sum -c {package.checksums.name})"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m repro_template",
        description="The template project: train from a YAML config, keep python_env.yaml true "
        "to uv.lock, build the reproducible wheel. Example: "
        "`python -m repro_template train confs/training.yaml`.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser(
        "train",
        help="run a training job from a YAML config (what `mlflow run` calls)",
        description="Validate CONF_FILE, train the model it describes and log it to MLflow. "
        "Under `mlflow run` the run created by MLflow is resumed; otherwise a new run starts "
        "in the tracking store named by MLFLOW_TRACKING_URI (default sqlite:///mlflow.db).",
    )
    train.add_argument("conf_file", help="path to a job config, e.g. confs/training.yaml")
    train.set_defaults(handler=_train)

    lock = sub.add_parser(
        "lock",
        help="regenerate python_env.yaml from uv.lock (or --check that it is current)",
        description="Write python_env.yaml from .python-version and the hash-pinned export of "
        "uv.lock, so that MLflow's environment cache key follows the lock.",
    )
    lock.add_argument("--check", action="store_true", help="fail if python_env.yaml is stale")
    lock.add_argument("--project", type=Path, default=Path("."), help="project root (default .)")
    lock.set_defaults(handler=_lock)

    package = sub.add_parser(
        "package",
        help="build the byte-for-byte reproducible wheel (or --verify it, or --constraints)",
        description="Build the project's wheel with `uv build --wheel`, the hash-pinned build "
        "constraints and --require-hashes, SOURCE_DATE_EPOCH from the commit time, into a clean "
        "directory, with the runtime requirements (hashes) and SHA256SUMS (the sha256 of both, "
        "for `sha256sum -c`) beside it.",
    )
    package.add_argument("--out-dir", type=Path, default=Path("dist"), help="default: dist")
    package.add_argument("--project", type=Path, default=Path("."), help="project root")
    mode = package.add_mutually_exclusive_group()
    mode.add_argument(
        "--verify",
        action="store_true",
        help="build twice in clean directories and compare the bytes",
    )
    mode.add_argument(
        "--constraints",
        action="store_true",
        help="re-pin [build-system].requires with hashes into build-constraints.txt",
    )
    package.set_defaults(handler=_package)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ReproError as exc:
        print(f"repro_template: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
