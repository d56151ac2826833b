"""The words that map free-text skill, format and manipulation names onto ``vocab``'s entries.

Three tables per vocabulary, tried in this order by ``vocab``'s lookup:

* synonyms: whole phrases (any spelling, case, separators or word order; plurals and -ing
  forms fold alike) -> an entry. They carry the MMEvol authors' own labels ("Grounding
  Ability", "Norm", "Complex Reasoning", their seventeen interactive forms) and common drift.
* keyword rules: when no phrase matches, the first rule with a word that *starts with* one of
  its prefixes wins (a rule alternative given as a tuple needs all of its prefixes). The order
  of the rules is their priority: "spatial grounding" is grounding, "attribute recognition" is
  referencing, "texture" is not OCR.
* filler words dropped before matching: "... ability", "... skill", "... task", a trailing
  "question" or "type", and stop words like "of" and "the".
"""

from __future__ import annotations

Rule = tuple[str, tuple[str | tuple[str, ...], ...]]

FILLER_WORDS = frozenset(
    {"ability", "abilities", "skill", "skills", "capability", "capabilities", "task", "tasks",
     "format", "formats", "form", "forms", "competence", "competency"}
)  # fmt: skip
TRAILING_WORDS = frozenset(
    {"question", "questions", "type", "types", "problem", "problems", "item", "items",
     "exercise", "exercises"}
)  # fmt: skip
STOP_WORDS = frozenset(
    {"a", "an", "the", "of", "in", "on", "and", "or", "to", "for", "with", "by", "from", "based"}
)

SKILL_SYNONYMS: dict[str, str] = {
    # grounding
    "detection": "grounding", "object detection": "grounding", "localization": "grounding",
    "localisation": "grounding", "visual grounding": "grounding", "object localization": "grounding",
    "spatial grounding": "grounding", "region grounding": "grounding", "phrase grounding": "grounding",
    # referencing
    "reference": "referencing", "referring": "referencing", "referring expression": "referencing",
    "region description": "referencing", "attribute recognition": "referencing",
    "region captioning": "referencing",
    # calculating
    "counting": "calculating", "calculation": "calculating", "math": "calculating",
    "arithmetic": "calculating", "measurement": "calculating", "numerical": "calculating",
    "numerical reasoning": "calculating", "visual counting": "calculating",
    "object counting": "calculating", "quantitative reasoning": "calculating",
    # ocr
    "text recognition": "ocr", "reading": "ocr", "text reading": "ocr",
    "optical character recognition": "ocr", "scene text recognition": "ocr",
    # existence
    "object existence": "existence", "presence": "existence", "object recognition": "existence",
    "recognition": "existence", "object presence": "existence",
    # relationship_description
    "spatial": "relationship_description", "spatial reasoning": "relationship_description",
    "spatial relationship": "relationship_description", "spatial relation": "relationship_description",
    "relationship": "relationship_description", "relation": "relationship_description",
    "relation description": "relationship_description",
    "spatial understanding": "relationship_description",
    # context_understanding
    "scene understanding": "context_understanding", "context": "context_understanding",
    "contextual understanding": "context_understanding", "scene recognition": "context_understanding",
    "image understanding": "context_understanding",
    # behavior_prediction
    "behaviour": "behavior_prediction", "behavior": "behavior_prediction",
    "behaviour prediction": "behavior_prediction", "action prediction": "behavior_prediction",
    "action recognition": "behavior_prediction", "activity recognition": "behavior_prediction",
    # knowledge_integration
    "knowledge": "knowledge_integration", "commonsense": "knowledge_integration",
    "common sense": "knowledge_integration", "commonsense reasoning": "knowledge_integration",
    "world knowledge": "knowledge_integration", "external knowledge": "knowledge_integration",
}  # fmt: skip

SKILL_RULES: tuple[Rule, ...] = (
    ("calculating", ("count", "number", "numer", "math", "arithmet", "calcul", "quantit",
                     "measur", "comput", "estimat", "tally")),
    ("grounding", ("locat", "locali", "localis", "ground", "detect", "bbox", "box", "find",
                   "segment", "pinpoint")),
    ("referencing", ("refer", "attribut", "textur", "color", "colour", "shape", "material",
                     "region")),
    ("ocr", ("ocr", "read", "text", "optical", "handwrit", "written", "transcri", "typograph")),
    ("relationship_description", ("spatial", "relation", "position", "relativ", "layout",
                                  "arrang", "orient", "interact", "between", "proximit")),
    ("behavior_prediction", ("behavio", "behaviou", "action", "predict", "intent", "activit",
                             "motion", "future", "forecast", "anticipat", "gesture")),
    ("knowledge_integration", ("knowledg", "commonsens", ("common", "sense"), "world", "fact",
                               "histor", "cultur", "expert", "domain", "encyclop")),
    ("context_understanding", ("context", "scene", "setting", "situat", "environment",
                               "overall", "global", "emotion", "mood", "atmospher", "caption",
                               "summar", "event")),
    ("existence", ("exist", "presen", "absen", "recogni", "identif", "categor")),
)  # fmt: skip

MANIPULATION_SYNONYMS: dict[str, str] = {
    "ground": "grounding", "locate": "grounding", "localize": "grounding", "detect": "grounding",
    "detection": "grounding", "refer": "referring", "reference": "referring",
    "describe": "referring", "calculation": "calculate", "compute": "calculate",
    "count": "calculate", "counting": "calculate", "compare": "calculate", "math": "calculate",
    "read": "ocr", "readtext": "ocr", "text recognition": "ocr",
}  # fmt: skip

FORMAT_SYNONYMS: dict[str, str] = {
    # open_ended (the authors' "Norm" marks plain seed questions)
    "norm": "open_ended", "normal": "open_ended", "open": "open_ended", "qa": "open_ended",
    "vqa": "open_ended", "question": "open_ended", "free form": "open_ended",
    "plain": "open_ended", "general": "open_ended", "conversation qa": "open_ended",
    "question answering": "open_ended", "visual question answering": "open_ended",
    "short answer": "short_answer", "brief answer": "short_answer",
    "one word answer": "short_answer",
    "mcq": "multiple_choice", "multiple choice": "multiple_choice", "choice": "multiple_choice",
    "multi choice": "multiple_choice", "multichoice": "multiple_choice",
    "single choice": "multiple_choice",
    "yes no": "yes_no", "binary": "yes_no", "yesno": "yes_no",
    "true false": "true_false_justify", "true false justification": "true_false_justify",
    "true false with justification": "true_false_justify", "truefalse": "true_false_justify",
    "fill blank": "fill_in_blank", "cloze": "fill_in_blank", "fill gap": "fill_in_blank",
    "order": "ordering", "sorting": "ordering", "sequence": "ordering", "ranking": "ordering",
    "match": "matching", "text image matching": "matching", "image text matching": "matching",
    "object region matching": "matching", "region object matching": "matching",
    "box selection": "region_selection",
    "counting": "counting_list",
    "compare": "comparison",
    "description": "detailed_description", "caption": "detailed_description",
    "detailed caption": "detailed_description",
    "role play": "dialogue", "roleplay": "dialogue", "conversation": "dialogue",
    "multi turn": "dialogue", "multiturn": "dialogue",
    "creative": "creative_writing", "story": "creative_writing", "poem": "creative_writing",
    "creative content generation": "creative_writing", "creative content": "creative_writing",
    "constrained": "constrained_instruction", "instruction": "constrained_instruction",
    "instruction following": "constrained_instruction",
    "correction": "error_correction",
    "step": "step_by_step", "reasoning": "step_by_step", "complex reasoning": "step_by_step",
    "chain thought": "step_by_step", "cot": "step_by_step",
    "missing object": "missing_object_selection", "missing object detection":
    "missing_object_selection",
    "image style classification": "style_classification", "style classification":
    "style_classification", "art type": "style_classification", "art": "style_classification",
    "art style": "style_classification", "image style": "style_classification",
    "text spotting": "text_detection", "translation": "text_translation",
    "coreference": "coreference_resolution",
    "depth ordering": "depth_order", "depth": "depth_order",
    "distance": "relative_distance",
    "completeness response": "completeness_check", "response completeness":
    "completeness_check", "completeness": "completeness_check",
    "rationale": "rationale_generation", "rationales generation": "rationale_generation",
    "explanation": "rationale_generation",
}  # fmt: skip

FORMAT_RULES: tuple[Rule, ...] = (
    ("missing_object_selection", ("missing", "absent")),
    ("completeness_check", ("completeness", "incomplet")),
    ("coreference_resolution", ("coref", "pronoun", "anaphor", "referent")),
    ("text_translation", ("translat",)),
    ("text_detection", (("text", "detect"), ("text", "locat"), ("text", "local"), ("text", "spot"))),
    ("style_classification", ("style", "artist", "artwork", "painting", "genre", "aesthetic")),
    ("depth_order", ("depth",)),
    ("relative_distance", ("distanc", "proximit", "closer", "farther", "nearest")),
    ("rationale_generation", ("rational", "explain", "explanat")),
    ("true_false_justify", (("true", "false"),)),
    ("yes_no", ("yes", "boolean", "binary")),
    ("multiple_choice", ("choic", "mcq", "option")),
    ("fill_in_blank", ("blank", "cloze", ("fill", "gap"))),
    ("matching", ("match", "pairing", "correspond")),
    ("region_selection", ("region", "box")),
    ("counting_list", ("count", "enumerat")),
    ("ordering", ("order", "rank", "sort", "sequenc")),
    ("comparison", ("compar", "contrast", "versus", "differen")),
    ("error_correction", ("error", "mistake", "correct", "fix")),
    ("dialogue", ("dialog", "convers", "role", "chat", "interview", "turn")),
    ("creative_writing", ("creativ", "story", "stories", "poem", "poetry", "haiku", "imagin",
                          "fiction", "slogan")),
    ("constrained_instruction", ("instruct", "constrain")),
    ("step_by_step", ("step", "reason", "chain", "cot", "complex", "logic", "solv")),
    ("detailed_description", ("descri", "caption", "detail", "narrat")),
    ("short_answer", ("short", "brief", "concise")),
    ("open_ended", ("open", "free", "norm", "general", "plain", "vqa")),
)  # fmt: skip
