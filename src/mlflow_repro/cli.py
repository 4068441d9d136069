"""The `mlflow-repro` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow_repro.errors import ReproError, UsageError

if TYPE_CHECKING:
    from mlflow_repro.replay.result import ReplayResult


def _version() -> str:
    import mlflow_repro

    return str(mlflow_repro.__version__)


def _reproduce_many(args: argparse.Namespace) -> int:
    from mlflow_repro.replay import batch
    from mlflow_repro.store import tracking_client

    if args.workdir is not None or args.verbose:
        raise UsageError(
            "--workdir and -v take one run; several replays each get their own workspace and log",
            hint="drop them, or replay one run at a time",
        )
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1", value=args.jobs)
    if not args.run_id and not args.experiment and not args.filter:
        raise UsageError(
            "no run named: give a run id, or select runs with --experiment and/or --filter",
            hint="`mlflow-repro reproduce --help` shows examples",
        )
    run_ids = batch.select_runs(tracking_client(), args.run_id, args.experiment, args.filter)
    if not run_ids:
        raise UsageError(
            "no run matches: nothing to replay",
            value=args.filter or ", ".join(args.experiment),
            hint="check the experiment and filter with `mlflow runs list` or the MLflow UI",
        )
    options = ["--env-manager", args.env_manager, "--rel-tol", str(args.rel_tol)]
    options += ["--abs-tol", str(args.abs_tol)]
    options += ["--backend", args.backend] if args.backend else []
    options += ["--backend-config", args.backend_config] if args.backend_config else []
    options += ["--register"] if args.register else []
    options += ["--deleted"] if args.deleted else []
    options += ["--failed"] if args.failed else []
    options += ["--image", args.image] if args.image else []
    options += ["--rebuild-image"] if args.rebuild_image else []
    if not args.json and not args.quiet:
        print(f"replaying {len(run_ids)} runs, {args.jobs} at a time ...", file=sys.stderr)

    def done(item: batch.BatchItem) -> None:
        if not args.json and not args.quiet:
            print(f"  {item.run_id}: {item.verdict} ({item.seconds:.0f}s)", file=sys.stderr)

    items = batch.replay_all(run_ids, options, args.jobs, done)
    print(batch.as_json(items) if args.json else batch.table(items))
    if not args.json and not args.quiet:
        # on stderr, beside the progress: stdout is the table alone
        replayed = [item.run_id for item in items if item.new_run_id]
        _print_addresses({}, lists_of=replayed, file=sys.stderr)
    return batch.exit_status(items)


def _reproduce_one(args: argparse.Namespace, backend_config: Any) -> ReplayResult:
    import tempfile

    from mlflow_repro.replay.progress import Progress
    from mlflow_repro.replay.reproduce import reproduce

    return reproduce(
        args.run_id,
        workdir=args.workdir,
        env_manager=None if args.env_manager == "recorded" else args.env_manager,
        backend=args.backend,
        backend_config=backend_config,
        rel_tol=args.rel_tol,
        abs_tol=args.abs_tol,
        register=args.register,
        deleted=args.deleted,
        failed=args.failed,
        image=args.image,
        rebuild_image=args.rebuild_image,
        progress=Progress(total=6, quiet=args.quiet),
        log=None
        if args.verbose
        else Path(tempfile.mkdtemp(prefix="mlflow-repro-log-")) / "rerun.log",
    )


def _backend_config(args: argparse.Namespace) -> Any:
    import json

    if not args.backend_config:
        return None
    path = Path(args.backend_config)
    text = path.read_text("utf-8") if path.is_file() else args.backend_config
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--backend-config is neither a JSON file nor JSON text ({exc})",
            value=args.backend_config,
            hint="pass a path to a JSON file or a JSON object such as '{\"key\": 1}'",
        ) from None


def _reproduce(args: argparse.Namespace) -> int:
    from mlflow_repro.replay import wrapper

    outer = wrapper.current()  # `mlflow run -e reproduce`: its run, left uncaptured
    import json

    if len(args.run_id) != 1 or args.experiment or args.filter:
        return _reproduce_many(args)
    args.run_id = args.run_id[0]
    try:
        result = _reproduce_one(args, _backend_config(args))
    except Exception as exc:
        if outer is not None:
            wrapper.record_failure(outer, args.run_id, exc)
        raise
    if outer is not None:
        wrapper.record(outer, result)
    verdict = result.verdict
    if args.json:
        from dataclasses import asdict

        print(json.dumps({"schema": "mlflow-repro.replay/1", **asdict(result)}, indent=2))
        return 0 if verdict.verdict != "different" else 1
    print(
        f"replay of {result.original_run_id}: new run {result.new_run_id}: {verdict.verdict} "
        f"({verdict.metrics_compared} metrics, {verdict.params_compared} params, "
        f"{verdict.model_files_compared} model files compared)"
    )
    if verdict.image:
        print(f"  image: {verdict.image}")
    for line in verdict.normalised:
        print(f"  normalised: {line}")
    for line in verdict.tolerated:
        print(f"  within tolerance: {line}")
    for line in verdict.differences:
        print(f"  differs: {line}")
    if not args.quiet:
        _print_addresses({"replay": result.new_run_id, "original": result.original_run_id})
    return 0 if verdict.verdict != "different" else 1


def _print_addresses(
    runs: dict[str, str], lists_of: list[str] | None = None, file: Any = None
) -> None:
    """The runs' pages and their experiment's list view in the MLflow UI (`uiview`)."""
    from mlflow_repro.store import tracking_client
    from mlflow_repro.uiview import addresses

    try:
        found = addresses(tracking_client(), runs, lists_of or [])
    except ReproError:
        return  # the command's own answer stands; the addresses are a courtesy
    width = max((len(label) for label, _ in found), default=0) + 1
    for label, address in found:
        print(f"  {label + ':':<{width}} {address}" if label else f"  {address}", file=file)


def _tolerance(text: str) -> float:
    """A metric tolerance: a finite number, zero or more."""
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a tolerance: give a finite number, 0 or more (0 means exact)"
        )
    return value


def _colour() -> bool:
    import os

    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _emit_json(record: object) -> None:
    import json

    print(json.dumps(record.to_dict(), indent=2))  # type: ignore[attr-defined]


def _audit(args: argparse.Namespace) -> int:
    from mlflow_repro.inspect.audit import audit
    from mlflow_repro.inspect.render import audit_text

    report = audit(args.target)
    if args.json:
        _emit_json(report)
    else:
        print(audit_text(report, colour=_colour()))
        _print_addresses({"run page": report.run_id})
    return report.exit_code


def _diff(args: argparse.Namespace) -> int:
    from mlflow_repro.inspect.diff import diff_runs
    from mlflow_repro.inspect.render import diff_html, diff_text

    if args.html is not None:
        _check_writable(args.html, "--html")
    result = diff_runs(args.run_a, args.run_b)
    if args.html:
        _write(args.html, diff_html(result), "--html")
        print(f"wrote {args.html}", file=sys.stderr)
    if args.json:
        _emit_json(result)
    elif not args.html:
        print(diff_text(result, colour=_colour()))
    if result.unreadable:
        if args.html or args.json:
            for line in result.unreadable:
                print(f"mlflow-repro: could not compare: {line}", file=sys.stderr)
        return 2
    return 0 if not result.differences else 1


def _check_writable(path: Path, option: str) -> None:
    """Before any work: `path` can be created in its folder."""
    import os

    folder = path.parent
    if path.is_dir():
        why = "it is a folder"
    elif not folder.is_dir():
        why = f"its folder {folder} does not exist"
    elif not os.access(folder, os.W_OK | os.X_OK):
        why = f"its folder {folder} cannot be written to"
    else:
        return
    raise UsageError(
        f"{option} {path} cannot be written: {why}",
        value=str(path),
        hint="name a file in an existing folder you can write to",
    )


def _write(path: Path, text: str, option: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"{option} {path} cannot be written ({exc.strerror})",
            value=str(path),
            hint="name a file in an existing folder you can write to",
        ) from None


def _parity(args: argparse.Namespace) -> int:
    from mlflow_repro.inspect.parity import parity, parity_image
    from mlflow_repro.inspect.render import parity_text

    if args.image is not None:
        report = parity_image(args.target, args.image)
    else:
        report = parity(args.target, against=args.against, python=args.python)
    if args.json:
        _emit_json(report)
    else:
        print(parity_text(report, colour=_colour(), show_matches=args.all))
    return report.exit_code


def _keygen(args: argparse.Namespace) -> int:
    from mlflow_repro.signing import KEY_VAR, generate

    try:
        private, public = generate(args.path)
    except OSError as exc:
        raise UsageError(
            f"the key cannot be written ({exc.strerror}: {exc.filename or args.path})",
            value=str(args.path),
            hint="name a path in a folder you can write to, e.g. ~/.config/mlflow-repro/team.key",
        ) from None
    print(f"wrote {private} (private: keep it where runs are recorded) and {public} (public)")
    print(f"sign runs:   export {KEY_VAR}={private}")
    print(f"verify runs: export {KEY_VAR}={public}")
    return 0


TARGET_HELP = (
    "a run id (or its first 8 or more characters, as the MLflow UI shows it), "
    "models:/<name>/<version> or models:/<name>@<alias>"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlflow-repro",
        description="Rebuild logged MLflow runs from their reproducibility manifest and verify "
        "them; audit, compare and check serving environments from the manifests. Example: "
        "`mlflow-repro reproduce 3f2a...` (MLFLOW_TRACKING_URI names the store).",
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
        "1 different, 2 could not replay (nothing changed). The re-run's own output goes to a "
        "log file the progress names (-v shows it instead). Several runs (ids, --experiment, "
        "--filter) are replayed up to --jobs at a time, each in its own process, and summed up "
        "in one table (or --json); exit status 2 if any could not replay, else 1 if any "
        "differed. Examples: `mlflow-repro reproduce 3f2a... --rel-tol 1e-9`, `mlflow run . -e "
        "reproduce -P run_id=3f2a...`, `mlflow-repro reproduce --experiment prod --filter "
        '"tags.\\"repro.status\\" = \'reproducible\'" --jobs 4`.',
    )
    replay.add_argument(
        "run_id",
        nargs="*",
        help="the MLflow run id to replay (or its first 8 or more characters, as the UI shows "
        "it); several ids (or --experiment / --filter) replay each and print one table",
    )
    replay.add_argument(
        "--experiment",
        action="append",
        default=[],
        metavar="NAME_OR_ID",
        help="replay the runs of this experiment (repeatable; with --filter, where to search)",
    )
    replay.add_argument(
        "--filter",
        help="replay the runs this MLflow search filter finds (replays themselves excluded), "
        'e.g. "tags.\\"repro.status\\" = \'reproducible\'"',
    )
    replay.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="with several runs: how many replays run at once (default 1)",
    )
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
        help="mlflow run backend (default: the one the run recorded, else local); kubernetes "
        "runs the re-run as a Job: the MLproject needs a docker_env image, and this machine "
        "Docker (MLflow builds the image from it and the rebuilt workspace, DVC data included, "
        "and pushes it) and a kube context; everything is checked before a run is created "
        "(docs/deployment.md)",
    )
    replay.add_argument(
        "--backend-config",
        help="backend config: a JSON file or JSON text; for kubernetes: kube-job-template-path "
        "(read from the current directory when relative, as MLflow reads it), repository-uri, "
        "kube-context, e.g. docs/kubernetes/backend-config.json",
    )
    replay.add_argument(
        "--image",
        metavar="IMAGE",
        help="run the re-run in this Docker image (a name:tag or an id) through the repro-docker "
        "backend: a run made on a host in an image, or a container run in another image; the "
        "verdict says the platform changed unless it is the recorded image id. By default a run "
        "made in a container is replayed in its recorded image, by id",
    )
    replay.add_argument(
        "--rebuild-image",
        action="store_true",
        help="when the recorded image is gone (not on this Docker engine, not pullable by its "
        "digest), build it again from its recorded inputs (base image by id, uv.lock and "
        "wheels by sha256, the Dockerfile) instead of refusing; the verdict says 'rebuilt image'",
    )
    replay.add_argument(
        "--workdir", type=Path, help="where to build the workspace (must not exist)"
    )
    replay.add_argument(
        "--rel-tol",
        type=_tolerance,
        default=0.0,
        help="relative tolerance for metrics (default exact)",
    )
    replay.add_argument(
        "--abs-tol",
        type=_tolerance,
        default=0.0,
        help="absolute tolerance for metrics (default exact)",
    )
    replay.add_argument(
        "--register",
        action="store_true",
        help="let the re-run register its model as the original did (the new version is tagged "
        "repro.replay.of and described as a replay); by default a replay adds no version",
    )
    replay.add_argument(
        "--json", action="store_true", help="print the result (verdict, new run, durations) as JSON"
    )
    replay.add_argument(
        "--deleted", action="store_true", help="replay the run even though it is deleted"
    )
    replay.add_argument(
        "--failed",
        action="store_true",
        help="replay the run even though it FAILED (or was KILLED) itself: refused by default, "
        "before anything is rebuilt; with it, the re-run is expected to fail the same way",
    )
    shown = replay.add_mutually_exclusive_group()
    shown.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the re-run's own output (environment builds, pip/uv lines, warnings, the "
        "job's prints) instead of writing it to a log file",
    )
    shown.add_argument(
        "-q", "--quiet", action="store_true", help="print only the verdict (and errors)"
    )
    replay.set_defaults(handler=_reproduce)

    audit = sub.add_parser(
        "audit",
        help="check now whether a run or model version can be rebuilt, item by item",
        description="The auditor's list for a run, checked now and not only as recorded: "
        "manifest integrity and signature, the commit (still fetchable?), the uncommitted "
        "changes, the lock, each DVC data version (still in a cache or remote?), seeds, "
        "parameters, the command, platform, GPU and determinism settings, the model files "
        "against model.digest, the registry and the replays. Each item is ok, weak or missing "
        "with the reason and what to do. Example: `mlflow-repro audit models:/classifier@prod`. "
        "Exit status: 0 nothing needed is missing, 1 something is, 2 could not audit.",
    )
    audit.add_argument("target", help=TARGET_HELP)
    audit.add_argument("--json", action="store_true", help="print the report as JSON")
    audit.set_defaults(handler=_audit)

    diff = sub.add_parser(
        "diff",
        help="explain why two runs differ: code, data, parameters, seeds, packages, settings",
        description="Compare two runs' manifests (and their logged params and metrics): "
        "the files and hunks between the two rebuilt code trees, DVC data versions, "
        "parameters and launcher, seeds, the environment manager, packages (version and hash), "
        "Python, floating-point settings (thread counts, BLAS, determinism), platform and GPU; "
        "ranked so the likely cause of a metric difference comes first, with the metric "
        "differences beside (equal metrics: no cause to find, the differences listed all the "
        "same). Example: "
        "`mlflow-repro diff 3f2a... 9c1b... --html diff.html`. Exit status: 0 no difference, "
        "1 differences found, 2 could not compare.",
    )
    diff.add_argument("run_a", help="the first run id (A), or its first 8 or more characters")
    diff.add_argument("run_b", help="the second run id (B), or its first 8 or more characters")
    diff.add_argument("--json", action="store_true", help="print the differences as JSON")
    diff.add_argument("--html", type=Path, help="write a self-contained HTML page to this file")
    diff.set_defaults(handler=_diff)

    parity = sub.add_parser(
        "parity",
        help="check that a serving environment matches the run's training environment",
        description="Package by package (version, and sha256 where the serving side records "
        "it), Python and the project's wheel, between what the run was trained with and a "
        "serving environment: a requirements file or a PEP 751 pylock.toml (--against) or an "
        "interpreter (--python; "
        "default: this one) or a Docker image (--image: also glibc and BLAS). "
        "Against a requirements file, what the logged model needs (its "
        "MLmodel, requirements.txt, python_env.yaml) is read too: the model's own libraries "
        "must be pinned as trained, its other requirements may be left to the installer, and "
        "the packages only training had are summed up in one line. Example: `mlflow-repro "
        "parity models:/classifier/3 --against serving/requirements.txt`. Exit status: 0 "
        "match, 1 mismatch, 2 could not compare.",
    )
    parity.add_argument("target", help=TARGET_HELP)
    where = parity.add_mutually_exclusive_group()
    where.add_argument(
        "--against", type=Path, help="the serving requirements file, or its pylock.toml"
    )
    where.add_argument("--python", help="the serving environment's python executable")
    where.add_argument(
        "--image",
        help="a local Docker image (name:tag, repository@sha256:... or an id): compare the "
        "packages, wheel hashes, Python, glibc and BLAS inside it (one `docker run --network "
        "none` of its Python), without running the model",
    )
    parity.add_argument(
        "--all",
        action="store_true",
        help="also list matching, extra, unpinned and training-only packages one by one",
    )
    parity.add_argument("--json", action="store_true", help="print the report as JSON")
    parity.set_defaults(handler=_parity)

    from mlflow_repro.container.cli import register as register_image

    register_image(sub)

    keygen = sub.add_parser(
        "keygen",
        help="make a team key pair for signing manifests and models",
        description="Write a new NIST P-256 key pair (PEM): PATH (private, mode 0600) and "
        "PATH.pub. With MLFLOW_REPRO_SIGNING_KEY pointing at the private key, capture signs every "
        "manifest (repro/manifest.sig) and, with mlflow-repro[sign] installed, every logged "
        "model in the OpenSSF Model Signing format (model.sig in the model directory); with it "
        "pointing at either key, audit verifies both and replay refuses unsigned or tampered "
        "manifests. Example: `mlflow-repro keygen ~/.config/mlflow-repro/team.key`.",
    )
    keygen.add_argument("path", type=Path, help="where to write the private key")
    keygen.set_defaults(handler=_keygen)
    return parser


def main(argv: list[str] | None = None) -> int:
    import os

    args = build_parser().parse_args(argv)
    if args.command in ("audit", "diff", "parity"):
        # MLflow's per-download progress bars are noise around a report a person reads.
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        return int(args.handler(args))
    except ReproError as exc:
        print(f"mlflow-repro: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # A store that fails mid-command (MLflow's own exceptions quote the request's URL,
        # credentials and all): one line, credentials withheld, never a traceback.
        from mlflow_repro.store import is_store_failure, store_error

        if not is_store_failure(exc):
            raise
        print(f"mlflow-repro: error: {store_error(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
