"""``mmevol view``: a local web app for browsing a run directory and reviewing its samples.

The package is split by concern: ``app`` (routes, pages, safety headers), ``guard`` (the Host
and same-origin checks every request passes first), ``query`` (the read side of
``run.sqlite``), ``reviews`` (the ``reviews.sqlite`` journal; no web imports, so the exporter
can use it without the ``web`` extra), ``images`` (seeds, the table of referenced image files,
safe serving), ``thumbs`` (bounded thumbnail decoding and its cache), ``detail`` (box overlay
and lineage tree), ``params`` (URL, form and JSON body parsing) and ``serve`` (running it under
uvicorn). ``create_app`` is imported lazily so that importing
``mmevol.reviews`` does not need FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmevol.view.app import create_app as create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from mmevol.view.app import create_app

        return create_app
    raise AttributeError(name)
