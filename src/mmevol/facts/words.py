"""The word lists of the fact checker: COCO's 80 categories, the offline world's shapes, and
what everyday words name among them.

``TABLE`` maps a word (singular, lower case) to the categories it covers and how: ``same``
(a synonym: "sofa" for couch), ``sub`` (a kind of one category: "man", "puppy") or ``super``
(a cover term: "table" for dining table, "fruit") or ``group`` (a cover term whose
categories are all a photo holds of it in practice: "animal", "vehicle", counted as their sum). ``lexicon`` reads it.
"""

from __future__ import annotations

from typing import Literal

Relation = Literal["same", "sub", "super", "group"]

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
    {"circle", "square", "triangle", "star", "diamond", "hexagon"}  # the offline world's shapes
)


# word (singular) -> (categories, relation). "same": synonyms; "sub": kinds of one category;
# "super": cover terms. Only words whose meaning among COCO things is clear are listed.
TABLE: dict[str, tuple[tuple[str, ...], Relation]] = {}


def _add(relation: Relation, categories: tuple[str, ...], words: str) -> None:
    for w in words.split(","):
        if w.strip():
            TABLE[w.strip()] = (categories, relation)


_add("same", ("person",), "person,people,human,human being,individual")
_add(
    "sub",
    ("person",),
    "man,woman,boy,girl,child,kid,baby,toddler,adult,guy,lady,gentleman,"
    "player,skier,surfer,snowboarder,skateboarder,rider,cyclist,biker,pedestrian,batter,"
    "catcher,pitcher,umpire,chef,cook,worker,officer,policeman,driver,passenger,"
    "spectator,athlete,teenager,vendor,farmer,soldier,infant,mother,father,"
    "tennis player,baseball player,young man,young woman,little girl,little boy",
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
_add("same", ("laptop",), "laptop,notebook computer,laptop computer,notebook")
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
# "group": a cover term whose COCO categories are, in practice, all there is of it in a photo
_add("group", _VEHICLES, "vehicle")
_add("super", _VEHICLES, "transport")
_add("super", ("car", "truck", "bus", "motorcycle"), "motor vehicle")
_add("group", _ANIMALS, "animal")
_add("super", _ANIMALS, "creature,wildlife")
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
_add("super", ("stop sign",), "sign,road sign,street sign,traffic sign")
