"""The fact checker: claims the annotations refute are caught, true and unreadable ones are not."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmevol.facts import Annotations, check_item
from mmevol.facts.lexicon import Lexicon, closed_vocabulary, lemma
from mmevol.schema import QA, ImageRef, Obj, Seed, Step

# dog left (cx 0.2), man right (cx 0.65), a couch under both, two cups up top (cx 0.625 and
# 0.875), and a crowd region of people in the top-left corner
SEED = Seed(
    id="s",
    image=ImageRef(path="x.jpg", digest="d"),
    captions=["A white dog sits next to a man on a couch.", "a man and his dog at home"],
    objects=[
        Obj(category="dog", bbox=[0.1, 0.5, 0.3, 0.8]),
        Obj(category="person", bbox=[0.5, 0.2, 0.8, 0.9]),
        Obj(category="couch", bbox=[0.0, 0.4, 1.0, 1.0]),
        Obj(category="cup", bbox=[0.85, 0.1, 0.9, 0.2]),
        Obj(category="cup", bbox=[0.6, 0.1, 0.65, 0.2]),
        Obj(category="person", bbox=[0.0, 0.0, 0.2, 0.3], attributes={"crowd": "yes"}),
    ],
)
DOG = "[0.100, 0.500, 0.300, 0.800]"
MAN = "[0.500, 0.200, 0.800, 0.900]"
LEFT_CUP = "[0.600, 0.100, 0.650, 0.200]"
RIGHT_CUP = "[0.850, 0.100, 0.900, 0.200]"


def refuted(question: str, answer: str, steps: list[Step] | None = None) -> list[str]:
    qa = QA(question=question, answer=answer, steps=steps or [])
    return [f.text() for f in check_item(qa, Annotations(SEED)).refuted]


FALSE = [
    ("How many cups are there?", "There are 3 cups in the image."),
    ("How many cups are there?", "Three."),
    ("Is there a cat in the image?", "Yes, there is a cat on the couch."),
    ("Is there a dog?", "No."),
    ("Is there a dog in the image?", "No, there is no dog."),
    ("Is the dog to the left of the man?", "No, it is on his right."),
    ("What is in the region?", f"The region {DOG} contains a cat."),
    ("Describe the scene.", f"The dog at {MAN} sits on the couch."),
    ("Describe the scene.", "The brown dog sits on the couch."),
    ("Describe the scene.", "The image shows a dog, a man and a bicycle."),
    ("Where is the dog?", "The dog is to the right of the man."),
    ("Where is the dog?", "The dog is on the right side of the image."),
    ("How many cups are there? A. 1 B. 2 C. 3 D. 4", "C. 3"),
    ("How many cups are there? A. 1 B. 2 C. 3 D. 4", "B. 3"),
    ("Are there more cups than dogs?", "No, there are fewer cups than dogs."),
    ("True or false: the dog is left of the man.", "False. The dog is to the right of the man."),
    ("Where is the rightmost cup?", f"The rightmost cup is at {LEFT_CUP}."),
    ("Which cup is higher?", "The cup is below the dog."),
    ("What is at the box?", "There are no people in this image."),
    ("How many dogs are there?", "I can see 2 dogs in the image."),
    # one person plus a crowd region (two or more) makes at least three
    ("How many people are in the image?", "There are 2 people."),
    ("Which object is in " + DOG + "? A. cat B. dog C. cup D. couch", "A. cat"),
]


@pytest.mark.parametrize(("question", "answer"), FALSE)
def test_false_claims_are_refuted(question: str, answer: str) -> None:
    assert refuted(question, answer), (question, answer)


TRUE = [
    ("How many cups are there?", "There are 2 cups in the image."),
    ("How many cups are there?", "Two."),
    ("Is there a cat in the image?", "No, there is no cat."),
    ("Is the dog to the left of the man?", "Yes, the dog sits to the left of the man."),
    ("What is in the region?", f"The region {DOG} contains a dog."),
    ("Describe the scene.", "The white dog sits on the couch beside a man."),
    ("Describe the scene.", "A man relaxes at home while his dog rests nearby."),
    ("How many cups are there? A. 1 B. 2 C. 3 D. 4", "B. 2"),
    ("Are there more cups than dogs?", "Yes, there are more cups than dogs."),
    ("True or false: the dog is right of the man.", "False, the dog is left of the man."),
    ("Where is the rightmost cup?", f"The rightmost cup is at {RIGHT_CUP}."),
    # a crowd region makes the number of people a lower bound: counts above it stand
    ("How many people are in the image?", "There are at least 3 people."),
    ("How many people are in the image?", "There are 5 people, most of them in the crowd."),
    # an error-correction item quotes the falsehood it corrects
    ("Fix the mistake: 'There are 3 cups.'", "The statement is wrong: there are 2 cups."),
    ("What could be there?", "A cat might be hiding behind the couch."),  # hedged: not a claim
    ("How many men are there?", "There is one man."),  # a kind of person: only bounded
    ("Describe it.", "The man holds something that looks like a remote."),  # unreadable
]


@pytest.mark.parametrize(("question", "answer"), TRUE)
def test_true_and_unsettled_claims_are_kept(question: str, answer: str) -> None:
    assert refuted(question, answer) == [], (question, answer)


def test_steps_are_checked_against_boxes_and_answer() -> None:
    wrong_box = [Step(manipulation="grounding_1(dog) -> bbx_1", description=f"The dog is at {MAN}.")]  # fmt: skip
    assert refuted("Where is the dog?", f"At {DOG}.", wrong_box)
    bad_sum = [Step(manipulation="calculate(2+1) -> res_1", description="2 + 1 = 4")]
    assert refuted("What is two plus one?", "It is 3.", bad_sum)
    disagree = [Step(manipulation="calculate(count of cup) -> res_1", description="number of cups = 2")]  # fmt: skip
    assert refuted("How many cups are there?", "There are 3.", disagree)
    good = [
        Step(manipulation="grounding_1(dog) -> bbx_1", description=f"The dog is at {DOG}."),
        Step(manipulation="calculate(count of cup) -> res_1", description="1 + 1 = 2"),
    ]
    assert refuted("How many cups are there?", "There are 2 cups.", good) == []


def test_every_refutation_names_claim_and_evidence() -> None:
    (reason,) = refuted("How many cups are there?", "There are 3 cups in the image.")[:1]
    assert "3 cup" in reason and "the annotations have 2 cup" in reason


def test_lexicon_maps_synonyms_plurals_and_kinds() -> None:
    lex = Lexicon(["person", "couch", "dining table"])
    assert lemma("knives") == "knife" and lemma("people") == "person"
    assert lemma("broccolis") == "broccoli" and lemma("bus") == "bus"
    sofa, men, table = lex.sense("two sofas"), lex.sense("three men"), lex.sense("the table")
    assert sofa and sofa.categories == {"couch"} and sofa.relation == "same"
    assert men and men.categories == {"person"} and men.relation == "sub"
    assert table and table.relation == "super"
    assert lex.find("an orange shirt and a hot dog stand") == []  # modifiers, not things
    assert len(closed_vocabulary(["person", "dog"])) == 80
    assert closed_vocabulary(["widget"]) == {"widget"}


def test_open_vocabulary_never_refutes_absent_things() -> None:
    seed = SEED.model_copy(update={"objects": [Obj(category="widget", bbox=[0.1, 0.1, 0.3, 0.3])]})  # fmt: skip
    qa = QA(question="What is there?", answer="The image shows a bicycle and a widget.")
    assert check_item(qa, Annotations(seed)).refuted == []


def test_colour_claims_use_the_pixels_when_nothing_else_settles_them(tmp_path: Path) -> None:
    from PIL import Image

    img = Image.new("RGB", (200, 100), (235, 235, 235))
    img.paste((200, 30, 30), (20, 20, 80, 80))  # a red kite on the left
    img.paste((30, 60, 200), (120, 20, 180, 80))  # a blue umbrella on the right
    img.save(tmp_path / "kite.png")
    seed = Seed(
        id="k",
        image=ImageRef(path=str(tmp_path / "kite.png"), digest="k"),
        captions=["a kite and an umbrella"],
        objects=[
            Obj(category="kite", bbox=[0.1, 0.2, 0.4, 0.8]),
            Obj(category="umbrella", bbox=[0.6, 0.2, 0.9, 0.8]),
        ],
    )
    ann = Annotations(seed)

    def reasons(answer: str) -> list[str]:
        return [f.text() for f in check_item(QA(question="Describe.", answer=answer), ann).refuted]

    assert reasons("A red kite flies beside a blue umbrella.") == []
    assert reasons("A green kite flies beside a blue umbrella.")
    assert reasons("The umbrella is yellow.")
    assert reasons("The kite is red.") == []


def test_proximity_and_ordering_claims() -> None:
    # the right cup (cx 0.875) is nearest the left cup; the dog is far from both
    assert refuted("Which is closest?", "The dog is the closest object to the rightmost cup.")
    assert refuted("Which is closest?", "The couch is the closest object to the dog.") == []
    assert refuted("Which is closest?", "The leftmost cup is the closest object to the dog.")
    assert (
        refuted("Which is closest?", "The leftmost cup is closest to the dog.") == []
    )  # of which?
    assert refuted("Order them.", "From left to right: the man, the dog.")
    assert refuted("Order them.", "From left to right: the dog, the man.") == []
    assert refuted("Is there a cat?", "No, I don't see a cat or a horse.") == []
    assert refuted("Is there a dog?", "No, I can't see a dog anywhere.")


def test_choices_shares_and_presuppositions() -> None:
    assert refuted("Which is larger in the image, the dog or the couch?", "The dog.")
    assert refuted("Which is larger in the image, the dog or the couch?", "The couch.") == []
    assert refuted("Which is closer to the rightmost cup: the dog or the man?", "The dog is closer.")  # fmt: skip
    assert refuted("Which is further left, the man or the dog?", "The dog is further left.") == []
    assert refuted("What share of the image does the couch cover?", "About 10 % of the image.")
    assert refuted("What share of the image does the couch cover?", "About 60 % of the image.") == []  # fmt: skip
    assert refuted("What is the cat on the couch doing?", "It is sleeping.")
    assert refuted("What is the dog on the couch doing?", "It is resting.") == []


MORE_FALSE = [
    # denials and negated absence in other words
    ("Where is the dog?", "It is not the case that the dog is to the left of the man."),
    ("What is missing?", "The scene is completely free of cups."),
    ("What is missing?", "Nowhere in the picture does a dog appear."),
    # one number for several kinds, kinds counted as a group, counts taken for granted
    ("How many dogs and cups?", "Altogether there are 4 dogs and cups."),
    ("How many animals are there?", "The photo holds 3 animals."),
    ("Tell me about the cups.", "The only cup sits on the right."),
    ("Tell me about the dogs.", "Both dogs rest on the couch."),
    ("Tell me about the cups.", "Of the cups, the third one is the smallest."),
    # numbers compared, differences, "outnumber"
    ("Compare the counts.", "There are 2 more dogs than cups."),
    ("Compare the counts.", "The dogs outnumber the cups."),
    ("Are there more dogs or more cups?", "The dogs are the more numerous group."),
    # relations written the other way round
    ("Where is the man?", "To the right of the man sits the dog."),
    ("Where are they?", "The dog is on the right and the man is on the left."),
    ("Where is the cup?", "The man has the dog on his right."),
    ("Which is higher?", "Lower in the frame than the dog is the rightmost cup."),
    # a list with a box of another thing, a box that shows no such thing, a pronoun answer
    ("List the cups with boxes.", f"- cup 1: {RIGHT_CUP}\n- cup 2: {DOG}"),
    ("Locate the dog.", "The bounding box of the dog is [0.700, 0.500, 0.900, 0.800]."),
    (f"What is inside {DOG}?", "That box contains a cup."),
    # a dialogue whose later turn is wrong; a number the question asks for in other words
    ("Chat about it.", "User: How many cups exactly?\nAssistant: I count 3.\nUser: Thanks."),
    ("Give the count of cups shown.", "The answer is 3."),
    ("Where is the dog?", "The dog sits in the top half."),
]


@pytest.mark.parametrize(("question", "answer"), MORE_FALSE)
def test_more_ways_of_saying_false_things_are_refuted(question: str, answer: str) -> None:
    assert refuted(question, answer), (question, answer)


MORE_TRUE = [
    ("Where is the dog?", "It is not the case that the dog is to the right of the man."),
    ("What is missing?", "The scene is completely free of cats."),
    ("How many dogs and cups?", "Altogether there are 3 dogs and cups."),
    ("How many animals are there?", "The photo holds 1 animal."),
    ("Tell me about the dog.", "The only dog rests on the couch."),
    ("Compare the counts.", "There is 1 more cup than dogs."),
    ("Where are they?", "The dog is on the left and the man is on the right."),
    ("Who is there?", "A crowd of people, not a single person, fills the corner."),
    ("List the cups with boxes.", f"- cup 1: {LEFT_CUP}\n- cup 2: {RIGHT_CUP}"),
    ("Chat about it.", "User: How many cups exactly?\nAssistant: I count 2.\nUser: Thanks."),
    (
        "Order them.",
        f"There are 2 cups: 1. cup at {LEFT_CUP}; 2. cup at {RIGHT_CUP}, left to right.",
    ),
    ("Describe it.", "If you count them one by one, you arrive at two cups."),
]


@pytest.mark.parametrize(("question", "answer"), MORE_TRUE)
def test_more_true_phrasings_are_kept(question: str, answer: str) -> None:
    assert refuted(question, answer) == [], (question, answer)


def _fact_drops(seeds_path: Path, out: Path) -> list[str]:
    return [reason for reason, _ in _fact_dropped_rows(seeds_path, out)]


def _fact_dropped_rows(seeds_path: Path, out: Path) -> list[tuple[str, dict]]:
    """(reason, qa) of every candidate of a grounded run that the fact checker dropped."""
    import json

    from mmevol.evolve.config import EvolveConfig
    from mmevol.evolve.run import run_evolve

    assert run_evolve(EvolveConfig(seeds=str(seeds_path), out=str(out), progress=False)).complete
    rows = [json.loads(x) for f in sorted((out / "rounds").glob("*.jsonl")) for x in f.open()]
    assert rows
    return [
        (r["lineage"]["reason"], r["qa"])
        for r in rows
        if r["lineage"]["reason"].startswith("fact:")
    ]


def test_the_grounded_backend_is_never_refuted_in_the_offline_world(tmp_path: Path) -> None:
    """Its items are computed from the annotations: a refutation would be a checker error."""
    from mmevol.seeds import write_seeds
    from mmevol.world.scenes import write_demo_set

    seeds = tmp_path / "seeds.jsonl"
    write_seeds(write_demo_set(tmp_path / "scenes", n=16, seed=5), seeds)
    assert _fact_drops(seeds, tmp_path / "run") == []


def test_the_grounded_backend_is_never_refuted_on_coco(
    tiny_coco_seeds: Path, tmp_path: Path
) -> None:
    """Its items are computed from COCO's boxes: a refutation would be a checker error (two
    such errors, found on the synthetic COCO copy, are pinned by the tests below)."""
    assert [
        (r, qa["question"]) for r, qa in _fact_dropped_rows(tiny_coco_seeds, tmp_path / "run")
    ] == []


BORDER_SEED = Seed(
    id="b",
    image=ImageRef(path="x.jpg", digest="d"),
    captions=["A man stands next to a carrot."],
    objects=[  # the person's box reaches lower; the carrot's centre is lower
        Obj(category="person", bbox=[0.762, 0.383, 0.884, 0.788]),
        Obj(category="carrot", bbox=[0.164, 0.572, 0.209, 0.724]),
        Obj(category="boat", bbox=[0.087, 0.049, 0.233, 0.138]),
        Obj(category="boat", bbox=[0.464, 0.116, 0.608, 0.208]),
    ],
)


def test_closest_to_an_edge_is_the_nearest_box_side() -> None:
    qa = QA(
        question="Name the object whose box starts closest to the bottom edge of the frame: "
        "the carrot or the person.",
        answer="The person at [0.762, 0.383, 0.884, 0.788] comes nearest to the bottom border.",
    )
    assert [f.text() for f in check_item(qa, Annotations(BORDER_SEED)).refuted] == []


def test_an_edge_claim_that_loses_under_both_readings_is_refuted() -> None:
    qa = QA(
        question="Which is closest to the top edge of the frame: the carrot or the person?",
        answer="The carrot is closest to the top edge.",  # its box and centre are both lower
    )
    assert [f.text() for f in check_item(qa, Annotations(BORDER_SEED)).refuted]


def test_a_no_to_is_that_how_many_is_not_a_count_of_zero() -> None:
    steps = [
        Step(manipulation="calculate(count of boat) -> res_1", description="number of boats = 2"),
        Step(manipulation="calculate(res_1 > 2) -> res_2", description="2 > 2 is false"),
    ]
    qa = QA(
        question="More than two: is that how many boats this image holds?",
        answer="No. There are only 2 boats, which is not more than 2.",
        steps=steps,
    )
    assert [f.text() for f in check_item(qa, Annotations(BORDER_SEED)).refuted] == []


DATA_AND_CONTEXT_FALSE = [
    ("List the objects as JSON.", '[{"object": "cup", "count": 3}, {"object": "dog", "count": 1}]'),
    ("List the objects as JSON.", '{"object": "cat", "bbox": [0.1, 0.5, 0.3, 0.8]}'),
    ("Count each kind as JSON.", '{"cups": 2, "dogs": 2}'),
    ("Tabulate them.", "| Object | Count | Position |\n|---|---|---|\n| dog | 1 | right |"),
    (f"Name region 1 {DOG} and region 2 {MAN}.", '{"region_1": "cat", "region_2": "person"}'),
    ("What is the largest object?", "By far the biggest thing in view is the rightmost cup."),
    ("Tell me about the dog.", "Let me look at the dog. It sits on the right side of the image."),
    ("Which is true? A. The dog is left of the man. B. The dog is right of the man.", "B"),
    ("True or false: no cups are present.", "True."),
    ("Where is the dog?", "Compared with the couch, the dog looks large."),
    ("Where is the dog?", "On the right half of the picture we find the dog."),
    ('Fill in the blank: "There are ___ cups."', '"There are 3 cups."'),
    (
        "Which is nearer to the rightmost cup: the dog or the man?",
        "The object nearest to the rightmost cup is the dog, not the man.",
    ),
    ("Cups: how many?", "Five."),
    ("How many cups are there?", "Haha, I'd say three."),
    ("Where exactly is the dog? Give its box.", MAN),
    ("Where is the dog?", "You'll find it in the right-hand portion of the picture."),
    ("Tell me about the people.", "Just one person, no others."),
    ("Inventory?", "- **Cups**: three\n- **Dogs**: one"),
    ("Add them up.", "One dog plus two cups gives 4 objects altogether."),
    ("Compare.", "Two cups versus one dog; the difference is 2."),
    ("Which kind of object appears most often?", "Dogs, more of them than anything else."),
]


@pytest.mark.parametrize(("question", "answer"), DATA_AND_CONTEXT_FALSE)
def test_data_answers_and_claims_made_with_the_question_are_read(
    question: str, answer: str
) -> None:
    assert refuted(question, answer), (question, answer)


def test_a_question_whose_premise_the_answer_rejects_is_a_good_item() -> None:
    assert refuted("What colour is the cat?", "There is no cat in this image; I see a dog.") == []
    assert refuted("What colour is the cat?", "It is white.")  # accepts the false premise


def test_numbers_that_are_not_counts_of_the_noun() -> None:
    assert refuted("Which is closest?", "The man is the nearest of the two to the dog.") == []
    assert refuted("True or false: the image shows exactly three cups.", "False.") == []
    assert refuted("How big is it?", "It looks like a 15 inch couch, 2 feet from the dog.") == []


_WORDS = st.sampled_from(
    [
        "the",
        "a",
        "dog",
        "cup",
        "man",
        "couch",
        "cups",
        "dogs",
        "people",
        "two",
        "3",
        "left",
        "right",
        "of",
        "is",
        "are",
        "no",
        "not",
        "there",
        "[0.100,",
        "0.500,",
        "0.300,",
        "0.800]",
        "(",
        ")",
        ":",
        ",",
        ".",
        ";",
        "yes",
        "false",
        "how",
        "many",
        "which",
        "closest",
        "largest",
        "than",
        "more",
        "A.",
        "B.",
        "|",
        "{",
        "}",
        '"',
        "'",
        "it",
        "-",
        "___",
        "region",
        "1",
        "=",
        "+",
        "and",
        "or",
        "total",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, max_size=40), st.lists(_WORDS, max_size=60), st.text(max_size=80))
def test_the_checker_never_crashes(q: list[str], a: list[str], noise: str) -> None:
    """Any text, however garbled, gives findings or none: never an exception."""
    report = check_item(
        QA(
            question=" ".join(q) + noise,
            answer=" ".join(a),
            steps=[Step(manipulation=noise, description=" ".join(a))],
        ),
        Annotations(SEED),
    )
    assert all(f.status in {"refuted", "confirmed", "unsettled"} for f in report.findings)


def test_a_count_answered_with_no_things_is_still_checked() -> None:
    steps = [Step(manipulation="calculate(count of boat) -> res_1", description="number = 2")]
    qa = QA(question="How many boats are there?", answer="No boats at all.", steps=steps)
    refuted = [f.text() for f in check_item(qa, Annotations(BORDER_SEED)).refuted]
    assert "the answer says 0 — the last calculate step found 2" in refuted
