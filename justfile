# mlflow-repro: `just --list` shows every recipe by group.
# Every recipe runs inside the uv-managed .venv built from uv.lock (`uv run --frozen`).

set shell := ["bash", "-euo", "pipefail", "-c"]

# the MLflow tracking store; MLflow's own default is the embedded sqlite:///mlflow.db
export MLFLOW_TRACKING_URI := env("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")

conf := "confs/training.yaml"
experiment := "mlflow-repro"
env_manager := "uv"

# show the recipes
default:
    @just --list

# --inexact: keeps the framework groups `install-frameworks` (or a job) added; `just clean-all`
# starts afresh.
# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set, as on the CI machines here, Python
# would otherwise compile mlflow again in every process: `import mlflow` 7.9 s -> 2.1 s measured.
# Only this long-lived environment: for a throwaway one, compiling all of it costs more than
# the few processes that use it save.

# install the locked environment (.venv) from uv.lock, hash-checked, bytecode compiled
[group('install')]
install:
    uv sync --frozen --inexact --compile-bytecode

# The builds uv.lock names, hash-checked: on Linux PyTorch's CUDA build from PyPI (the NVIDIA
# libraries are its dependencies), TensorFlow's CPU package. A job whose config needs a framework
# installs its group the same way into whatever environment it runs in (repro_template/jobs/
# prerequisites.py); this recipe does it for .venv ahead of time.

# add PyTorch and TensorFlow to .venv from uv.lock (groups torch and tensorflow; ~3.1 GB download)
[group('install')]
install-frameworks: install
    @echo "installing PyTorch 2.13.0 and TensorFlow 2.21.0 from uv.lock (first time on Linux: about 3.1 GB to download, 6.6 GB in .venv)"
    uv sync --frozen --inexact --compile-bytecode --group torch --group tensorflow

# bring the DVC-tracked data into the workspace: pull from the remote, else rebuild it
[group('install')]
data: install
    #!/usr/bin/env bash
    set -uo pipefail
    # DVC's own first ERROR line (--quiet would hide it: outside a git clone, a remote's error)
    first_error() { grep -m1 -A1 '^ERROR' <<<"$1" | paste -sd' ' | grep . || tail -n1 <<<"$1"; }
    if ! out=$(uv run --frozen dvc pull 2>&1); then
        echo "dvc pull brought nothing ($(first_error "$out")): rebuilding with dvc repro"
        if ! out=$(uv run --frozen dvc repro 2>&1); then
            echo "error: dvc repro failed too: $(first_error "$out")" >&2
            exit 1
        fi
    fi
    uv run --frozen dvc status --quiet || { echo "error: the workspace data differs from dvc.lock (see: uv run dvc status)" >&2; exit 1; }
    uv run --frozen dvc push --quiet

# train through `mlflow run`: `just train [CONF] [ENV_MANAGER]`, positional, e.g.
# `just train confs/training-torch.yaml` (ENV_MANAGER: uv, local or virtualenv)
[group('run')]
train conf=conf env_manager=env_manager: data
    uv run --frozen mlflow run --experiment-name {{experiment}} --env-manager {{env_manager}} -P conf_file={{conf}} .

# The same job in the template's environment image (`just image`: FROM a base by id, uv.lock's
# packages hash-checked, the plugin inside), through MLflow's docker machinery: the repro-docker
# backend runs this python_env project as a docker_env one (the image, the project copied in).
# The run records the image by id (and registry digest); replay runs it in that image. A sqlite
# store is mounted into the container; a tracking server on this machine's loopback needs
# `--network host`, which the recipe passes for any store that is not a local file.

# train in the template's environment image (Docker): `just train-container [CONF]`
[group('run')]
train-container conf=conf: data image
    #!/usr/bin/env bash
    set -euo pipefail
    tag="repro-template-env:$(sha256sum uv.lock | cut -c1-12)"
    network=host
    case "$MLFLOW_TRACKING_URI" in sqlite:*|file:*|/*) network=none ;; esac
    uv run --frozen mlflow run --experiment-name {{experiment}} -b repro-docker \
        --backend-config "{\"image\": \"$tag\"}" -A network=$network -P conf_file={{conf}} .

# open the MLflow UI on the tracking store (http://127.0.0.1:5000)
[group('run')]
ui port="5000":
    uv run --frozen mlflow ui --backend-store-uri "$MLFLOW_TRACKING_URI" --host 127.0.0.1 --port {{port}}

# Python's default, bytecode cached, for the suite's processes: where PYTHONDONTWRITEBYTECODE is set
# (these CI machines), every `mlflow run` child in the environments MLflow and the jobs build
# would compile mlflow (and torch) from source again; measured: about a minute of the suite.
# With no arguments the two tiers run side by side: the end-to-end tier mostly waits on one
# subprocess at a time, so the unit tier (about a minute) and the end-to-end files that use none
# of its shared runs (install, seeds, and the team server on PostgreSQL: its own server, sweep
# and faults) fit on the other core; their reports are printed after the main one. With
# arguments: one pytest, as given.

# run the whole test suite (installs the environment, the frameworks, the data, a browser and Docker first)
[group('check')]
test *args: install-frameworks data browser docker
    #!/usr/bin/env bash
    set -uo pipefail
    unset PYTHONDONTWRITEBYTECODE
    export MLFLOW_REPRO_REQUIRE_FRAMEWORKS=1 MLFLOW_REPRO_REQUIRE_BROWSER=1 MLFLOW_REPRO_REQUIRE_DOCKER=1
    if [ -n "{{args}}" ]; then exec uv run --frozen pytest {{args}}; fi
    # beside: the unit tier, then the end-to-end files that need none of the shared template runs
    beside=(tests/e2e/test_install.py tests/e2e/test_seeds.py tests/e2e/test_server.py tests/e2e/test_failures.py tests/e2e/test_runs.py tests/e2e/test_readme_install.py tests/e2e/test_model_signing.py)
    # the container tier (a Docker daemon, image builds, runs in images): a lane of its own,
    # started once the unit tier is done (measured: started at once, three lanes on two cores
    # stretched the unit tier from about 130 s to 454 s)
    containers=(tests/e2e/test_image.py tests/e2e/test_parity_image.py tests/e2e/test_containers.py)
    ctr_log=$(mktemp) side_log=$(mktemp) status_dir=$(mktemp -d)
    # niced: the end-to-end tier is the longer lane; the server file's 32-process sweep would
    # otherwise take its core for most of a minute (measured: e2e tier 584 s beside it, un-niced)
    (
        nice -n 10 uv run --frozen pytest -m "not e2e" -p no:cacheprovider; unit=$?
        (
            nice -n 10 uv run --frozen pytest -p no:cacheprovider --durations=8 "${containers[@]}"
            echo $? > "$status_dir/containers"
        ) > "$ctr_log" 2>&1 &
        nice -n 10 uv run --frozen pytest -p no:cacheprovider --durations=8 "${beside[@]}"; rest=$?
        wait
        exit $(( unit != 0 || rest != 0 ))
    ) > "$side_log" 2>&1 &
    side=$!
    uv run --frozen pytest -m e2e --durations=12 "${beside[@]/#/--ignore=}" "${containers[@]/#/--ignore=}"
    e2e_status=$?
    wait "$side"
    side_status=$?
    echo "---------- run beside it: the unit tier, then ${beside[*]} ----------"
    cat "$side_log"
    rm -f "$side_log"
    ctr_status=$(cat "$status_dir/containers" 2>/dev/null || echo 1)
    echo "---------- and beside those, after the unit tier: ${containers[*]} ----------"
    cat "$ctr_log"
    rm -rf "$ctr_log" "$status_dir"
    exit $(( e2e_status != 0 || side_status != 0 || ctr_status != 0 ))

# install headless Chromium for the UI test (Debian's package; needs root or sudo)
[group('install')]
browser:
    #!/usr/bin/env bash
    set -euo pipefail
    if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then exit 0; fi
    sudo=""; if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    echo "installing chromium (Debian's package) for tests/e2e/test_ui.py ..."
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
    chromium --version

# install Docker's engine, mmdebstrap and a registry (Debian's packages; needs root or sudo)
[group('install')]
docker:
    #!/usr/bin/env bash
    set -euo pipefail
    missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
    command -v docker-registry >/dev/null || missing+=(docker-registry)
    if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
    sudo=""; if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    echo "installing ${missing[*]} (Debian's packages) for the container images and tests ..."
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    dockerd --version

# The base image: Debian bookworm minbase (python3, python3-venv, git, ca-certificates) made by
# mmdebstrap (root), its root filesystem cached in ~/.cache/mlflow-repro/base; the same tar loads
# as the same image id. The image: FROM that base by id, uv.lock's packages installed offline and
# hash-checked into /opt/venv, the plugin's wheel from `just package`; build inputs as labels.

# build the base image mlflow-repro-base:bookworm from Debian's packages (needs a running dockerd)
[group('package')]
base-image: docker install
    #!/usr/bin/env bash
    set -euo pipefail
    if ! docker info >/dev/null 2>&1; then
        echo "error: no Docker daemon answers \`docker info\`. Start one (as root), e.g.:" >&2
        echo "  dockerd --bridge=none --iptables=false --ip-masq=false &   (or: systemctl start docker)" >&2
        echo "or point DOCKER_HOST at a running one." >&2
        exit 1
    fi
    uv run --frozen python -m mlflow_repro.container.cli base --tag mlflow-repro-base:bookworm

# build the template's environment image from uv.lock (offline, hash-checked; tag <name>-env:<lock>)
[group('package')]
image: package base-image
    #!/usr/bin/env bash
    set -euo pipefail
    if ! docker info >/dev/null 2>&1; then
        echo "error: no Docker daemon answers \`docker info\`. Start one (as root), e.g.:" >&2
        echo "  dockerd --bridge=none --iptables=false --ip-masq=false &   (or: systemctl start docker)" >&2
        exit 1
    fi
    uv run --frozen python -m mlflow_repro.container.cli build --base mlflow-repro-base:bookworm --wheel dist/mlflow_repro-0.1.0-py3-none-any.whl

# the fast tier: everything but the end-to-end tests (no frameworks, no DVC data needed)
[group('check')]
test-unit *args: install
    uv run --frozen pytest -m "not e2e" {{args}}

# lint, format check and type check
[group('check')]
check: install
    uv run --frozen ruff check src tests
    uv run --frozen ruff format --check src tests
    uv run --frozen mypy

# print the benchmarks (ratios against baselines measured in the same run)
[group('check')]
bench: install data
    uv run --frozen python benchmarks/capture_overhead.py
    uv run --frozen python benchmarks/replay_overhead.py
    uv run --frozen python benchmarks/inspect_overhead.py
    uv run --frozen python benchmarks/sweep_load.py
    uv run --frozen python benchmarks/signing_overhead.py

# format the code
[group('check')]
format: install
    uv run --frozen ruff format src tests
    uv run --frozen ruff check --fix src tests

# build the reproducible wheel into dist/ with its requirements.txt and SHA256SUMS (hash-checked
# build deps, SOURCE_DATE_EPOCH; check a copy: cd dist && sha256sum -c SHA256SUMS)
[group('package')]
package: install
    uv run --frozen python -m repro_template package --out-dir dist

# build twice in clean directories and fail unless the wheels are identical
[group('package')]
package-verify: install
    uv run --frozen python -m repro_template package --verify

# re-pin the build requirements with hashes (build-constraints.txt)
[group('package')]
package-constraints: install
    uv run --frozen python -m repro_template package --constraints

# re-lock: update uv.lock, then regenerate python_env.yaml from it
[group('lock')]
lock:
    uv lock
    uv run --frozen python -m repro_template lock

# fail when python_env.yaml does not match uv.lock
[group('lock')]
lock-check: install
    uv lock --check
    uv run --frozen python -m repro_template lock --check

# remove caches and build outputs (keeps mlflow.db, the data and the DVC cache)
[group('clean')]
clean:
    rm -rf build dist .pytest_cache .mypy_cache .ruff_cache
    find . -path ./.venv -prune -o -type d -name __pycache__ -exec rm -rf {} +

# also remove the virtual environment (never the tracking store mlflow.db or the DVC remote)
[group('clean')]
clean-all: clean
    rm -rf .venv
