"""Evolution: the engine (rounds, lineage, resume), reply parsing, normalisation, elimination, dedup.

``from mmevol import evolve`` names this package once any part of it is loaded (Python sets a
package's submodules as its attributes), so the package is callable: ``evolve(seeds, out=...)``
runs ``mmevol.api.evolve``, loaded by name (the API is a room above this one).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class _CallableRoom(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return importlib.import_module("mmevol.api").evolve(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableRoom
