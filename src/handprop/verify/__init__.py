"""Gradient verification: the checks (:mod:`~handprop.verify.checks`), what they run on
(:mod:`~handprop.verify.sampling`) and their tables (:mod:`~handprop.verify.render`).

Typical use: ``rows = gradcheck_table(cases, X, y, fd_coords=50)``, then
``failures(rows)``, ``to_text(rows)``, ``to_latex(rows)`` or ``to_json(rows)``.
"""

from handprop.verify.checks import (
    FD_STEP,
    MAX_FD_REL,
    MAX_TORCH_ABS,
    MIN_FD_STEP,
    REL_EPS,
    CheckCase,
    GradError,
    check_gradients,
    failures,
    finite_differences,
    gradcheck_table,
    max_errors,
    torch_gradients,
)
from handprop.verify.render import from_json, to_json, to_latex, to_text
from handprop.verify.sampling import fixed_masks, random_rows, real_rows, sample_coords

__all__ = [
    "FD_STEP",
    "MAX_FD_REL",
    "MAX_TORCH_ABS",
    "MIN_FD_STEP",
    "REL_EPS",
    "CheckCase",
    "GradError",
    "check_gradients",
    "failures",
    "finite_differences",
    "fixed_masks",
    "from_json",
    "gradcheck_table",
    "max_errors",
    "random_rows",
    "real_rows",
    "sample_coords",
    "to_json",
    "to_latex",
    "to_text",
    "torch_gradients",
]
