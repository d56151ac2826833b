"""Connecting the driver to Ray: a local instance or an existing cluster, offline and quiet.

Owns the import guard (``--engine ray`` without the extra is a one-line error), the settings
that keep Ray from reaching the network (no usage stats, no dashboard) and from printing
progress bars over the run's own display, and the session's lifetime: a session this process
started or joined is shut down when the run ends; one that was already open (a test, a
notebook) is left as it was.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from mmevol.errors import MmevolError

QUIET_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",  # no usage report sent anywhere
    "RAY_DISABLE_IMPORT_WARNING": "1",
}


def require_ray() -> ModuleType:
    """Import ray, or stop with the one line that says how to install it."""
    try:
        import ray
        import ray.data  # the runner needs Ray Data too
    except ImportError:
        raise MmevolError(
            "--engine ray needs Ray, which is not installed: pip install 'mmevol[ray]'"
        ) from None
    return ray


def quiet_data_context() -> None:
    """No progress bars or per-dataset log banners from Ray Data in the driver's output."""
    import ray.data

    ctx = ray.data.DataContext.get_current()
    for flag in ("enable_progress_bars", "enable_operator_progress_bars"):
        if hasattr(ctx, flag):
            setattr(ctx, flag, False)
    if hasattr(ctx, "print_on_execution_start"):
        ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast, in one line, when a ``host:port`` address has nothing listening (Ray itself
    would retry for minutes). ``auto`` and ``ray://`` addresses are left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise MmevolError(
            f"--ray-address {address}: no Ray cluster answers there ({exc.strerror or exc});"
            " start one with `ray start --head` or fix the address"
        ) from None


def _has_token() -> bool:
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return True
    return (Path.home() / ".ray" / "auth_token").is_file()


@contextlib.contextmanager
def ray_session(address: str | None, *, num_cpus: int | None = None) -> Iterator[Any]:
    """Yield the ``ray`` module connected to ``address`` (None: start a local instance)."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    joins_by_address = bool(address) and address != "auto" and "://" not in str(address)
    if joins_by_address and "RAY_AUTH_MODE" not in os.environ and _has_token():
        # a cluster from `ray start` uses token auth when a token exists; a driver that joins
        # by host:port sends the token only in token mode, read when ray is first imported
        # (``auto`` works this out by itself)
        os.environ["RAY_AUTH_MODE"] = "token"
    ray = require_ray()
    if ray.is_initialized():
        quiet_data_context()
        yield ray
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if address:
        check_reachable(address)
        kwargs["address"] = address
    elif num_cpus is not None:
        kwargs["num_cpus"] = num_cpus
    try:
        ray.init(**kwargs, logging_level=logging.ERROR)
    except ConnectionError as exc:
        raise MmevolError(f"--ray-address {address}: cannot connect to Ray ({exc})") from None
    try:
        quiet_data_context()
        yield ray
    finally:
        ray.shutdown()
