"""Modules imported at their first use.

Every command imports the `validation` package, whose `stats` needs Polars; importing Polars
takes about 160 ms, which `validate`, `render`, `templates` and the rest would pay for nothing.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for module `name`, imported when an attribute is first read.

    Example:
        >>> json = LazyModule("json")
        >>> json.dumps([1])
        '[1]'
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)
