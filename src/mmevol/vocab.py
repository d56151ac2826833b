"""The fixed vocabularies: atomic capabilities (skills), visual manipulations and task formats.

Model output drifts (the authors' data grew from 66 to 134 distinct skill strings and invented
formats); everything is mapped back onto these lists by ``evolve.normalize``.
"""

from __future__ import annotations

SKILLS: tuple[str, ...] = (
    # vision-centric
    "grounding",
    "referencing",
    "calculating",
    "ocr",
    "existence",
    # language-centric
    "relationship_description",
    "context_understanding",
    "behavior_prediction",
    "knowledge_integration",
)

SKILL_HELP: dict[str, str] = {
    "grounding": "find the region (box) that a phrase describes",
    "referencing": "describe what is inside a given box",
    "calculating": "count, measure or compare quantities",
    "ocr": "read printed or written text in the image",
    "existence": "decide whether something is present",
    "relationship_description": "spatial or semantic relations between objects",
    "context_understanding": "what the scene is about, its setting and situation",
    "behavior_prediction": "what people or things are doing or will do next",
    "knowledge_integration": "bring in outside knowledge tied to what is seen",
}

MANIPULATIONS: tuple[str, ...] = ("grounding", "referring", "calculate", "ocr")

MANIPULATION_HELP: dict[str, str] = {
    "grounding": "grounding_i(target) -> bbx_i : the box [x1, y1, x2, y2] of a target",
    "referring": "referring_i(bbx) -> tgt_i : what is inside a box",
    "calculate": "calculate(expression) -> res_i : arithmetic, counting or comparison",
    "ocr": "ocr_i(target) -> txt_i : the text written on a target",
}

FORMATS: tuple[str, ...] = (
    "open_ended",
    "short_answer",
    "multiple_choice",
    "yes_no",
    "true_false_justify",
    "fill_in_blank",
    "ordering",
    "matching",
    "region_selection",
    "counting_list",
    "comparison",
    "detailed_description",
    "dialogue",
    "creative_writing",
    "constrained_instruction",
    "error_correction",
    "step_by_step",
)

FORMAT_HELP: dict[str, str] = {
    "open_ended": "a free-form question and answer",
    "short_answer": "an answer of a word or a short phrase",
    "multiple_choice": "options labelled A-D, the answer names one letter and its option",
    "yes_no": "answer yes or no, then one sentence of support",
    "true_false_justify": "a statement judged true or false with a justification",
    "fill_in_blank": "a sentence with a ____ gap to fill",
    "ordering": "put objects or events in order (left to right, by size, ...)",
    "matching": "pair items of two lists",
    "region_selection": "choose which of several boxes shows the target",
    "counting_list": "count and list the instances with their boxes",
    "comparison": "compare two objects or regions on a stated property",
    "detailed_description": "describe a region or the whole image in detail",
    "dialogue": "a short role-play or multi-turn exchange grounded in the image",
    "creative_writing": "a short creative text that stays true to the image",
    "constrained_instruction": "an instruction with explicit output constraints",
    "error_correction": "find and fix the mistake in a given statement about the image",
    "step_by_step": "a problem solved in explicit numbered steps",
}

# Synonyms seen in model output -> canonical names. Lookup is on a folded key (see fold()).
SKILL_SYNONYMS: dict[str, str] = {
    "detection": "grounding",
    "objectdetection": "grounding",
    "localization": "grounding",
    "localisation": "grounding",
    "visualgrounding": "grounding",
    "reference": "referencing",
    "referring": "referencing",
    "referringexpression": "referencing",
    "counting": "calculating",
    "calculation": "calculating",
    "math": "calculating",
    "arithmetic": "calculating",
    "measurement": "calculating",
    "numerical": "calculating",
    "textrecognition": "ocr",
    "reading": "ocr",
    "textreading": "ocr",
    "objectexistence": "existence",
    "presence": "existence",
    "objectrecognition": "existence",
    "recognition": "existence",
    "spatial": "relationship_description",
    "spatialreasoning": "relationship_description",
    "spatialrelationship": "relationship_description",
    "spatialrelation": "relationship_description",
    "relationship": "relationship_description",
    "relation": "relationship_description",
    "relationdescription": "relationship_description",
    "sceneunderstanding": "context_understanding",
    "context": "context_understanding",
    "contextualunderstanding": "context_understanding",
    "behaviour": "behavior_prediction",
    "behavior": "behavior_prediction",
    "behaviourprediction": "behavior_prediction",
    "actionprediction": "behavior_prediction",
    "actionrecognition": "behavior_prediction",
    "knowledge": "knowledge_integration",
    "commonsense": "knowledge_integration",
    "commonsensereasoning": "knowledge_integration",
    "worldknowledge": "knowledge_integration",
}

MANIPULATION_SYNONYMS: dict[str, str] = {
    "ground": "grounding",
    "locate": "grounding",
    "localize": "grounding",
    "detect": "grounding",
    "detection": "grounding",
    "refer": "referring",
    "reference": "referring",
    "describe": "referring",
    "calculation": "calculate",
    "compute": "calculate",
    "count": "calculate",
    "counting": "calculate",
    "compare": "calculate",
    "math": "calculate",
    "read": "ocr",
    "readtext": "ocr",
    "textrecognition": "ocr",
}

FORMAT_SYNONYMS: dict[str, str] = {
    "openended": "open_ended",
    "open": "open_ended",
    "qa": "open_ended",
    "question": "open_ended",
    "freeform": "open_ended",
    "shortanswer": "short_answer",
    "mcq": "multiple_choice",
    "multiplechoice": "multiple_choice",
    "choice": "multiple_choice",
    "yesno": "yes_no",
    "yesorno": "yes_no",
    "binary": "yes_no",
    "truefalse": "true_false_justify",
    "truefalsejustify": "true_false_justify",
    "truefalsewithjustification": "true_false_justify",
    "fillintheblank": "fill_in_blank",
    "fillinblank": "fill_in_blank",
    "fillblank": "fill_in_blank",
    "cloze": "fill_in_blank",
    "order": "ordering",
    "sorting": "ordering",
    "sequence": "ordering",
    "match": "matching",
    "regionselection": "region_selection",
    "boxselection": "region_selection",
    "countinglist": "counting_list",
    "counting": "counting_list",
    "compare": "comparison",
    "description": "detailed_description",
    "detaileddescription": "detailed_description",
    "caption": "detailed_description",
    "roleplay": "dialogue",
    "conversation": "dialogue",
    "multiturn": "dialogue",
    "creative": "creative_writing",
    "story": "creative_writing",
    "poem": "creative_writing",
    "creativewriting": "creative_writing",
    "constrained": "constrained_instruction",
    "instruction": "constrained_instruction",
    "constrainedinstruction": "constrained_instruction",
    "errorcorrection": "error_correction",
    "correction": "error_correction",
    "stepbystep": "step_by_step",
    "reasoning": "step_by_step",
}


def fold(text: str) -> str:
    """Lower-case and keep only letters: 'Multiple-Choice' and 'multiple_choice' fold alike."""
    return "".join(ch for ch in text.lower() if ch.isalpha())


def _lookup(text: str, names: tuple[str, ...], synonyms: dict[str, str]) -> str | None:
    key = fold(text)
    if not key:
        return None
    for name in names:
        if fold(name) == key:
            return name
    return synonyms.get(key)


def canonical_skill(text: str) -> str | None:
    """The vocabulary skill a free-text skill name means, or None if it is unknown."""
    return _lookup(text, SKILLS, SKILL_SYNONYMS)


def canonical_format(text: str) -> str | None:
    """The vocabulary format a free-text format name means, or None if it is unknown."""
    return _lookup(text, FORMATS, FORMAT_SYNONYMS)


def canonical_manipulation(text: str) -> str | None:
    """The manipulation a step names: 'grounding_1(dog)->bbx_1', 'Locate', 'OCR' all resolve."""
    head = text.strip().split("(", 1)[0]
    head = head.rstrip("_0123456789 ").strip()
    return _lookup(head, MANIPULATIONS, MANIPULATION_SYNONYMS)
