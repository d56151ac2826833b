"""The adversary's number kinds: counts, comparisons of counts, arithmetic and box areas.

Lies told here: a wrong count of an annotated category; an exact count for a category with a
crowd region (whose count is only a lower bound); a counting list that leaves an instance out
or smuggles in another object's box; "more X than Y" inverted; a calculate step whose
arithmetic is wrong.
"""

from __future__ import annotations

import random

from mmevol.testing.adversary_scene import (
    Draft,
    Scene,
    fmt_box,
    iou,
    is_are,
    kind,
    num,
    plural,
    step,
)


def count_cats(scene: Scene, lo: int = 1, hi: int = 12) -> list[str]:
    return [c for c in scene.exact_cats() if lo <= scene.counts[c] <= hi]


def wrong_n(n: int, rng: random.Random) -> int:
    return rng.choice([m for m in (n + 1, n + 2, n - 1, 2 * n) if m >= 1 and m != n])


def count_claim(cat: str, n: int, mode: str = "exact") -> dict[str, object]:
    return {"type": "count", "category": cat, "n": n, "mode": mode}


@kind("wrong_count")
def wrong_count(scene: Scene, rng: random.Random, lie: bool, direction: str) -> Draft | None:
    cats = count_cats(scene)
    if not cats:
        return None
    cat = rng.choice(cats)
    n = scene.counts[cat]
    said = wrong_n(n, rng) if lie else n
    w = rng.random() < 0.5
    many = plural(cat, said)
    lie_text = f"counts {said} {plural(cat)}; {n} are annotated" if lie else ""
    claims = [count_claim(cat, said)]
    if direction == "reasoning":
        steps = [
            step(f"grounding_1({plural(cat)}) -> bbx_1", f"Find every {cat} in the image."),
            step(
                "calculate(count(bbx_1)) -> res_1", f"The number of {plural(cat)} found is {said}."
            ),
        ]
        qt = f"How many {plural(cat)} does the picture contain? Count them step by step."
        return Draft(
            qt,
            f"There {is_are(said)} {num(said, w)} {many}.",
            [cat],
            ["calculating", "grounding"],
            "step_by_step",
            steps,
            claims,
            lie_text,
        )
    if direction == "interactive":
        qt = f"Fill in the blank from the image: there {is_are(2)} ____ {plural(cat)} in the scene."
        return Draft(
            qt, num(said, w), [cat], ["calculating"], "fill_in_blank", [], claims, lie_text
        )
    qt = rng.choice(
        [
            f"How many {plural(cat)} are visible in this image?",
            f"Count the {plural(cat)} in the photo. How many are there?",
            f"What is the number of {plural(cat)} shown in the picture?",
            f"Tell me how many {plural(cat)} appear in this scene.",
        ]
    )
    ans = rng.choice(
        [
            f"There {is_are(said)} {num(said, w)} {many}.",
            f"{num(said, w).capitalize()}.",
            f"I can count {num(said, w)} {many} in the picture.",
            f"The image shows {num(said, w)} {many}.",
            f"{num(said, w).capitalize()} {many} {is_are(said)} visible.",
        ]
    )
    return Draft(qt, ans, [cat], ["calculating"], "short_answer", [], claims, lie_text)


@kind("crowd_exact_count")
def crowd_exact_count(scene: Scene, rng: random.Random, lie: bool, direction: str) -> Draft | None:
    cats = [c for c in sorted(scene.crowd_cats) if scene.counts[c] >= 1]
    if not cats:
        return None
    cat = rng.choice(cats)
    n = scene.counts[cat]
    many = plural(cat)
    if lie:
        said = rng.choice([n, max(1, n - 1), n])
        claims = [count_claim(cat, said)]
        ans = rng.choice(
            [
                f"There are exactly {num(said, True)} {plural(cat, said)}.",
                f"Exactly {said} {plural(cat, said)} can be counted.",
            ]
        )
        lie_text = f"gives an exact count {said} although a crowd of {many} is annotated"
    else:
        claims = [count_claim(cat, n, "at_least")]
        ans = rng.choice(
            [
                f"At least {num(n, True)} {plural(cat, n)}, and a crowd of more behind them.",
                f"There are at least {n} {plural(cat, n)}; the crowd makes an exact count"
                " impossible.",
            ]
        )
        lie_text = ""
    qt = rng.choice([f"How many {many} appear in this image?", f"Count the {many} in the photo."])
    steps = []
    if direction == "reasoning":
        steps = [
            step(
                f"calculate(count({cat})) -> res_1",
                f"Counting the {many} one by one gives {ans.lower()}",
            )
        ]
    fmt = "counting_list" if direction == "interactive" else "short_answer"
    return Draft(qt, ans, [cat], ["calculating"], fmt, steps, claims, lie_text)


@kind("counting_list_error")
def counting_list_error(
    scene: Scene, rng: random.Random, lie: bool, direction: str
) -> Draft | None:
    cats = count_cats(scene, 2, 6)
    if not cats:
        return None
    cat = rng.choice(cats)
    boxes = [t.box for t in scene.boxed if t.category == cat and t.box is not None]
    others = [
        t
        for t in scene.boxed
        if t.category != cat and t.box and all(iou(t.box, b) < 0.3 for b in boxes)
    ]
    listed = list(boxes)
    claims: list[dict[str, object]] = []
    lie_text = ""
    if lie and others and rng.random() < 0.5:
        extra = rng.choice(others)
        assert extra.box is not None
        listed.insert(rng.randrange(len(listed) + 1), extra.box)
        claims.append({"type": "box_of", "category": cat, "box": list(extra.box), "holds": True})
        lie_text = f"lists the {extra.category} at {fmt_box(extra.box)} as one of the {plural(cat)}"
    elif lie:
        listed.pop(rng.randrange(len(listed)))
        lie_text = f"leaves one {cat} out and counts {len(listed)}"
    claims.insert(0, count_claim(cat, len(listed)))
    lines = "; ".join(f"{i + 1}. {fmt_box(b)}" for i, b in enumerate(listed))
    qt = rng.choice(
        [
            f"List every {cat} in the image with its box, then give the total.",
            f"Count the {plural(cat)} in the picture and give the box of each one.",
        ]
    )
    n = len(listed)
    ans = f"{lines}. In total there {is_are(n)} {num(n, False)} {plural(cat, n)}."
    steps = []
    if direction == "reasoning":
        steps = [
            step(f"grounding_{i + 1}({cat}) -> bbx_{i + 1}", f"bbx_{i + 1} = {fmt_box(b)}.")
            for i, b in enumerate(listed)
        ]
    return Draft(
        qt, ans, [cat], ["calculating", "grounding"], "counting_list", steps, claims, lie_text
    )


@kind("inverted_count_comparison")
def inverted_count_comparison(
    scene: Scene, rng: random.Random, lie: bool, direction: str
) -> Draft | None:
    cats = count_cats(scene)
    pairs = [(a, b) for a in cats for b in cats if scene.counts[a] > scene.counts[b]]
    if not pairs:
        return None
    big, small = rng.choice(pairs)
    more, less = (small, big) if lie else (big, small)
    claims: list[dict[str, object]] = [{"type": "more", "a": more, "b": less}]
    lie_text = f"says there are more {plural(small)} than {plural(big)}" if lie else ""
    p, q = rng.sample([big, small], 2)
    if rng.random() < 0.5:
        qt = f"Are there more {plural(p)} than {plural(q)} in this image?"
        yes = "Yes" if more == p else "No"
        ans = rng.choice(
            [
                f"{yes}, the image has more {plural(more)} than {plural(less)}.",
                f"{yes}. {plural(less).capitalize()} are fewer than {plural(more)} here.",
            ]
        )
    else:
        qt = f"In the picture, which are more numerous: {plural(p)} or {plural(q)}?"
        ans = rng.choice(
            [
                f"{plural(more).capitalize()}; there are fewer {plural(less)}.",
                f"The {plural(more)} outnumber the {plural(less)}.",
            ]
        )
    steps = []
    if direction == "reasoning":
        steps = [
            step(
                f"calculate(count({p}) > count({q})) -> res_1",
                f"Comparing the two counts, {plural(more)} outnumber {plural(less)}.",
            )
        ]
    fmt = "comparison" if direction == "interactive" else "yes_no"
    return Draft(qt, ans, [p, q], ["calculating"], fmt, steps, claims, lie_text)


@kind("wrong_arithmetic")
def wrong_arithmetic(scene: Scene, rng: random.Random, lie: bool, direction: str) -> Draft | None:
    cats = count_cats(scene)
    if not cats:
        return None
    a = rng.choice(cats)
    rest = [c for c in cats if c != a]
    n1 = scene.counts[a]
    if rest and rng.random() < 0.6:
        b = rng.choice(rest)
        n2 = scene.counts[b]
        expr, value = f"{n1}+{n2}", n1 + n2
        qt = f"How many {plural(a)} and {plural(b)} are there altogether in the image?"
        steps = [
            step(f"calculate(count({a})) -> res_1", f"There {is_are(n1)} {n1} {plural(a, n1)}."),
            step(f"calculate(count({b})) -> res_2", f"There {is_are(n2)} {n2} {plural(b, n2)}."),
        ]
        objs = [a, b]
        claims: list[dict[str, object]] = [count_claim(a, n1), count_claim(b, n2)]
    else:
        extra = rng.randint(2, 5)
        expr, value = f"{n1}+{extra}", n1 + extra
        qt = (
            f"If {extra} more {plural(a, extra)} joined the ones in the picture,"
            " how many would there be?"
        )
        steps = [step(f"calculate(count({a})) -> res_1", f"The image shows {n1} {plural(a, n1)}.")]
        objs = [a]
        claims = [count_claim(a, n1)]
    said = value + rng.choice([1, -1, 2]) if lie else value
    said = said if said >= 0 else value + 1
    shown = expr.replace("+", " + ")
    steps.append(step(f"calculate({expr}) -> res_{len(steps) + 1}", f"{shown} = {said}."))
    claims.append({"type": "arith", "expr": expr, "value": said})
    lie_text = f"writes {shown} = {said}" if lie else ""
    if direction != "reasoning":
        steps = [step(f"calculate({expr}) -> res_1", f"{shown} = {said}.")]
    return Draft(
        qt,
        rng.choice([f"{said} in total.", f"Putting the numbers together gives {said} in total."]),
        objs,
        ["calculating"],
        "step_by_step",
        steps,
        claims,
        lie_text,
    )
