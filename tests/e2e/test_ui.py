"""What a person sees in the MLflow UI: a real `mlflow server` on loopback, pages rendered by
headless Chromium (Debian's package), text and the runs table read from the rendered page,
screenshots saved. One server and one replayed original serve both tests (`shown`): the list view
`mlflow-repro audit` prints, then the run, replay and diff pages.

`just test` installs Chromium when it is missing (`just browser`) and sets
MLFLOW_REPRO_REQUIRE_BROWSER=1, so there a missing browser fails instead of skipping.
MLFLOW_REPRO_SCREENSHOTS=<dir> keeps the screenshots (docs/ holds the current ones of the list,
the replayed original's page and its replay's: ui-list.png, ui-run.png (ui-original.png here),
ui-replay.png).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
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


def rendered(url: str, screenshot: Path, size: str = "1440,1200") -> str:
    """The page's DOM after its scripts ran, and a screenshot of it (`size`: the window's)."""
    browser = chromium()
    flags = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--window-size={size}",
        "--virtual-time-budget=20000",
        f"--user-data-dir={screenshot.parent / 'chromium-profile'}",
    ]
    run([browser, *flags, f"--screenshot={screenshot}", url], cwd=screenshot.parent, timeout=120)
    dom = run([browser, *flags, "--dump-dom", url], cwd=screenshot.parent, timeout=120).stdout
    keep = os.environ.get("MLFLOW_REPRO_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy2(screenshot, Path(keep) / screenshot.name)
    return dom


def text_of(dom: str) -> str:
    """The visible text of a DOM dump."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
    return re.sub(r" ([:;,.)])", r"\1", text)  # "run <a>id</a>: x" reads "run id: x"


def render(url: str, screenshot: Path, size: str = "1440,1200") -> str:
    """The page's visible text after its scripts ran, and a screenshot of it."""
    return text_of(rendered(url, screenshot, size))


class RunsTable(HTMLParser):
    """The runs table as the UI rendered it: run id -> column id -> the cell's text (its rows
    carry `row-id`, the run's id, its cells `col-id`, e.g. "tags.`repro.status`")."""

    VOID = frozenset({"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"})

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self._open: list[tuple[str, str | None, str | None]] = []  # tag, row, column
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = dict(attrs)
        row, column = self._open[-1][1:] if self._open else (None, None)
        if given.get("role") == "row" and given.get("row-id"):
            row, column = given["row-id"], None
        if row and given.get("col-id"):
            column = given["col-id"]
        if tag not in self.VOID:
            self._open.append((tag, row, column))

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1][1] and self._open[-1][2]:
            _, row, column = self._open[-1]
            cells = self.rows.setdefault(str(row), {})
            cells[str(column)] = " ".join(f"{cells.get(str(column), '')} {data}".split())


def printed(output: str, label: str) -> str:
    """The address a command printed after `label:`."""
    found = re.findall(rf"^ *{re.escape(label)}: +(\S+)$", output, flags=re.M)
    assert len(found) == 1, (label, output)
    return str(found[0])


@dataclass(frozen=True)
class Shown:
    """A real `mlflow server` over the shared store, a replayed original and its replay, and
    what `mlflow-repro audit` printed of the original against the server."""

    ui: str
    original: str
    replay: Any
    audit: str
    shots: Path


@pytest.fixture(scope="module")
def shown(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shown]:
    chromium()  # skip (or fail) before any work
    shots = tmp_path_factory.mktemp("ui")
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
            cwd=shots,
            env=venv_env(MLFLOW_TRACKING_URI=trained.uri),
        )
        assert ": identical (" in done.stdout
    [replay] = replays_of(original)[:1]
    with serve(trained.uri, trained.root.parent) as ui:
        audit = run(
            [sys.executable, "-m", "mlflow_repro", "audit", original[:8]],
            cwd=shots,
            env=venv_env(MLFLOW_TRACKING_URI=ui, MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false"),
            check=False,
        )
        assert audit.returncode in (0, 1), audit.stderr
        yield Shown(ui=ui, original=original, replay=replay, audit=audit.stdout, shots=shots)


def test_the_printed_list_view_shows_each_runs_status_and_verdict_and_names_the_replay(
    trained: Trained, shown: Shown
) -> None:
    client = trained.client()
    experiment = shown.replay.info.experiment_id
    address = printed(shown.audit, "list view")
    assert address == (
        f"{shown.ui}/#/experiments/{experiment}/runs"
        "?viewStateShareKey=mlflow-repro&workflowType=machine_learning"
    )
    assert printed(shown.audit, "run page") == (
        f"{shown.ui}/#/experiments/{experiment}/runs/{shown.original}?workflowType=machine_learning"
    )
    dom = rendered(address, shown.shots / "ui-list.png", size="1680,1050")
    assert "Error loading shared view state" not in text_of(dom)
    table = RunsTable(dom).rows
    wanted = {shown.original, shown.replay.info.run_id, trained.uv_run, trained.local_run}
    assert wanted <= set(table), (sorted(table), text_of(dom)[:2000])
    for found in client.search_runs([experiment]):
        cells = table.get(found.info.run_id)
        if cells is None:
            continue  # further down the list than the window shows
        tags = found.data.tags
        for tag in ("repro.status", "repro.replay.latest", "repro.replay.verdict"):
            assert cells[f"tags.`{tag}`"] == tags.get(tag, "-"), (found.info.run_name, tag)
    assert table[shown.original]["tags.`repro.replay.latest`"] == "identical"
    replay = table[shown.replay.info.run_id]
    assert replay["tags.`repro.replay.verdict`"] == "identical"
    assert replay["tags.`repro.replay.of`"] == shown.original
    name = client.get_run(shown.original).info.run_name
    # the cell's text begins with the colour of the run's dot in the charts
    assert re.sub(r"^#[0-9a-f]{6} ", "", replay["attributes.`Run Name`"]) == f"{name} · replay"
    assert (shown.shots / "ui-list.png").stat().st_size > 10_000


def test_run_replay_and_diff_pages_show_status_command_and_verdict(
    trained: Trained, shown: Shown
) -> None:
    original, replay, tmp_path = shown.original, shown.replay, shown.shots
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

    ui = shown.ui
    text = render(f"{ui}/#/experiments/{experiment}/runs/{trained.uv_run}", tmp_path / "ui-run.png")
    assert "mlflow-repro: reproducible" in text, text[:2000]
    assert f"mlflow-repro reproduce {trained.uv_run}" in text
    assert "repro.status" in text

    text = render(
        f"{ui}/#/experiments/{experiment}/runs/{replay.info.run_id}", tmp_path / "ui-replay.png"
    )
    assert f"Replay of run {original}: identical" in text, text[:2000]
    assert "commit " in text and "+ recorded changes" in text
    assert f"mlflow-repro diff {original} {replay.info.run_id}" in text
    assert f"{trained.get(original).info.run_name} · replay" in text  # its name, at the top

    text = render(printed(shown.audit, "run page"), tmp_path / "ui-original.png")
    # The latest verdict right under the status headline: shown before "Show more" cuts it.
    latest = text.index(f"Latest replay: identical (run {replay.info.run_id})")
    assert text.index("mlflow-repro: reproducible") < latest < text.index("Rebuild and verify")

    text = render(page.as_uri(), tmp_path / "ui-diff.png")
    assert "Why do these runs differ?" in text and "No cause to find" in text
    assert "environment manager" in text
    for shot in ("ui-run.png", "ui-replay.png", "ui-original.png", "ui-diff.png"):
        assert (tmp_path / shot).stat().st_size > 10_000, shot  # a rendered page, not a blank one
