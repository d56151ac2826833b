"""mmevol: evolve image-instruction data (MMEvol) and close the loop (MLLM-DataEngine).

The Python API (``Run``, ``build_seeds``, ``demo_seeds``, ``evolve``, ``export``,
``register_direction``) lives in ``mmevol.api``; its names are loaded from there by name on
first use, so ``import mmevol`` stays light and the package root imports no room above it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "Run",
    "SeedSet",
    "__version__",
    "build_seeds",
    "demo_seeds",
    "evolve",
    "export",
    "register_direction",
]
API = frozenset(__all__) - {"__version__"}

if TYPE_CHECKING:
    from mmevol.api import (
        Run,
        SeedSet,
        build_seeds,
        demo_seeds,
        evolve,
        export,
        register_direction,
    )


def __getattr__(name: str) -> Any:
    if name in API:
        return getattr(importlib.import_module("mmevol.api"), name)
    raise AttributeError(f"module 'mmevol' has no attribute {name!r}")
