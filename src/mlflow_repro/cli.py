"""The `mlflow-repro` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlflow_repro.errors import ReproError, UsageError


def _version() -> str:
    import mlflow_repro

    return str(mlflow_repro.__version__)


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
            raise UsageError(
                f"--backend-config is neither a JSON file nor JSON text ({exc})",
                value=args.backend_config,
                hint="pass a path to a JSON file or a JSON object such as '{\"key\": 1}'",
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
        description="Rebuild logged MLflow runs from their reproducibility manifest and verify "
        "them. Example: `mlflow-repro reproduce 3f2a...` (MLFLOW_TRACKING_URI names the store).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
        help="how the environment is built; default: as the original run did (the manifest's "
        "launch.env_manager), uv from the recorded lock (hashes checked) for a plain script; "
        "plain scripts take uv or local",
    )
    replay.add_argument(
        "--backend",
        default=None,
        help="mlflow run backend (default: the one the run recorded, else local)",
    )
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
