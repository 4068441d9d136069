"""What a person reads: the audit list and verdict, colour only when asked (a terminal)."""

from __future__ import annotations

from mlflow_repro.inspect.records import AuditItem, AuditReport, ParityItem, ParityReport
from mlflow_repro.inspect.render import audit_text, parity_text

REPORT = AuditReport(
    target="models:/m/1",
    run_id="r1",
    model_version="m/1",
    items=[
        AuditItem("commit", "ok", "abc on origin"),
        AuditItem("seeds", "missing", "no seed and no generator state recorded", "seed it"),
        AuditItem("signature", "weak", "unsigned", "configure a key"),
    ],
)


def test_audit_lists_each_item_with_its_action_and_a_verdict_with_counts() -> None:
    text = audit_text(REPORT)
    assert text.splitlines()[0] == "audit of run r1 (model version m/1)"
    assert "missing seeds" in " ".join(text.split())
    assert "-> seed it" in text and "-> configure a key" in text
    assert text.splitlines()[-1] == "verdict: not rebuildable (1 ok, 1 weak, 1 missing)"
    assert "\033[" not in text
    assert "\033[31m" in audit_text(REPORT, colour=True)
    assert REPORT.exit_code == 1 and REPORT.to_dict()["counts"] == {
        "ok": 1,
        "weak": 1,
        "missing": 1,
    }


def test_parity_shows_mismatches_and_hides_matches_unless_asked() -> None:
    report = ParityReport(
        target="r1",
        run_id="r1",
        against="requirements serving.txt",
        items=[
            ParityItem("numpy", "match", "2.0", "2.0"),
            ParityItem("scikit-learn", "version-differs", "1.7.0", "1.6.0"),
            ParityItem("extra-tool", "extra", None, "1.0"),
        ],
    )
    text = parity_text(report)
    assert "scikit-learn: training 1.7.0, serving 1.6.0" in text
    assert "numpy" not in text and "extra-tool" not in text
    assert "numpy" in parity_text(report, show_matches=True)
    assert text.splitlines()[-1].startswith("verdict: mismatch")
    assert report.exit_code == 1 and [i.name for i in report.mismatches] == ["scikit-learn"]
