"""The invariants every finished run must satisfy before its final files are written."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmevol.evolve.invariants import InvariantError, Row, check_run, check_samples
from mmevol.evolve.run import write_outputs
from mmevol.schema import QA, ImageRef, Lineage, Sample, Step
from mmevol.store import Store

IMAGE = ImageRef(path="/x.png", digest="sha256:ab", width=10, height=10)


def sample(sid: str, round_: int, parent: str | None, answer: str = "A red cube [0.100, 0.100,"
           " 0.500, 0.500].", kept: bool = True, question: str = "What is in the box?",
           steps: list[Step] | None = None, backend: str | None = "grounded") -> Sample:  # fmt: skip
    lineage = Lineage(parent_id=parent, round=round_, kept=kept, reason="x",
                      backend=backend if round_ else None)  # fmt: skip
    qa = QA(question=question, answer=answer, steps=steps or [])
    return Sample(id=sid, seed_id="s", image=IMAGE, round=round_, qa=qa, lineage=lineage)


def chain(*samples: Sample) -> tuple[list[Sample], dict[str, Row]]:
    rows = {s.id: Row(s.seed_id, s.round, s.lineage.parent_id, s.lineage.kept) for s in samples}
    return [s for s in samples if s.lineage.kept], rows


def test_good_chain_passes() -> None:
    kept, rows = chain(sample("s#0", 0, None), sample("s#0@r1", 1, "s#0"),
                       sample("s#0@r2", 2, "s#0@r1"))  # fmt: skip
    assert check_samples(kept, rows) == 3


@pytest.mark.parametrize(
    ("samples", "bad", "words"),
    [
        ([sample("s#0@r1", 1, "s#9")], "s#0@r1", "not in the journal"),
        ([sample("s#0", 0, None), sample("s#0@r1", 1, "s#0", kept=False),
          sample("s#0@r2", 2, "s#0@r1")], "s#0@r2", "was not kept"),
        ([sample("s#0", 0, None), sample("s#0@r2", 2, "s#0")], "s#0@r2", "round 0"),
        ([sample("s#0@r1", 1, None)], "s#0@r1", "no parent"),
        ([sample("s#0", 0, None), sample("s#0@r1", 1, "s#0", answer="  ")], "s#0@r1", "empty"),
        ([sample("s#0", 0, None), sample("s#0@r1", 1, "s#0", answer="N/A")], "s#0@r1",
         "placeholder answer"),
        ([sample("s#0", 0, None), sample("s#0@r1", 1, "s#0", answer="It is at [Coordinates"
          " for tree 1].")], "s#0@r1", "placeholder box"),
        ([sample("s#0", 0, None), sample("s#0@r1", 1, "s#0", answer="At [0.5, 0.2, 0.1, 0.9].")],
         "s#0@r1", "not normalised"),
        ([sample("s#0", 0, None), sample("s#0@r1", 1, "s#0", steps=[Step(
          manipulation="grounding", description="box [10, 20, 30, 40]")])], "s#0@r1",
         "not normalised"),
        ([sample("s#0", 0, None, answer="")], "s#0", "empty answer"),
    ],
)  # fmt: skip
def test_violations_name_the_sample(samples: list[Sample], bad: str, words: str) -> None:
    kept, rows = chain(*samples)
    with pytest.raises(InvariantError) as info:
        check_samples(kept, rows)
    assert info.value.sample_id == bad
    assert bad in str(info.value) and words in str(info.value)


def test_seed_text_is_the_users_own() -> None:
    kept, rows = chain(sample("s#0", 0, None, answer="none [1, 2, 3, 4]"))
    assert check_samples(kept, rows) == 1


def test_write_outputs_writes_nothing_on_a_violation(tmp_path: Path) -> None:
    store = Store(tmp_path / "run.sqlite")
    store.add_seed_samples([sample("s#0", 0, None)])
    store.commit_unit("s@r1", "s", 1, "perception",
                      [sample("s#0@r1", 1, "s#0", answer="[insert answer]")], {})  # fmt: skip
    with pytest.raises(InvariantError, match="s#0@r1"):
        write_outputs(store, tmp_path, 1)
    names = {p.name for p in tmp_path.iterdir()}
    assert not names & {"dataset.jsonl", "failures.jsonl", "stats.json", "rounds"}, names
    store.close()


def test_check_run_counts_kept(tmp_path: Path) -> None:
    store = Store(tmp_path / "run.sqlite")
    store.add_seed_samples([sample("s#0", 0, None)])
    store.commit_unit("s@r1", "s", 1, "perception", [sample("s#0@r1", 1, "s#0"),
                      sample("s#1@r1", 1, "s#1", kept=False)], {})  # fmt: skip
    assert check_run(store) == 2
    store.close()
