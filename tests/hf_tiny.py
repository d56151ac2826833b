"""A tiny randomly initialised LLaVA-style model saved to a folder, built offline for tests.

Nothing is downloaded: the tokenizer is a byte-level BPE trained here on a few sentences and
wrapped in ``PreTrainedTokenizerFast`` with a small chat template, the image processor is built
from its settings, and the model (a one-layer CLIP-style vision tower of 16 wide, a two-layer
Llama text model of 32 wide; about 50k parameters) is made from a config with seeded random
weights. Its output is gibberish by design. ``build_tiny_lm`` makes a text-only Llama with the
same tokenizer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SPECIAL = ["<pad>", "<s>", "<unk>", "<image>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
CORPUS = [
    "A red circle sits to the left of a small blue square.",
    "How many stars are there in the image? There are two stars.",
    '{"items": [{"question": "What color is the triangle?", "answer": "Green."}]}',
    "Is there a yellow diamond in the picture? Yes, near the top right corner.",
    "grounding referencing calculating ocr existence reasoning perception interactive",
]
# the assistant's turns (with their end token) inside {% generation %}: TRL then puts the loss
# on the answers only (``assistant_only_loss``)
CHAT_TEMPLATE = (
    "{% macro body(m) %}{% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>\n"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|end|>\n{% endmacro %}"
    "{% for m in messages %}<|{{ m['role'] }}|>\n"
    "{% if m['role'] == 'assistant' %}{% generation %}{{ body(m) }}{% endgeneration %}"
    "{% else %}{{ body(m) }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def _tokenizer() -> Any:
    """A byte-level BPE trained on ``CORPUS``, with the chat template, as a fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(CORPUS * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<s>",
        eos_token="<|end|>",
        pad_token="<pad>",
        unk_token="<unk>",
        model_max_length=8192,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _text_config(tokenizer: Any) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def build_tiny_lm(out: Path, seed: int = 0) -> Path:
    """Write a loadable text-only causal LM folder (same tokenizer, no vision) at ``out``."""
    import torch
    from transformers import LlamaForCausalLM

    tokenizer = _tokenizer()
    torch.manual_seed(seed)
    model = LlamaForCausalLM(_text_config(tokenizer))
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_tiny_vlm(out: Path, seed: int = 0) -> Path:
    """Write a loadable image-text-to-text model folder at ``out``; returns ``out``."""
    import torch
    from transformers import (
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tokenizer = _tokenizer()
    images = CLIPImageProcessorPil(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    processor = LlavaProcessor(
        image_processor=images,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        ),
        text_config=_text_config(tokenizer),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
