"""The `mlflow-repro` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlflow_repro.errors import ReproError


def _train(args: argparse.Namespace) -> int:
    from mlflow_repro.jobs.configs import load_config
    from mlflow_repro.jobs.training import run_training

    # Validate before importing mlflow or touching the tracking store: a bad config leaves no run.
    config = load_config(args.conf_file)
    result = run_training(config.job, args.conf_file)
    print(
        f"run {result.run_id} finished: "
        + ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items()))
    )
    if result.registered_version is not None:
        print(f"registered model version {result.registered_version} ({result.model_uri})")
    return 0


def _lock(args: argparse.Namespace) -> int:
    from mlflow_repro.envfile import check_python_env, write_python_env

    if args.check:
        check_python_env(args.project)
        print(f"{args.project / 'python_env.yaml'} is up to date with uv.lock")
    else:
        path = write_python_env(args.project)
        print(f"wrote {path}")
    return 0


def _package(args: argparse.Namespace) -> int:
    from mlflow_repro import packaging

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
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    import json

    from mlflow_repro.replay.reproduce import reproduce

    backend_config = None
    if args.backend_config:
        path = Path(args.backend_config)
        text = path.read_text("utf-8") if path.is_file() else args.backend_config
        try:
            backend_config = json.loads(text)
        except json.JSONDecodeError as exc:
            from mlflow_repro.errors import ReplayError

            raise ReplayError(
                f"--backend-config {args.backend_config!r} is neither a JSON file nor JSON: {exc}"
            ) from None
    result = reproduce(
        args.run_id,
        workdir=args.workdir,
        env_manager=None if args.env_manager == "recorded" else args.env_manager,
        backend=args.backend,
        backend_config=backend_config,
        rel_tol=args.rel_tol,
        abs_tol=args.abs_tol,
    )
    verdict = result.verdict
    print(
        f"replay of {result.original_run_id}: new run {result.new_run_id}: {verdict.verdict} "
        f"({verdict.metrics_compared} metrics, {verdict.params_compared} params, "
        f"{verdict.model_files_compared} model files compared)"
    )
    for line in verdict.tolerated:
        print(f"  within tolerance: {line}")
    for line in verdict.differences:
        print(f"  differs: {line}")
    return 0 if verdict.verdict != "different" else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlflow-repro",
        description="Make MLflow runs rebuildable: train the template, keep its lock files true.",
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
        "directory, with the runtime requirements (hashes) beside it.",
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

    replay = sub.add_parser(
        "reproduce",
        help="re-launch a logged run in its recorded environment and verify the result",
        description="Rebuild run RUN_ID from its manifest: a fresh clone at the recorded commit "
        "with the recorded diff and untracked files, the recorded Python and hash-checked lock "
        "(uv), the DVC data at the recorded md5 (user cache, remote, else the stage), then "
        "`mlflow run` with the recorded entry point, parameters, seeds and generator states; a "
        "plain script run (`python train.py ...`) is re-run from its recorded command line under "
        "`uv run --frozen` (or this interpreter with --env-manager local). The new run is "
        "compared with the original (every metric, param and model file) and tagged "
        "repro.replay.of / repro.replay.verdict. Exit status: 0 identical or within tolerance, "
        "1 different, 2 could not replay (nothing changed).",
    )
    replay.add_argument("run_id", help="the MLflow run id to replay")
    replay.add_argument(
        "--env-manager",
        choices=["recorded", "uv", "local", "virtualenv"],
        default="recorded",
        help="how the environment is built; default: as the original run did, uv from the "
        "recorded lock (hashes checked) for a plain script; plain scripts take uv or local",
    )
    replay.add_argument("--backend", default="local", help="mlflow run backend (default local)")
    replay.add_argument("--backend-config", help="backend config: a JSON file or JSON text")
    replay.add_argument(
        "--workdir", type=Path, help="where to build the workspace (must not exist)"
    )
    replay.add_argument(
        "--rel-tol", type=float, default=0.0, help="relative tolerance for metrics (default exact)"
    )
    replay.add_argument(
        "--abs-tol", type=float, default=0.0, help="absolute tolerance for metrics (default exact)"
    )
    replay.set_defaults(handler=_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ReproError as exc:
        print(f"mlflow-repro: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
