"""Claims: a figure a chapter re-measures, set beside the number the paper reports.

    claims.record(
        "kv-cache-speedup",                 # unique within the page
        paper="pope2022efficiently",        # a key of the dataset
        metric="speedup",                   # the paper's result row: this metric ...
        row="PaLM 540B",                    # ... and, if it has several, text its setting contains
        measured=3.1,                       # the toy's figure, in the metric's unit
        setting="m model, 256 greedy tokens, CPU",
    )

The reported value, its baseline, setting and place in the paper are read from the dataset, never
typed. Each claim also says whether the toy reproduces the paper's *direction*: both on the same
side of the neutral point (a ratio of 1, a saving of 0, or the baseline's own value). Where the
chapter gives the measurement's spread (seed to seed, run to run) and the difference from the
neutral point is within it, the claim is "inconclusive" rather than counted either way.

The claim is shown where it was measured and carried in that cell's output, so the build's claims
ledger holds exactly the claims of the pages it built, from the run that built them.
"""

import math
import os
from dataclasses import asdict, dataclass, field

MIME = "application/vnd.atlas.claim+json"
PAGE_ENV = "ATLAS_PAGE"  # set by the book build for the page being executed
REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"

# The value that means "no change against the baseline", for metrics that carry no baseline value.
_NEUTRAL_BY_METRIC = {"trainable_fraction": 100.0, "bits_per_weight": 16.0}
_NEUTRAL_BY_UNIT = {"x": 1.0, "%": 0.0, "points": 0.0, "": 0.0}


class ClaimError(ValueError):
    pass


@dataclass
class Claim:
    id: str
    paper: str
    metric: str
    unit: str
    better: str
    reported: dict  # value, baseline, baseline_value, precision, setting, where (from the dataset)
    measured: dict  # value, baseline_value, spread, setting (from the chapter)
    verdict: str
    criterion: str
    title: str = ""
    url: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def anchor(self) -> str:
        """The id of the claim's place on its page (labels are global in the book, so the page is in it)."""
        page = os.environ.get(PAGE_ENV, "").rsplit("/", 1)[-1]
        return f"claim-{page}-{self.id}" if page else f"claim-{self.id}"

    def to_json(self) -> dict:
        return {**asdict(self), "anchor": self.anchor}


def _dataset():
    """The dataset the page already loaded (else loaded now); reading it here does not mark the page
    as reading all of it, since a claim notes the one paper it uses."""
    from atlas import data

    return data.last_loaded() or data.load()


def _row(paper: str, metric: str, row: str | None):
    ds = _dataset()
    if paper not in set(ds._papers["key"]):
        raise ClaimError(f"no paper {paper!r} in the dataset; add it with `python -m atlas add` first")
    rows = ds._results[(ds._results["key"] == paper) & (ds._results["metric"] == metric)]
    if row is not None:
        text = rows["setting"] + " " + rows["precision"] + " " + rows["where"]
        rows = rows[text.str.contains(row, regex=False)]
    if len(rows) != 1:
        listed = ds._results[ds._results["key"] == paper][["metric", "value", "setting"]].to_string(index=False)
        how = "none matches" if rows.empty else f"{len(rows)} match"
        raise ClaimError(
            f"{paper}: {how} metric={metric!r}"
            + (f" with {row!r}" if row else "")
            + f"; pass row= with text from one setting. Its results:\n{listed}"
        )
    paper_row = ds._papers.set_index("key").loc[paper]
    return rows.iloc[0], paper_row


def _side(value: float, neutral: float, better: str) -> int:
    sign = (value > neutral) - (value < neutral)
    return -sign if better == "lower" else sign


def make(
    claim_id: str,
    *,
    paper: str,
    metric: str,
    measured: float,
    setting: str,
    row: str | None = None,
    baseline: float | None = None,
    spread: float | None = None,
    reproduces: bool | None = None,
    criterion: str | None = None,
) -> Claim:
    """The claim as data (record() also shows it and carries it in the cell's output)."""
    from atlas import reads

    if not claim_id or not all(c.isalnum() or c == "-" for c in claim_id):
        raise ClaimError(f"claim id {claim_id!r}: use letters, digits and hyphens")
    measured = float(measured)  # a numpy or torch scalar is welcome; the record holds a plain number
    baseline = None if baseline is None else float(baseline)
    spread = None if spread is None else float(spread)
    if not math.isfinite(measured) or (baseline is not None and not math.isfinite(baseline)):
        raise ClaimError(f"{claim_id}: the measured value {measured!r} is not a finite number")
    result, paper_row = _row(paper, metric, row)
    reads.note("dataset", f"paper:{paper}")
    unit, better = result["unit"], result["better"]
    reported_value = float(result["value"])
    reported_baseline = float(result["baseline_value"])
    default = _NEUTRAL_BY_METRIC.get(metric, _NEUTRAL_BY_UNIT.get(unit))
    if reproduces is not None:
        if not criterion:
            raise ClaimError(f"{claim_id}: say how `reproduces` was judged with criterion=")
        verdict = REPRODUCED if reproduces else NOT_REPRODUCED
    else:
        paper_neutral = reported_baseline if not math.isnan(reported_baseline) else default
        toy_neutral = baseline if baseline is not None else default
        if paper_neutral is None or toy_neutral is None:
            raise ClaimError(
                f"{claim_id}: {metric} in {unit} has no neutral point; pass baseline= (the toy's baseline figure) "
                "or judge it yourself with reproduces= and criterion="
            )
        paper_side = _side(reported_value, paper_neutral, better)
        toy_side = _side(measured, toy_neutral, better)
        if spread is not None and abs(measured - toy_neutral) <= spread:
            verdict = INCONCLUSIVE
        else:
            verdict = REPRODUCED if paper_side == toy_side != 0 else NOT_REPRODUCED
        what = (
            "the baseline's own value"
            if baseline is not None
            else f"{toy_neutral:g}{'' if unit == 'x' else ' ' + unit}".strip()
        )
        criterion = criterion or f"same side of {what} as the paper" + (
            f", beyond a spread of {spread:g}" if spread else ""
        )
    return Claim(
        id=claim_id,
        paper=paper,
        metric=metric,
        unit=unit,
        better=better,
        reported={
            "value": reported_value,
            "baseline": result["baseline"],
            "baseline_value": None if math.isnan(reported_baseline) else reported_baseline,
            "precision": result["precision"],
            "setting": result["setting"],
            "where": result["where"],
            "metric_title": result["metric_title"],
        },
        measured={"value": float(measured), "baseline_value": baseline, "spread": spread, "setting": setting},
        verdict=verdict,
        criterion=criterion,
        title=paper_row["title"],
        url=paper_row["url"],
    )


def markdown(claim: Claim) -> str:
    from atlas import tables
    from atlas.book.environment import in_book_build

    mark = {REPRODUCED: "reproduced", NOT_REPRODUCED: "**not** reproduced", INCONCLUSIVE: "inconclusive"}[claim.verdict]
    unit = f" {claim.unit}" if claim.unit not in ("", "x", "%") else claim.unit
    r, m = claim.reported, claim.measured
    who = tables.cite(claim.paper, claim.title, claim.url)
    base = f" against {tables.escape(r['baseline'])}" if r["baseline"] else ""
    if r["baseline_value"] is not None:
        base += f"'s {r['baseline_value']:g}{unit}"
    toy_base = f" against {m['baseline_value']:.3g}{unit}" if m["baseline_value"] is not None else ""
    target = f"({claim.anchor})=\n" if in_book_build() else ""
    return (
        f"{target}**Claim `{claim.id}`**: {who} report {tables.escape(r['metric_title']).lower()} of "
        f"**{r['value']:g}{unit}**{base} ({tables.escape(r['setting'])}; {tables.escape(r['where'])}). "
        f"Measured here: **{m['value']:.3g}{unit}**{toy_base} ({tables.escape(m['setting'])}). "
        f"Direction {mark} (the test: {tables.escape(claim.criterion.rstrip('.'))})."
    )


def record(claim_id: str, **kwargs) -> None:
    """Make the claim and show it; the cell's output carries it to the build's claims ledger."""
    from IPython.display import display

    claim = make(claim_id, **kwargs)
    display({"text/markdown": markdown(claim), MIME: claim.to_json()}, raw=True)


def from_notebook(nb) -> list[dict]:
    """Every claim an executed notebook's outputs carry, with the index of the cell that made it."""
    found = []
    for index, cell in enumerate(nb.get("cells", [])):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            payload = output.get("data", {}).get(MIME)
            if payload is not None:
                found.append({**payload, "cell": index})
    return found


def strip(nb) -> None:
    """Remove the claims' data from a notebook's outputs, once collected; the shown Markdown stays."""
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            output.get("data", {}).pop(MIME, None)
