"""Gradient-check rows as a text (Markdown) table, a LaTeX ``tabular`` and JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import cattrs
import numpy as np

from handprop.tex import escape
from handprop.verify.checks import MAX_TORCH_ABS, GradError

_HEADER = ("Network", "Param", "Size", "Torch max abs", "Torch max rel")
_FD_HEADER = ("FD coords", "FD max abs", "FD max rel")
ZERO_MARK = "*"
ZERO_CELL = "max abs g"


def _cells(rows: Sequence[GradError], number: str) -> list[tuple[str, ...]]:
    """Header and body cells; ``number`` formats a float (``{m}`` mantissa, ``{e}`` exponent)."""

    def fmt(x: float | None) -> str:
        if x is None:
            return "-"
        if x == 0 or not np.isfinite(x):
            return f"{x:g}"
        m, e = f"{x:.1e}".split("e")
        return number.format(m=m, e=int(e))

    with_fd = any(r.fd_count for r in rows)
    table = [_HEADER + (_FD_HEADER if with_fd else ())]
    for i, r in enumerate(rows):
        network = "" if i and rows[i - 1].case == r.case else r.case.label
        cells: tuple[str, ...]
        if r.zero_abs is not None:  # compared absolutely: see zero_note
            zero = f"{ZERO_CELL} {fmt(r.zero_abs)}"
            cells = (network, f"{r.param} {ZERO_MARK}", str(r.size), fmt(r.torch_abs), zero)
            cells += ("0", "-", "-") if with_fd else ()
        else:
            cells = (network, r.param, str(r.size), fmt(r.torch_abs), fmt(r.torch_rel))
            if with_fd:
                cells += (str(r.fd_count) if r.fd_count else "-", fmt(r.fd_abs), fmt(r.fd_rel))
        table.append(cells)
    return table


def zero_note(rows: Sequence[GradError]) -> str | None:
    """The note under a table with zero-gradient rows (None without them)."""
    zeros = [r.zero_abs for r in rows if r.zero_abs is not None]
    if not zeros:
        return None
    return (
        f"{ZERO_MARK} zero in exact arithmetic (cancelled by the batch norm): its relative "
        f"error is meaningless, so max |g| is compared with zero (largest {max(zeros):.1e}, "
        f"tolerance {MAX_TORCH_ABS:g}); no finite differences, the cost does not depend on it"
    )


def to_text(rows: Sequence[GradError]) -> str:
    """Markdown table with padded columns, so it also reads well in a terminal."""
    table = _cells(rows, "{m}e{e:+03d}")
    widths = [max(len(row[j]) for row in table) for j in range(len(table[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in table
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    note = zero_note(rows)
    return "\n".join(lines if note is None else [*lines, "", note])


def _tex_escape(text: str) -> str:
    return escape(text).replace("lam=", r"$\lambda$=")


def to_latex(rows: Sequence[GradError]) -> str:
    """A ``tabular`` fragment (booktabs rules) to place inside a ``table`` environment."""
    header, *body = _cells(rows, r"${m}\times 10^{{{e}}}$")
    spec = "ll" + "r" * (len(header) - 2)
    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
    for r in body:
        cells = [_tex_escape(c) if j < 2 else c for j, c in enumerate(r)]
        cells = [c.replace(ZERO_MARK, r"$^\ast$").replace(ZERO_CELL, r"$\max|g|$") for c in cells]
        lines.append(" & ".join(cells) + r" \\")
    lines.append(r"\bottomrule")
    note = zero_note(rows)
    if note is not None:
        text = escape(note).replace(ZERO_MARK, r"$^\ast$").replace("|g|", r"$|g|$")
        lines.append(
            rf"\multicolumn{{{len(header)}}}{{p{{0.9\linewidth}}}}{{\footnotesize {text}}} \\"
        )
    lines.append(r"\end{tabular}")
    return "\n".join(lines)


def to_json(rows: Sequence[GradError], **settings: Any) -> str:
    """``{"settings": settings, "rows": [...]}``: every record as a plain dict."""
    return json.dumps({"settings": settings, "rows": cattrs.unstructure(list(rows))}, indent=2)


def from_json(text: str) -> tuple[GradError, ...]:
    """The records of a :func:`to_json` document."""
    return tuple(cattrs.structure(json.loads(text)["rows"], list[GradError]))
