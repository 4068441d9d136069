"""Write the template's training table from a dataset that ships inside scikit-learn.

This is the command of the DVC stage `prepare`. The bytes it writes depend only on the
dataset and the scikit-learn and pandas versions in uv.lock, so a fresh clone rebuilds a file
whose md5 matches dvc.lock without any download.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sklearn import datasets

DATASETS: dict[str, Callable[..., Any]] = {
    "breast_cancer": datasets.load_breast_cancer,
    "wine": datasets.load_wine,
    "iris": datasets.load_iris,
}


def write_table(dataset: str, out: Path) -> Path:
    """Write `dataset` as CSV (features then a `target` column) to `out`."""
    if dataset not in DATASETS:
        raise SystemExit(
            f"error: unknown dataset {dataset!r}; choose one of {', '.join(sorted(DATASETS))}"
        )
    frame = DATASETS[dataset](as_frame=True).frame
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    frame.to_csv(tmp, index=False, lineterminator="\n")
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m repro_template.jobs.prepare",
        description="Write a scikit-learn bundled dataset as the template's training CSV.",
    )
    parser.add_argument("--dataset", default="breast_cancer", choices=sorted(DATASETS))
    parser.add_argument("--out", type=Path, default=Path("data/breast_cancer.csv"))
    args = parser.parse_args(argv)
    path = write_table(args.dataset, args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
