"""Words for annotated things: what a noun in model text names among an image's categories.

The fact checker reads claims such as "three men", "a sofa at [...]" or "no vehicles" and must
know which annotated categories they are about. This module owns that mapping:

- ``lemma`` folds plurals ("knives" -> "knife", "people" -> "person");
- ``Lexicon`` maps a word or phrase to a ``Sense``: the categories it covers and how it relates
  to them. ``same`` is a synonym ("sofa" = couch, "people" = person); ``sub`` is a kind of one
  category ("man", "puppy"): it can be present while its category is, but its count is only
  bounded by the category's; ``super`` covers several categories ("vehicle", "animal", "table"
  for dining table) and more kinds that an annotation set may not list.

The built-in table covers the 80 COCO categories and the offline world's shapes; any category
an image carries that the table does not know is its own ``same`` sense. Closed vocabularies
(``closed_vocabulary``) say when the absence of an annotation means the absence of the thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Relation = Literal["same", "sub", "super"]

COCO_CATEGORIES: frozenset[str] = frozenset(
    (
        "person",
        "bicycle",
        "car",
        "motorcycle",
        "airplane",
        "bus",
        "train",
        "truck",
        "boat",
        "traffic light",
        "fire hydrant",
        "stop sign",
        "parking meter",
        "bench",
        "bird",
        "cat",
        "dog",
        "horse",
        "sheep",
        "cow",
        "elephant",
        "bear",
        "zebra",
        "giraffe",
        "backpack",
        "umbrella",
        "handbag",
        "tie",
        "suitcase",
        "frisbee",
        "skis",
        "snowboard",
        "sports ball",
        "kite",
        "baseball bat",
        "baseball glove",
        "skateboard",
        "surfboard",
        "tennis racket",
        "bottle",
        "wine glass",
        "cup",
        "fork",
        "knife",
        "spoon",
        "bowl",
        "banana",
        "apple",
        "sandwich",
        "orange",
        "broccoli",
        "carrot",
        "hot dog",
        "pizza",
        "donut",
        "cake",
        "chair",
        "couch",
        "potted plant",
        "bed",
        "dining table",
        "toilet",
        "tv",
        "laptop",
        "mouse",
        "remote",
        "keyboard",
        "cell phone",
        "microwave",
        "oven",
        "toaster",
        "sink",
        "refrigerator",
        "book",
        "clock",
        "vase",
        "scissors",
        "teddy bear",
        "hair drier",
        "toothbrush",
    )
)

WORLD_SHAPES: frozenset[str] = frozenset(
    {"circle", "square", "triangle", "star", "cross", "diamond", "hexagon", "heart", "text"}
)

_IRREGULAR_PLURALS = {
    "people": "person",
    "persons": "person",
    "men": "man",
    "women": "woman",
    "children": "child",
    "mice": "mouse",
    "knives": "knife",
    "feet": "foot",
    "teeth": "tooth",
    "geese": "goose",
    "oxen": "ox",
    "sheep": "sheep",
    "skis": "skis",
    "scissors": "scissors",
    "fish": "fish",
    "deer": "deer",
    "buses": "bus",
    "glasses": "glass",
    "boxes": "box",
    "ladies": "lady",
    "puppies": "puppy",
    "kitties": "kitty",
    "series": "series",
    "species": "species",
    "cattle": "cow",
    "calves": "calf",
    "wolves": "wolf",
    "leaves": "leaf",
    "shelves": "shelf",
    "loaves": "loaf",
    "halves": "half",
    "lives": "life",
    "wives": "wife",
    "dice": "die",
    "benches": "bench",
    "couches": "couch",
    "sandwiches": "sandwich",
    "watches": "watch",
    "dishes": "dish",
    "brushes": "brush",
    "toothbrushes": "toothbrush",
    "glasses of wine": "wine glass",
    "skies": "sky",
    "pizzas": "pizza",
    "umbrellas": "umbrella",
    "zebras": "zebra",
    "giraffes": "giraffe",
    "broccoli": "broccoli",
    "tvs": "tv",
    "hot dogs": "hot dog",
    "doughnuts": "donut",
    "tomatoes": "tomato",
    "potatoes": "potato",
    "remotes": "remote",
    "vases": "vase",
}
_NOT_PLURAL = {
    "bus",
    "glass",
    "grass",
    "dress",
    "skis",
    "scissors",
    "lens",
    "canvas",
    "chess",
    "physics",
    "news",
    "pants",
    "shorts",
    "jeans",
    "glasses",
    "is",
    "was",
    "has",
    "this",
    "its",
    "his",
    "us",
    "yes",
    "as",
    "across",
    "plus",
    "gas",
    "axis",
    "analysis",
    "basis",
    "tennis",
    "iris",
    "chassis",
    "lettuce",
}


@lru_cache(maxsize=16384)
def lemma(word: str) -> str:
    """The singular of an English noun (a multi-word phrase singularises its last word)."""
    word = word.strip().lower()
    if word in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[word]
    head, _, last = word.rpartition(" ")
    if head:
        return f"{head} {lemma(last)}"
    if len(word) <= 3 or word in _NOT_PLURAL or word.endswith(("ss", "us")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "zes", "sses")):
        return word[:-2]
    if word.endswith("oes") and word not in {"shoes", "toes"}:
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


@dataclass(frozen=True)
class Sense:
    """What a word names: categories, and whether it is their synonym, a kind or a cover term."""

    categories: frozenset[str]
    relation: Relation
    word: str


# word (singular) -> (categories, relation). "same": synonyms; "sub": kinds of one category;
# "super": cover terms. Only words whose meaning among COCO things is clear are listed.
_TABLE: dict[str, tuple[tuple[str, ...], Relation]] = {}


def _add(relation: Relation, categories: tuple[str, ...], words: str) -> None:
    for w in words.split(","):
        if w.strip():
            _TABLE[w.strip()] = (categories, relation)


_add("same", ("person",), "person,people,human,human being,individual,figure")
_add(
    "sub",
    ("person",),
    "man,woman,boy,girl,child,kid,baby,toddler,adult,guy,lady,gentleman,"
    "player,skier,surfer,snowboarder,skateboarder,rider,cyclist,biker,pedestrian,batter,"
    "catcher,pitcher,umpire,chef,cook,worker,officer,policeman,driver,passenger,tourist,"
    "spectator,athlete,teenager,student,vendor,customer,farmer,soldier,infant,mother,father,"
    "couple,tennis player,baseball player,young man,young woman,little girl,little boy",
)
_add("same", ("bicycle",), "bicycle,bike,cycle,push bike")
_add("same", ("car",), "car,automobile,sedan,taxi,cab")
_add("sub", ("car",), "suv,jeep,hatchback,police car,race car")
_add("same", ("motorcycle",), "motorcycle,motorbike,motor bike,scooter,moped")
_add("same", ("airplane",), "airplane,aeroplane,plane,jet,airliner,aircraft")
_add("same", ("bus",), "bus,coach,double decker,double-decker")
_add("same", ("train",), "train,locomotive,railcar,tram,streetcar")
_add("same", ("truck",), "truck,lorry,pickup,pickup truck,van")
_add("same", ("boat",), "boat,ship,sailboat,canoe,kayak,yacht,ferry,vessel,rowboat")
_add("same", ("traffic light",), "traffic light,traffic signal,stoplight,stop light")
_add("same", ("fire hydrant",), "fire hydrant,hydrant")
_add("same", ("stop sign",), "stop sign")
_add("same", ("parking meter",), "parking meter,meter")
_add("same", ("bench",), "bench,park bench")
_add("same", ("bird",), "bird")
_add(
    "sub",
    ("bird",),
    "pigeon,seagull,gull,duck,goose,swan,parrot,sparrow,crow,owl,eagle,"
    "hawk,chicken,hen,rooster,pelican,heron,penguin,flamingo",
)
_add("same", ("cat",), "cat,kitten,kitty")
_add("same", ("dog",), "dog,puppy,pup,doggy,hound")
_add("same", ("horse",), "horse,pony,foal,stallion,mare")
_add("same", ("sheep",), "sheep,lamb,ram,ewe")
_add("same", ("cow",), "cow,cattle,bull,calf,ox,steer")
_add("same", ("elephant",), "elephant")
_add("same", ("bear",), "bear,grizzly,polar bear,brown bear,black bear")
_add("same", ("zebra",), "zebra")
_add("same", ("giraffe",), "giraffe")
_add("same", ("backpack",), "backpack,rucksack,knapsack")
_add("same", ("umbrella",), "umbrella,parasol")
_add("same", ("handbag",), "handbag,purse")
_add("same", ("tie",), "tie,necktie,bow tie")
_add("same", ("suitcase",), "suitcase,luggage")
_add("same", ("frisbee",), "frisbee,flying disc")
_add("same", ("skis",), "skis,ski,pair of skis")
_add("same", ("snowboard",), "snowboard")
_add(
    "same",
    ("sports ball",),
    "sports ball,ball,football,soccer ball,tennis ball,baseball,basketball,volleyball",
)
_add("same", ("kite",), "kite")
_add("same", ("baseball bat",), "baseball bat,bat")
_add("same", ("baseball glove",), "baseball glove,glove,mitt")
_add("same", ("skateboard",), "skateboard")
_add("same", ("surfboard",), "surfboard,surf board")
_add("same", ("tennis racket",), "tennis racket,racket,racquet,tennis racquet")
_add("same", ("bottle",), "bottle")
_add("same", ("wine glass",), "wine glass")
_add("same", ("cup",), "cup,mug,coffee cup,teacup")
_add("same", ("fork",), "fork")
_add("same", ("knife",), "knife")
_add("same", ("spoon",), "spoon")
_add("same", ("bowl",), "bowl")
_add("same", ("banana",), "banana")
_add("same", ("apple",), "apple")
_add("same", ("sandwich",), "sandwich,sub,burger,hamburger")
_add("same", ("orange",), "orange")
_add("same", ("broccoli",), "broccoli")
_add("same", ("carrot",), "carrot")
_add("same", ("hot dog",), "hot dog,hotdog")
_add("same", ("pizza",), "pizza")
_add("same", ("donut",), "donut,doughnut")
_add("same", ("cake",), "cake,cupcake")
_add("same", ("chair",), "chair,armchair,stool")
_add("same", ("couch",), "couch,sofa,loveseat,settee")
_add("same", ("potted plant",), "potted plant,houseplant,house plant,plant pot,flower pot")
_add("same", ("bed",), "bed")
_add("same", ("dining table",), "dining table,kitchen table")
_add("same", ("toilet",), "toilet,toilet bowl")
_add("same", ("tv",), "tv,television,tv set,television set,tv monitor")
_add("same", ("laptop",), "laptop,notebook computer")
_add("same", ("mouse",), "computer mouse")
_add("same", ("remote",), "remote,remote control,controller")
_add("same", ("keyboard",), "keyboard")
_add("same", ("cell phone",), "cell phone,cellphone,phone,mobile phone,smartphone,mobile")
_add("same", ("microwave",), "microwave,microwave oven")
_add("same", ("oven",), "oven,stove")
_add("same", ("toaster",), "toaster")
_add("same", ("sink",), "sink,basin,washbasin")
_add("same", ("refrigerator",), "refrigerator,fridge")
_add("same", ("book",), "book")
_add("same", ("clock",), "clock")
_add("same", ("vase",), "vase")
_add("same", ("scissors",), "scissors,pair of scissors")
_add("same", ("teddy bear",), "teddy bear,teddy,stuffed bear,stuffed animal")
_add("same", ("hair drier",), "hair drier,hair dryer,blow dryer,hairdryer")
_add("same", ("toothbrush",), "toothbrush")
_VEHICLES = ("bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat")
_ANIMALS = ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe")
_add("super", _VEHICLES, "vehicle,transport")
_add("super", ("car", "truck", "bus", "motorcycle"), "motor vehicle")
_add("super", _ANIMALS, "animal,creature,wildlife")
_add("super", ("horse", "sheep", "cow"), "livestock,farm animal")
_add("super", ("cat", "dog"), "pet")
_add("super", ("dining table",), "table,desk")
_add("super", ("potted plant",), "plant")
_add("super", ("wine glass", "cup"), "glass")
_add("super", ("fork", "knife", "spoon"), "utensil,cutlery,silverware")
_add("super", ("banana", "apple", "orange"), "fruit")
_add("super", ("broccoli", "carrot"), "vegetable,veggie")
_add(
    "super",
    (
        "sandwich",
        "hot dog",
        "pizza",
        "donut",
        "cake",
        "banana",
        "apple",
        "orange",
        "broccoli",
        "carrot",
    ),
    "food,meal,dish,snack",
)
_add("super", ("chair", "couch", "bed", "dining table", "bench"), "furniture,seat")
_add("super", ("tv", "laptop", "cell phone", "keyboard", "mouse", "remote"), "electronic,device")
_add("super", ("microwave", "oven", "toaster", "refrigerator"), "appliance")
_add("super", ("handbag", "backpack", "suitcase"), "bag")
_add(
    "super",
    (
        "skis",
        "snowboard",
        "sports ball",
        "baseball bat",
        "baseball glove",
        "skateboard",
        "surfboard",
        "tennis racket",
        "frisbee",
        "kite",
    ),
    "sports equipment",
)
for _shape in WORLD_SHAPES:
    _add("same", (_shape,), _shape)
_add("same", ("text",), "label,word")
_add("super", ("stop sign", "text"), "sign,road sign,street sign,traffic sign")

WORD_RE = re.compile(r"[a-z]+(?:-[a-z]+)?")
MAX_WORDS = 3


class Lexicon:
    """Senses of the words that can name an image's annotated categories."""

    def __init__(self, categories: list[str]) -> None:
        self.table: dict[str, tuple[tuple[str, ...], Relation]] = dict(_TABLE)
        for cat in categories:  # every annotated category names itself
            key = lemma(cat.strip().lower())
            if key and key not in self.table:
                self.table[key] = ((cat.strip().lower(),), "same")
        self.longest = max((len(k.split()) for k in self.table), default=1)

    def sense(self, phrase: str) -> Sense | None:
        """The sense of a noun phrase's head (its longest known ending), or None."""
        words = WORD_RE.findall(phrase.lower())
        for n in range(min(self.longest, len(words)), 0, -1):
            key = " ".join(words[-n:])
            for cand in (key, lemma(key)):
                hit = self.table.get(cand)
                if hit:
                    return Sense(frozenset(hit[0]), hit[1], cand)
        return None

    def find(self, text: str) -> list[tuple[int, int, Sense]]:
        """Every known noun phrase in ``text`` (lower case): (start, end, sense), longest first
        at each position, non-overlapping, in order."""
        found: list[tuple[int, int, Sense]] = []
        words = list(WORD_RE.finditer(text))
        i = 0
        while i < len(words):
            for n in range(min(self.longest, len(words) - i), 0, -1):
                span = words[i : i + n]
                key = " ".join(m.group(0) for m in span)
                hit = self.table.get(key) or self.table.get(lemma(key))
                if hit and _is_noun_use(text, span[-1].end(), key):
                    found.append(
                        (span[0].start(), span[-1].end(), Sense(frozenset(hit[0]), hit[1], key))
                    )
                    i += n
                    break
            else:
                i += 1
        return found


_ADJ_USE = re.compile(
    r"\s+(?:[a-z]+\s+)?(?:shirt|jacket|coat|hat|dress|top|juice|slice|peel|"
    r"light|color|colour|sign|tree|and white|and black|cat|dog)\b"
)


def _is_noun_use(text: str, end: int, key: str) -> bool:
    """False where a category word is used as a modifier: "orange shirt", "hot dog stand"."""
    if key in {"orange", "stop", "tie", "bear", "glass"}:
        return not _ADJ_USE.match(text, end)
    return not re.match(
        r"\s*(?:'s\s+)?(?:stand|shop|store|cart|truck|rack|holder|case|sign|"
        r"shaped|like|print|pattern)\b",
        text[end:],
    )


def closed_vocabulary(categories: list[str], sources: tuple[str, ...] = ()) -> frozenset[str]:
    """The categories whose absence from an image's annotations means they are not there.

    COCO annotates all 80 of its categories exhaustively, and the offline world annotates every
    shape; an image annotated only in one of these vocabularies is judged against it, and so is
    a COCO image with no objects at all (none of the 80 is there). Anything else is an open
    set: only the categories present are known.
    """
    cats = {c.strip().lower() for c in categories}
    if cats <= COCO_CATEGORIES and (cats or "coco_instances" in sources):
        return COCO_CATEGORIES
    if cats and cats <= WORLD_SHAPES:
        return WORLD_SHAPES
    return frozenset(cats)
