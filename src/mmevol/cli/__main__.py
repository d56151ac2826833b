"""``python -m mmevol.cli``: the ``mmevol`` command."""

from mmevol.cli import app

if __name__ == "__main__":
    app()
