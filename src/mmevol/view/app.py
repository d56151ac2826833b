"""The viewer's web application: ``create_app(run_dir)`` and its routes.

This module owns HTTP: the HTML pages (list ``/``, sample ``/sample/{id}``), the review form
post, the JSON API (``GET /api/samples``, ``GET /api/sample/{id}``, ``POST /api/review/{id}``),
image and stylesheet serving, and the safety headers. Pages are rendered server side from the
Jinja templates shipped in ``mmevol/view/templates`` with autoescaping always on, and a content
security policy that allows no script at all. Before any route, ``guard`` refuses (403) a
request whose Host is not this server's (DNS rebinding) and a write from another origin, so a
web page elsewhere can neither read the run nor submit reviews through the user's browser;
responses may not be embedded by other origins (``Cross-Origin-Resource-Policy``). Bodies,
parameters and image requests are bounded and checked in ``params``, ``images`` and ``thumbs``.
Nothing from the environment is ever rendered.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader

from mmevol.reviews import REVIEWS_FILE, ReviewError, ReviewStore
from mmevol.view.detail import lineage_tree, overlay
from mmevol.view.guard import HostGuard
from mmevol.view.images import ImageLibrary, Refused
from mmevol.view.params import (
    MAX_JSON,
    BodyTooLarge,
    filters_from_query,
    parse_filters,
    parse_form,
    parse_page,
    parse_review_json,
    query_string,
    read_body,
    review_url,
    sample_url,
)
from mmevol.view.query import REVIEW_STATES, SampleIndex
from mmevol.view.thumbs import WIDTHS, Thumbnailer, ThumbnailError

CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SAFETY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make our own posts Origin: null
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}
MAX_ID = 1000
IMAGE_CACHE = {"Cache-Control": "private, max-age=300"}


def _run_summary(run_dir: Path) -> dict[str, Any]:
    """The few config facts the header shows (no keys exist there; none of env is read)."""
    try:
        record = json.loads((run_dir / "config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    cfg = record.get("config", {}) if isinstance(record, dict) else {}
    backend = record.get("backend", {}) if isinstance(record, dict) else {}
    return {
        "backend": backend.get("backend") or cfg.get("backend"),
        "model": backend.get("model") or cfg.get("model"),
        "rounds": cfg.get("rounds"),
    }


def _snippet(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def create_app(
    run_dir: Path, *, host: str | None = None, thumbnailer: Thumbnailer | None = None
) -> FastAPI:
    """The viewer of one run directory (``run.sqlite`` must exist); ``host`` is the address it
    is served on (``--host``), answered to besides the loopback names."""
    run_dir = Path(run_dir)
    if not (run_dir / "run.sqlite").is_file():
        raise FileNotFoundError(f"{run_dir}: not a run directory (no run.sqlite)")
    index = SampleIndex(run_dir / "run.sqlite", run_dir / REVIEWS_FILE)  # refuses newer first
    reviews = ReviewStore(run_dir)
    library = ImageLibrary(run_dir / "seeds.jsonl")
    thumbs = thumbnailer if thumbnailer is not None else Thumbnailer()
    guard = HostGuard(host)
    summary = _run_summary(run_dir)
    env = Environment(loader=PackageLoader("mmevol.view", "templates"), autoescape=True)
    env.filters["snippet"] = _snippet
    env.globals.update(
        sample_url=sample_url,
        review_url=review_url,
        run_name="/".join(run_dir.resolve().parts[-2:]),
        run=summary,
    )
    css = resources.files("mmevol.view").joinpath("static/view.css").read_bytes()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        index.close()
        reviews.close()

    app = FastAPI(
        title="mmevol view", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.reviews, app.state.index, app.state.library = reviews, index, library
    app.state.thumbs, app.state.guard = thumbs, guard

    @app.middleware("http")
    async def checks(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        host = guard.host(request)
        if host is None:
            response: Response = JSONResponse(
                {"detail": "refused: the Host header names no address this viewer serves"},
                status_code=403,
            )
        elif request.method not in ("GET", "HEAD") and not guard.same_origin(request, host):
            response = JSONResponse({"detail": "cross-origin request refused"}, status_code=403)
        else:
            response = await call_next(request)
        for key, value in SAFETY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    def render(name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**ctx), status_code=status)

    def error_page(status: int, title: str, message: str, back: str | None = None) -> HTMLResponse:
        return render("error.html", status, title=title, message=message, back=back)

    @app.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
    def list_page(request: Request) -> HTMLResponse:
        filters = parse_filters(request.query_params)
        page = index.page(filters, parse_page(request.query_params))
        return render(
            "list.html",
            page=page,
            filters=filters,
            facets=index.facets(),
            review_counts=reviews.counts(),
            review_states=REVIEW_STATES,
            locate=library.locate,
            qs=lambda **kw: query_string(filters, **kw),
        )

    @app.get("/sample/{sample_id:path}", response_class=HTMLResponse)
    def sample_page(request: Request, sample_id: str) -> HTMLResponse:
        sample = index.get(sample_id) if len(sample_id) <= MAX_ID else None
        if sample is None:
            return error_page(
                404, "No such sample", f"There is no sample {sample_id[:200]!r} in this run."
            )
        filters = parse_filters(request.query_params)
        ancestors = index.ancestors(sample)
        descendants = index.descendants(sample.id)
        ids = [sample.id, *(a.id for a in ancestors), *(d.id for _, d in descendants)]
        current = reviews.latest_many(ids)
        seed = library.seed(sample.seed_id)
        saved = request.query_params.get("saved")
        return render(
            "sample.html",
            sample=sample,
            seed=seed,
            image=library.locate(sample.image),
            overlay=overlay(sample, seed),
            tree=lineage_tree(sample, ancestors, descendants, current),
            review=current.get(sample.id),
            history=reviews.history(sample.id),
            back=query_string(filters),
            prev_id=index.neighbour(filters, sample.id, after=False),
            next_id=index.neighbour(filters, sample.id, after=True),
            filters=filters,
            saved=saved if saved in ("accept", "reject", "edit") else None,
        )

    def known(sample_id: str) -> bool:
        return len(sample_id) <= MAX_ID and index.get(sample_id) is not None

    @app.post("/review/{sample_id:path}")
    async def review_form(request: Request, sample_id: str) -> Response:
        if not known(sample_id):
            return error_page(
                404, "No such sample", f"There is no sample {sample_id!r} in this run."
            )
        try:
            form = parse_form(await read_body(request))
            reviews.add(
                sample_id,
                form.get("action", ""),
                question=form.get("question"),
                answer=form.get("answer"),
                note=form.get("note", ""),
            )
        except BodyTooLarge as exc:
            return error_page(413, "Review not saved", str(exc), sample_url(sample_id))
        except (ReviewError, ValueError) as exc:
            return error_page(400, "Review not saved", str(exc), sample_url(sample_id))
        filters = filters_from_query(form.get("back", ""))
        target = sample_url(sample_id, filters)
        target += ("&" if "?" in target else "?") + f"saved={form.get('action')}"
        return RedirectResponse(target, status_code=303)

    @app.get("/api/samples")
    def api_samples(request: Request) -> dict[str, Any]:
        filters = parse_filters(request.query_params)
        page = index.page(filters, parse_page(request.query_params))
        return {
            "total": page.total,
            "page": page.page,
            "pages": page.pages,
            "samples": [
                {**r.sample.model_dump(mode="json", exclude_none=True), "review": r.review}
                for r in page.rows
            ],
        }

    @app.get("/api/sample/{sample_id:path}")
    def api_sample(sample_id: str) -> dict[str, Any]:
        sample = index.get(sample_id) if len(sample_id) <= MAX_ID else None
        if sample is None:
            raise HTTPException(404, "no such sample")
        return {
            "sample": sample.model_dump(mode="json", exclude_none=True),
            "review": (r.as_json() if (r := reviews.latest(sample_id)) else None),
            "history": [r.as_json() for r in reviews.history(sample_id)],
        }

    @app.post("/api/review/{sample_id:path}")
    async def api_review(request: Request, sample_id: str) -> dict[str, Any]:
        if not known(sample_id):
            raise HTTPException(404, "no such sample")
        try:
            fields = parse_review_json(await read_body(request, MAX_JSON))
        except BodyTooLarge as exc:
            raise HTTPException(413, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        try:
            review = reviews.add(
                sample_id,
                fields["action"] or "",
                question=fields["question"],
                answer=fields["answer"],
                note=fields["note"] or "",
            )
        except ReviewError as exc:
            raise HTTPException(400, str(exc)) from None
        return review.as_json()

    @app.get("/image/{number}/{name:path}")
    def image(request: Request, number: int, name: str) -> Response:
        widths = request.query_params.getlist("w")
        if len(widths) > 1 or (widths and widths[0] not in map(str, WIDTHS)):
            raise HTTPException(400, f"w must be one of {', '.join(map(str, WIDTHS))}")
        try:
            served = library.resolve(number, name)
        except Refused as exc:
            raise HTTPException(exc.status, str(exc)) from None
        if widths:
            try:
                data = thumbs.get(served, int(widths[0]))
            except ThumbnailError as exc:
                raise HTTPException(exc.status, str(exc)) from None
            return Response(data, media_type="image/jpeg", headers=IMAGE_CACHE)
        return FileResponse(served.path, media_type=served.media_type, headers=IMAGE_CACHE)

    @app.get("/static/view.css")
    def stylesheet() -> Response:
        return Response(css, media_type="text/css")

    return app
