"""What a person sees in the MLflow UI: a real `mlflow server` on loopback, pages rendered by
headless Chromium (Debian's package), text read from the rendered page, screenshots saved.

`just test` installs Chromium when it is missing (`just browser`) and sets
MLFLOW_REPRO_REQUIRE_BROWSER=1, so there a missing browser fails instead of skipping.
MLFLOW_REPRO_SCREENSHOTS=<dir> keeps the screenshots (docs/ holds the current one of a run page).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run, serve, venv_env
from tests.e2e.conftest import Trained

pytestmark = pytest.mark.e2e


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("MLFLOW_REPRO_REQUIRE_BROWSER") == "1":
        pytest.fail("chromium is not installed: run `just browser` (apt-get install chromium)")
    pytest.skip("chromium is not installed (`just browser` installs Debian's package)")


def render(url: str, screenshot: Path) -> str:
    """The page's visible text after its scripts ran, and a screenshot of it."""
    browser = chromium()
    flags = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--window-size=1440,1200",
        "--virtual-time-budget=20000",
        f"--user-data-dir={screenshot.parent / 'chromium-profile'}",
    ]
    run([browser, *flags, f"--screenshot={screenshot}", url], cwd=screenshot.parent, timeout=120)
    dom = run([browser, *flags, "--dump-dom", url], cwd=screenshot.parent, timeout=120).stdout
    keep = os.environ.get("MLFLOW_REPRO_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy2(screenshot, Path(keep) / screenshot.name)
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
    return re.sub(r" ([:;,.)])", r"\1", text)  # "run <a>id</a>: x" reads "run id: x"


def test_run_replay_and_diff_pages_show_status_command_and_verdict(
    trained: Trained, tmp_path: Path
) -> None:
    client = trained.client()
    experiment_id = client.get_run(trained.local_run).info.experiment_id

    def replays_of(run_id: str) -> list[Any]:
        query = f"tags.`repro.replay.of` = '{run_id}'"
        return list(client.search_runs([experiment_id], query))

    # A replay of a shared run: the one test_replay made of the uv run when the whole suite runs
    # (it runs first), else one made here.
    original = trained.uv_run if replays_of(trained.uv_run) else trained.local_run
    if not replays_of(original):
        done = run(
            [sys.executable, "-m", "mlflow_repro", "reproduce", original, "--env-manager", "local"],
            cwd=tmp_path,
            env=venv_env(MLFLOW_TRACKING_URI=trained.uri),
        )
        assert ": identical (" in done.stdout
    [replay] = replays_of(original)[:1]
    assert replay.data.tags["repro.replay.verdict"] == "identical"
    experiment = replay.info.experiment_id
    page = tmp_path / "diff.html"
    run(
        [
            sys.executable,
            "-m",
            "mlflow_repro",
            "diff",
            trained.uv_run,
            trained.local_run,  # another environment manager, the same metrics: no cause
            "--html",
            str(page),
        ],
        cwd=tmp_path,
        env=venv_env(MLFLOW_TRACKING_URI=trained.uri),
        check=False,
    )

    with serve(trained.uri, trained.root.parent) as ui:
        text = render(
            f"{ui}/#/experiments/{experiment}/runs/{trained.uv_run}", tmp_path / "ui-run.png"
        )
        assert "mlflow-repro: reproducible" in text, text[:2000]
        assert f"mlflow-repro reproduce {trained.uv_run}" in text
        assert "repro.status" in text

        text = render(
            f"{ui}/#/experiments/{experiment}/runs/{replay.info.run_id}", tmp_path / "ui-replay.png"
        )
        assert f"Replay of run {original}: identical" in text, text[:2000]
        assert "commit " in text and "+ recorded changes" in text
        assert f"mlflow-repro diff {original} {replay.info.run_id}" in text

        text = render(
            f"{ui}/#/experiments/{experiment}/runs/{original}", tmp_path / "ui-original.png"
        )
        assert "Latest replay: identical" in text, text[:2000]

    text = render(page.as_uri(), tmp_path / "ui-diff.png")
    assert "Why do these runs differ?" in text and "No cause to find" in text
    assert "environment manager" in text
    for shot in ("ui-run.png", "ui-replay.png", "ui-original.png", "ui-diff.png"):
        assert (tmp_path / shot).stat().st_size > 10_000, shot  # a rendered page, not a blank one
