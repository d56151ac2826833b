"""The ``mmevol`` command: ``app`` with every command group registered.

``app`` (consoles, one-line errors) is in ``cli.app``; each group is a module here that
registers itself on import: ``weights``, ``select``, ``evolve``, ``runs`` (stats, export, view,
import, report, demo), ``loop``, ``fake_server``, ``train``, ``seeds`` and ``prompts`` (imported
in the order ``mmevol --help`` lists them). ``python -m mmevol.cli`` runs it too.
"""

# isort: skip_file
from mmevol.cli.app import app
from mmevol.cli import weights, select, evolve, runs, loop, fake_server, train, seeds, prompts

__all__ = [
    "app", "evolve", "fake_server", "loop", "prompts", "runs", "seeds", "select", "train", "weights",
]  # fmt: skip
