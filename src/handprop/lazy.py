"""Package names imported from their home modules on first use (PEP 562), so importing a
package imports none of its contents."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(namespace: dict[str, Any], homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of the module whose globals are ``namespace``: a name of
    ``homes`` is imported from the module ``homes[name]``, bound in ``namespace`` (later
    look-ups find it there) and returned; any other name is an AttributeError."""

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(homes[name]), name)
        namespace[name] = value
        return value

    return __getattr__
