"""Inspect records as a person reads them: plain text (colour only on a terminal) and a
self-contained HTML page for `diff --html`."""

from __future__ import annotations

import html
from collections.abc import Iterable

from mlflow_repro.inspect.records import (
    AuditReport,
    Difference,
    ParityItem,
    ParityReport,
    RunDiff,
)

COLOURS = {"ok": "32", "weak": "33", "missing": "31", "match": "32", "mismatch": "31"}


def _paint(text: str, key: str, colour: bool) -> str:
    code = COLOURS.get(key)
    return f"\033[{code}m{text}\033[0m" if colour and code else text


def audit_text(report: AuditReport, *, colour: bool = False) -> str:
    head = f"audit of run {report.run_id}"
    if report.model_version:
        head += f" (model version {report.model_version})"
    width = max(len(i.name) for i in report.items) if report.items else 8
    lines = [head]
    for item in report.items:
        status = _paint(f"{item.status:<7}", item.status, colour)
        lines.append(f"  {status} {item.name:<{width}}  {item.reason}")
        if item.action:
            lines.append(f"  {'':<7} {'':<{width}}  -> {item.action}")
    counts = ", ".join(
        f"{sum(i.status == s for i in report.items)} {s}" for s in ("ok", "weak", "missing")
    )
    verdict = "rebuildable" if not report.missing else "not rebuildable"
    lines.append(
        f"verdict: {_paint(verdict, 'ok' if not report.missing else 'missing', colour)} ({counts})"
    )
    return "\n".join(lines)


def _value(value: str | None) -> str:
    if value is None:
        return "(absent)"
    return value if len(value) <= 60 else value[:57] + "..."


def _difference_lines(differences: Iterable[Difference], *, patches: bool) -> list[str]:
    lines = []
    group = None
    for diff in differences:
        if diff.group != group:
            group = diff.group
            lines.append(f"  {group}:")
        lines.append(f"    {diff.name}: {_value(diff.a)} -> {_value(diff.b)}")
        if diff.detail and (patches or not diff.detail.startswith("diff --git")):
            for detail in diff.detail.splitlines():
                lines.append(f"      {detail}")
    return lines


def no_cause(result: RunDiff) -> str:
    """The headline of a diff whose metrics are equal but whose records differ."""
    count = len(result.differences)
    return (
        "no cause to find: the metrics are equal; "
        f"{count} recorded difference{'s' if count != 1 else ''}, ranked:"
    )


def diff_text(result: RunDiff, *, colour: bool = False, patches: bool = True) -> str:
    lines = [f"diff of run A {result.run_a} and run B {result.run_b}"]
    if result.unreadable:
        lines.append(_paint("  could not compare the records:", "missing", colour))
        lines += [f"    {_paint(line, 'missing', colour)}" for line in result.unreadable]
    elif not result.differences:
        lines.append(
            _paint("  the manifests record no difference that can change a result", "ok", colour)
        )
    else:
        cause = result.likely_cause
        if cause is not None:
            lines.append(_paint(f"likely cause: {cause.group}: {cause.name}", "weak", colour))
        else:
            lines.append(_paint(no_cause(result), "ok", colour))
        lines += _difference_lines(result.differences, patches=patches)
    if result.metrics:
        lines.append("metrics (A -> B):")
        lines += [f"    {m.name}: {m.a} -> {m.b}" for m in result.metrics]
    else:
        lines.append("metrics: equal")
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


# Parity statuses summed up in one line each (every package with --all)
SUMMED_UP = {
    "unpinned": "packages the model needs that the serving file does not pin (the installer "
    "picks their versions; not compared)",
    "training-only": "packages only training had (in the run's lock, not in the model's "
    "requirements; not compared)",
}


def _names(items: list[ParityItem], shown: int = 8) -> str:
    names = ", ".join(i.name for i in items[:shown])
    return names + (f" and {len(items) - shown} more" if len(items) > shown else "")


def parity_text(report: ParityReport, *, colour: bool = False, show_matches: bool = False) -> str:
    lines = [f"parity of run {report.run_id} with {report.against}"]
    if report.model:
        lines.append(f"  the model's needs: {report.model}")
    counted: dict[str, int] = {}
    for item in report.items:
        counted[item.status] = counted.get(item.status, 0) + 1
        if item.status in ("match", "extra", *SUMMED_UP) and not show_matches:
            continue
        key = "ok" if item.status in ("match", "unchecked", *SUMMED_UP) else "missing"
        lines.append(
            f"  {_paint(f'{item.status:<15}', key, colour)} {item.name}: training "
            f"{item.training or '-'}, serving {item.serving or '-'}"
            + (f" ({item.detail})" if item.detail else "")
        )
    if not show_matches:
        for status, said in SUMMED_UP.items():
            these = [i for i in report.items if i.status == status]
            if these:
                said = said if len(these) > 1 else said.replace("packages", "package", 1)
                lines.append(
                    f"  {_paint(f'{status:<15}', 'ok', colour)} {len(these)} {said}: "
                    f"{_names(these)} (--all lists them)"
                )
    lines += [f"note: {note}" for note in report.notes]
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counted.items()))
    lines.append(f"verdict: {_paint(report.verdict, report.verdict, colour)} ({summary})")
    return "\n".join(lines)


def diff_html(result: RunDiff) -> str:
    """A self-contained page (no scripts, no external resources)."""
    e = html.escape
    rows = []
    for i, diff in enumerate(result.differences):
        detail = f"<pre>{e(diff.detail)}</pre>" if diff.detail else ""
        cls = ' class="cause"' if i == 0 and result.likely_cause is not None else ""
        rows.append(
            f"<tr{cls}><td>{e(diff.group)}</td><td>{e(diff.name)}</td>"
            f"<td>{e(_value(diff.a))}</td><td>{e(_value(diff.b))}</td><td>{detail}</td></tr>"
        )
    metrics = "".join(
        f"<tr><td>{e(m.name)}</td><td>{e(str(m.a))}</td><td>{e(str(m.b))}</td></tr>"
        for m in result.metrics
    )
    cause = result.likely_cause
    if result.unreadable:
        headline = "Could not compare the records: " + "; ".join(e(u) for u in result.unreadable)
    elif cause:
        headline = f"Likely cause: <b>{e(cause.group)}: {e(cause.name)}</b>"
    elif result.differences:
        count = len(result.differences)
        headline = (
            "No cause to find: the metrics are equal. "
            + (
                "The recorded difference is"
                if count == 1
                else f"The {count} recorded differences are"
            )
            + " listed below, ranked."
        )
    else:
        headline = "The manifests record no difference that can change a result."
    notes = "".join(f"<li>{e(n)}</li>" for n in result.notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>mlflow-repro diff {e(result.run_a[:8])} vs {e(result.run_b[:8])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #1a1a1a; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; text-align: left; }}
th {{ background: #f0f0f0; }}
tr.cause td {{ background: #fff4d6; }}
pre {{ margin: 0; font-size: 12px; white-space: pre-wrap; }}
.headline {{ font-size: 1.2em; margin: 1em 0; }}
</style></head><body>
<h1>Why do these runs differ?</h1>
<p>Run A <code>{e(result.run_a)}</code> &mdash; run B <code>{e(result.run_b)}</code></p>
<p class="headline">{headline}</p>
<h2>Differences, {"likely cause first" if cause else "ranked"}</h2>
<table><tr><th>group</th><th>what</th><th>run A</th><th>run B</th><th>detail</th></tr>
{"".join(rows) or '<tr><td colspan="5">none</td></tr>'}</table>
<h2>Metrics</h2>
<table><tr><th>metric</th><th>run A</th><th>run B</th></tr>
{metrics or '<tr><td colspan="3">equal</td></tr>'}</table>
{f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""}
<p><small>mlflow-repro diff: read from the two runs' manifests.</small></p>
</body></html>
"""
