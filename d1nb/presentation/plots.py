"""Matplotlib figures for the notebooks and reports; each returns a Figure, never shows it.

Figures are built as `matplotlib.figure.Figure` objects, not through pyplot, so nothing is
shown twice in a notebook and no display is needed anywhere else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from d1nb.inputs.history import ENV_RANK, History, status_frame
from d1nb.text import Note

_ENV_MARKERS = {"default": "o", "local": "o", "staging": "s", "production": "D"}


def applied_timeline(history: History) -> Figure | Note:
    """When each migration was applied, one lane per service and environment."""
    status = status_frame(history)
    applied = status[status["applied_at"].notna()].copy()
    if applied.empty:
        return Note("No ledger records when a migration was applied: nothing to draw.")
    applied["when"] = pd.to_datetime(applied["applied_at"], errors="coerce")
    lanes = sorted(
        {(s, e) for s, e in zip(applied["service"], applied["environment"], strict=True)},
        key=lambda k: (k[0], ENV_RANK.get(k[1], 3)),
    )
    fig = Figure(figsize=(10, 0.5 * len(lanes) + 1.5))
    ax = fig.subplots()
    for y, (service, env) in enumerate(lanes):
        lane = applied[(applied["service"] == service) & (applied["environment"] == env)]
        ok = lane[
            ~(
                lane["out_of_order"]
                | (lane["progression"] != "")
                | lane["modified_after_apply"]
                | (lane["status"] != "applied")
            )
        ]
        bad = lane.drop(ok.index)
        marker = _ENV_MARKERS.get(env, "o")
        ax.scatter(ok["when"], [y] * len(ok), marker=marker, color="#4C72B0", s=28, zorder=3)
        ax.scatter(bad["when"], [y] * len(bad), marker=marker, color="#C44E52", s=46, zorder=4)
    ax.set_yticks(range(len(lanes)), [f"{s} · {e}" for s, e in lanes])
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlabel("applied_at (UTC)")
    ax.set_title("Migrations applied per service and environment (red: drift finding)")
    fig.autofmt_xdate()
    fig.set_layout_engine("tight")
    return fig


def transitions_bar(transitions: pd.DataFrame, title: str) -> Figure | Note:
    """Horizontal bars: rows per before → after transition (a transitions frame)."""
    if transitions.empty:  # say which: a figure of JSON paths is empty when only whole values moved
        return Note(f"No transition for “{title}”: nothing to draw.")
    frame = transitions.iloc[::-1]
    labels = [
        f"{p + ': ' if p else ''}{b} → {a}"
        for p, b, a in zip(frame["path"], frame["before"], frame["after"], strict=True)
    ]
    fig = Figure(figsize=(9, 0.32 * len(frame) + 1.2))
    ax = fig.subplots()
    ax.barh(range(len(frame)), frame["rows"], color="#4C72B0")
    ax.set_yticks(range(len(frame)), [t if len(t) <= 60 else t[:59] + "…" for t in labels])
    for y, n in enumerate(frame["rows"]):
        ax.text(n, y, f" {n}", va="center", fontsize=8)
    ax.set_xlabel("rows")
    ax.set_title(title)
    fig.set_layout_engine("tight")
    return fig


def batch_curve(plan) -> Figure | Note:
    """Measured batch time against batch size (log axes: sizes span decades), the fitted line,
    the budget, the recommendation and Cloudflare's fixed 1,000 and 10,000."""
    if plan is None:
        return Note("No statement was planned: nothing to draw.")
    frame = plan.measurements
    fig = Figure(figsize=(9, 4.5))
    ax = fig.subplots()
    ax.scatter(frame["rows"], frame["ms"], s=14, color="#4C72B0", alpha=0.7, label="measured")
    low = max(1, int(frame["rows"].min()) // 2)
    top = max(int(frame["rows"].max()), plan.recommended, 10_000) * 1.5
    xs = np.geomspace(low, top, 200)
    ax.plot(
        xs,
        plan.intercept_ms + plan.ms_per_row * xs,
        color="#4C72B0",
        label=f"fit: {plan.intercept_ms:.2f} ms + {plan.ms_per_row * 1000:.2f} µs/row "
        f"(R² {plan.r_squared:.3f})",
    )
    ax.plot(
        xs,
        [plan.predicted_p95_ms(x) for x in xs],
        color="#4C72B0",
        linestyle="--",
        label="predicted p95",
    )
    ax.axhline(plan.budget_ms, color="#C44E52", label=f"budget {plan.budget_ms:,.0f} ms")
    ax.axhline(
        plan.budget_ms * (1 - plan.margin),
        color="#C44E52",
        linestyle=":",
        label="budget with margin",
    )
    ax.axvline(plan.recommended, color="#55A868", label=f"recommended {plan.recommended:,} rows")
    for size in (1_000, 10_000):
        ax.axvline(size, color="grey", linestyle=":", linewidth=1)
        ax.annotate(
            f"{size:,}",
            (size, 1),
            xycoords=("data", "axes fraction"),
            fontsize=8,
            color="grey",
            ha="left",
            va="top",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows per batch (log)")
    ax.set_ylabel("ms per batch (log)")
    ax.set_title(f"Batch time on {plan.table} ({plan.rows:,} rows to change)")
    ax.legend(fontsize=8, loc="upper left")
    fig.set_layout_engine("tight")
    return fig


def column_changes_bar(
    columns: pd.DataFrame, title: str = "Changed values per column"
) -> Figure | Note:
    """Per column with any change: values changed, NULLs gained and lost (a Diff's
    column_summary)."""
    counts = ["changed", "nulls_gained", "nulls_lost"]
    frame = columns[columns["present"] == "both"].copy()
    frame[counts] = frame[counts].fillna(0).astype(int)
    frame = frame[frame[counts].sum(axis=1) > 0]
    if frame.empty:
        return Note("No column of a table on both sides changed: nothing to draw.")
    labels = (frame["table"] + "." + frame["column"]).tolist()
    fig = Figure(figsize=(8, 0.45 * max(len(labels), 1) + 1.4))
    ax = fig.subplots()
    height = 0.27
    colours = {"changed": "#4C72B0", "nulls_gained": "#C44E52", "nulls_lost": "#55A868"}
    for i, name in enumerate(counts):
        ys = [y + (i - 1) * height for y in range(len(labels))]
        ax.barh(ys, frame[name], height=height, color=colours[name], label=name.replace("_", " "))
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("rows")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def distribution_bars(values: pd.DataFrame, title: str | None = None) -> Figure | Note:
    """Rows per value before and after, side by side (a Diff's value_distribution); the
    title defaults to the column it counted."""
    if values.empty:
        return Note("No value to count: nothing to draw.")
    title = title or f"{values.attrs.get('column', 'values')}: rows per value"
    fig = Figure(figsize=(9, 0.38 * len(values) + 1.4))
    ax = fig.subplots()
    ys = range(len(values))
    ax.barh([y - 0.2 for y in ys], values["before"], height=0.4, color="#8C8C8C", label="before")
    ax.barh([y + 0.2 for y in ys], values["after"], height=0.4, color="#4C72B0", label="after")
    ax.set_yticks(list(ys), [str(v) for v in values["value"]])
    ax.invert_yaxis()
    ax.set_xlabel("rows")
    ax.set_title(title)
    if len(values):
        ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig
