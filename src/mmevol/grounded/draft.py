"""The grounded generator's draft: one new item under construction.

``Draft`` accumulates the explicit manipulations of an item (``grounding_1(dog) -> bbx_1``,
``referring_1([...]) -> tgt_1``, ``calculate(...) -> res_1``, ``ocr_1(...) -> txt_1``) with the
skills and objects they bring, and emits the item in the reply schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mmevol.geometry import Box, format_box
from mmevol.grounded.words import article, plural


@dataclass
class Draft:
    """A new item under construction: explicit steps, skills, objects and the format."""

    format: str = "open_ended"
    steps: list[dict[str, str]] = field(default_factory=list)
    skills: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    _n: dict[str, int] = field(default_factory=dict)

    def _next(self, kind: str) -> int:
        self._n[kind] = self._n.get(kind, 0) + 1
        return self._n[kind]

    def skill(self, *names: str) -> None:
        for n in names:
            if n not in self.skills:
                self.skills.append(n)

    def obj(self, *names: str) -> None:
        for n in names:
            if n not in self.objects:
                self.objects.append(n)

    def ground(self, phrase: str, box: Box) -> str:
        i = self._next("bbx")
        self.steps.append({"manipulation": f"grounding_{i}({phrase}) -> bbx_{i}",
                           "description": f"The {phrase} is located at {format_box(box)}."})  # fmt: skip
        self.skill("grounding")
        self.obj(phrase)
        return f"bbx_{i}"

    def refer(self, box: Box, what: str) -> str:
        i = self._next("tgt")
        self.steps.append({"manipulation": f"referring_{i}({format_box(box)}) -> tgt_{i}",
                           "description": f"The region {format_box(box)} contains {article(what)} {what}."})  # fmt: skip
        self.skill("referencing")
        return f"tgt_{i}"

    def calc(self, expr: str, description: str) -> str:
        i = self._next("res")
        self.steps.append({"manipulation": f"calculate({expr}) -> res_{i}", "description": description})  # fmt: skip
        self.skill("calculating")
        return f"res_{i}"

    def count(self, category: str, n: int, crowd: bool = False) -> str:
        """A counting step; with ``crowd`` the number is a lower bound (a crowd region exists)."""
        if crowd:
            return self.calc(
                f"count of individually outlined {category}",
                f"individually outlined {plural(category)}: at least {n}, plus a crowd region",
            )
        return self.calc(f"count of {category}", f"number of {plural(category)} = {n}")

    def absent(self, category: str, varied: bool = False) -> str:
        """A counting step that finds nothing (worded as an absence on varied scenes)."""
        if varied:
            return self.calc(f"count of {category}", f"no {category} is annotated, so the count is zero")  # fmt: skip
        return self.calc(f"count of {category}", f"number of {plural(category)} = 0")

    def ocr(self, phrase: str, text: str) -> str:
        i = self._next("txt")
        self.steps.append({"manipulation": f"ocr_{i}({phrase}) -> txt_{i}",
                           "description": f'The text on the {phrase} reads "{text}".'})  # fmt: skip
        self.skill("ocr")
        self.obj(phrase)
        return f"txt_{i}"

    def item(self, source: int, question: str, answer: str) -> dict[str, Any]:
        return {
            "source": source,
            "question": question,
            "answer": answer,
            "objects": list(self.objects),
            "skills": list(self.skills),
            "format": self.format,
            "steps": list(self.steps),
        }
