"""``python -m mmevol.cli``: the ``mmevol`` command."""

from mmevol.cli import app

app()
