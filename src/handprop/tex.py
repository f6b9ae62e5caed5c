"""LaTeX text helpers shared by the gradient-check tables and the report."""

from __future__ import annotations


def escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    out = text.replace("\\", r"\textbackslash{}")
    for char in "&%$#_{}":
        out = out.replace(char, "\\" + char)
    return out.replace("~", r"\textasciitilde{}").replace("^", r"\textasciicircum{}")
