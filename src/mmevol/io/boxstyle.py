"""How boxes inside exported text are written for the target model (``--boxes``).

A run writes boxes in text the project's way (docs/ARCHITECTURE.md, "The call contract"):
``[x1, y1, x2, y2]`` normalised to 0..1 with three decimals. An export can rewrite every such
box in the text it writes (questions, answers, step manipulations and descriptions, seed
captions and items, and an imported record's own text) in one of the ``BOX_STYLES``:

* ``norm``: left as the run wrote it (the default; nothing is rewritten);
* ``qwen``: integers 0..1000, ``[x1, y1, x2, y2]``: the scale Qwen-VL and Qwen2-VL were
  trained on (wrap them in the model's box tokens in the chat template if it wants them);
* ``pixel``: integer pixel coordinates of the image, which needs its width and height (the
  ``ImageRef`` records them; else the file is read).

Only a bracketed group of four numbers that is a normalised box (``geometry.is_normalised``:
all in 0..1, ``x1 < x2``, ``y1 < y2``) is rewritten; other bracketed numbers (``[1, 2, 3,
4]``, an empty box, a list of five) are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmevol.errors import ConfigError, InputError
from mmevol.geometry import BOX_RE, Box, as_box, is_normalised
from mmevol.io.images import image_ref
from mmevol.schema import QA, ImageRef, Sample, Seed

Size = tuple[int, int]


def _scaled(box: Box, width: int, height: int) -> str:
    """The box in integers of a ``width`` x ``height`` grid, ``[x1, y1, x2, y2]``."""
    x1, y1, x2, y2 = box
    xs = [min(width, max(0, round(v * width))) for v in (x1, x2)]
    ys = [min(height, max(0, round(v * height))) for v in (y1, y2)]
    return f"[{xs[0]}, {ys[0]}, {xs[1]}, {ys[1]}]"


@dataclass(frozen=True)
class BoxStyle:
    """One way of writing a normalised box: ``write(box, size)`` (None: leave text as it is)
    and whether it needs the image's size."""

    summary: str
    write: Callable[[Box, Size | None], str] | None
    needs_size: bool = False


BOX_STYLES: dict[str, BoxStyle] = {
    "norm": BoxStyle("normalised 0-1, three decimals, as the run wrote them", None),
    "qwen": BoxStyle("integers 0-1000 (Qwen-VL / Qwen2-VL)", lambda b, _: _scaled(b, 1000, 1000)),
    "pixel": BoxStyle(
        "integer pixels of the image",
        lambda b, size: _scaled(b, *(size or (1, 1))),
        needs_size=True,
    ),
}


def restyle_text(text: str, style: str, size: Callable[[], Size] | None = None) -> str:
    """``text`` with every normalised box written in ``style``. ``size``: called (once a box is
    found) for the image's (width, height) when the style needs it."""
    st = BOX_STYLES[style]
    write = st.write
    if write is None or "[" not in text:
        return text

    def sub(m: Any) -> str:
        box = as_box([float(g) for g in m.groups()])
        if not is_normalised(box):
            return str(m.group(0))
        return write(box, size() if st.needs_size and size is not None else None)

    return BOX_RE.sub(sub, text)


def _deep(value: Any, fix: Callable[[str], str]) -> Any:
    """Every string inside a JSON-like value passed through ``fix``."""
    if isinstance(value, str):
        return fix(value)
    if isinstance(value, list):
        return [_deep(v, fix) for v in value]
    if isinstance(value, dict):
        return {k: _deep(v, fix) for k, v in value.items()}
    return value


class Restyler:
    """Rewrites the boxes in samples' and seeds' text in one style; image sizes that are not
    recorded are read from the files once, and an image of unknown size is a one-line error."""

    def __init__(self, style: str) -> None:
        if style not in BOX_STYLES:
            raise ConfigError(
                f"--boxes: unknown style {style!r}; use one of {', '.join(BOX_STYLES)}"
            )
        self.style = style
        self.active = BOX_STYLES[style].write is not None
        self._sizes: dict[str, Size] = {}

    def _size(self, ref: ImageRef) -> Callable[[], Size]:
        def size() -> Size:
            if ref.width and ref.height:
                return (ref.width, ref.height)
            if ref.path not in self._sizes:
                try:
                    probed = image_ref(Path(ref.path))
                except InputError as exc:
                    raise ConfigError(
                        f"--boxes {self.style}: the size of image {ref.path} is not known "
                        f"({exc.problem}); use --boxes norm or qwen, or --missing-images skip"
                    ) from exc
                self._sizes[ref.path] = (probed.width or 1, probed.height or 1)
            return self._sizes[ref.path]

        return size

    def qa(self, qa: QA, ref: ImageRef) -> QA:
        """The item with its text restyled (an imported item's original dict too)."""
        if not self.active:
            return qa
        size = self._size(ref)

        def fix(t: str) -> str:
            return restyle_text(t, self.style, size)

        steps = [s.model_copy(update={"manipulation": fix(s.manipulation),
                                      "description": fix(s.description)}) for s in qa.steps]  # fmt: skip
        original = _deep(qa.original, fix) if qa.original is not None else None
        return qa.model_copy(update={"question": fix(qa.question), "answer": fix(qa.answer),
                                     "steps": steps, "original": original})  # fmt: skip

    def sample(self, s: Sample) -> Sample:
        """The sample with its item's text restyled."""
        return s if not self.active else s.model_copy(update={"qa": self.qa(s.qa, s.image)})

    def seed(self, seed: Seed) -> Seed:
        """The seed with its captions, items and imported record's text restyled."""
        if not self.active:
            return seed
        size = self._size(seed.image)

        def fix(t: str) -> str:
            return restyle_text(t, self.style, size)

        return seed.model_copy(update={
            "captions": [fix(c) for c in seed.captions],
            "items": [self.qa(q, seed.image) for q in seed.items],
            "source_record": _deep(seed.source_record, fix),
        })  # fmt: skip
