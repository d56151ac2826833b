"""Running the viewer: check the run directory, build the app, print the URL, serve it.

This module owns the process side of ``mmevol view``: it refuses a folder that is not a run
directory with a one-line error, says clearly when the optional web dependencies are missing,
binds the loopback address unless told otherwise, tells the app which address it serves (so its
Host check also answers to ``--host``), and runs uvicorn in the foreground.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from mmevol.errors import MmevolError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_run_dir(run_dir: Path) -> None:
    if not (run_dir / "run.sqlite").is_file():
        raise MmevolError(f"{run_dir}: not a run directory (no run.sqlite)")


def url_for(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve(
    run_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    say: Callable[[str], None] = print,
) -> None:
    """Serve the viewer of ``run_dir`` until interrupted."""
    check_run_dir(run_dir)
    try:
        import uvicorn

        from mmevol.view.app import create_app
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise MmevolError(
            f"mmevol view needs the web extra ({exc.name} is missing): pip install 'mmevol[web]'"
        ) from None
    app = create_app(run_dir, host=host)
    if host not in LOOPBACK:
        say(f"warning: serving on {host}; anyone who can reach it can read and review this run")
    say(f"mmevol view: {run_dir} at {url_for(host, port)}  (Ctrl+C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
