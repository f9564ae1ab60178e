"""Tokenizers: the tiny preset's BPE (trained offline, deterministically) and the placeholder
tokens that every preset adds.

The tiny tokenizer is a byte-level BPE trained with ``tokenizers`` on R1-Omni's prompt, every
label of every label set, the placeholder / tag tokens and SynthEmo's reasoning corpus
(``r1omni.data.synth.explain.reasoning_corpus()``), wrapped as a transformers fast tokenizer
with a Qwen-style (ChatML) chat template. Byte-level means any text encodes (no unknown token).
"""

from __future__ import annotations

import functools

from r1omni.settings import (
    ANSWER_CLOSE,
    ANSWER_OPEN,
    AUDIO_END,
    AUDIO_START,
    AUDIO_TOKEN,
    LABEL_SETS,
    PROMPT,
    THINK_CLOSE,
    THINK_OPEN,
    VIDEO_END,
    VIDEO_START,
    VIDEO_TOKEN,
)

#: Placeholder tokens spliced around / replaced by media embeddings (special: never decoded).
MEDIA_TOKENS: dict[str, str] = {
    "vi_start": VIDEO_START,
    "video": VIDEO_TOKEN,
    "vi_end": VIDEO_END,
    "au_start": AUDIO_START,
    "audio": AUDIO_TOKEN,
    "au_end": AUDIO_END,
}
#: Reasoning / answer tags: single tokens in the tiny vocabulary, but NOT special, so
#: ``batch_decode(skip_special_tokens=True)`` keeps them for the rewards.
TAG_TOKENS: tuple[str, ...] = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)
IM_START, IM_END, ENDOFTEXT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"

#: ChatML, as Qwen2 uses (without Qwen's default system prompt).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

TINY_VOCAB_SIZE = 1024


def tiny_corpus() -> list[str]:
    """The training text of the tiny tokenizer, in a fixed order."""
    from r1omni.data.synth.explain import reasoning_corpus

    labels = sorted({label for labels in LABEL_SETS.values() for label in labels})
    lines = [PROMPT]
    lines += [f"{ANSWER_OPEN}{label}{ANSWER_CLOSE}" for label in labels]
    lines += list(reasoning_corpus())
    return lines


@functools.lru_cache(maxsize=1)
def _train_tiny_bpe_json() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    special = [ENDOFTEXT, IM_START, IM_END, *MEDIA_TOKENS.values()]
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_VOCAB_SIZE,
        special_tokens=special,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
    )
    tok.train_from_iterator(tiny_corpus(), trainer=trainer)
    tok.add_tokens(list(TAG_TOKENS))
    return tok.to_str()


def build_tiny_tokenizer():
    """The tiny preset's tokenizer (identical bytes on every call and machine)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer.from_str(_train_tiny_bpe_json())
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        additional_special_tokens=[IM_START, *MEDIA_TOKENS.values()],
        padding_side="left",
        model_max_length=4096,
    )
    hf.chat_template = CHAT_TEMPLATE
    return hf


def add_media_tokens(tokenizer) -> int:
    """Add the placeholder tokens to a pretrained tokenizer (e.g. Qwen2.5's) as special tokens;
    returns how many were new. Sets left padding (generation) and a pad token if absent."""
    present = set(tokenizer.get_vocab())
    new = [t for t in MEDIA_TOKENS.values() if t not in present]
    added = (
        tokenizer.add_special_tokens({"additional_special_tokens": new}, replace_extra_special_tokens=False)
        if new
        else 0
    )
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        raise ValueError("the LM tokenizer has no pad token; set one in its tokenizer_config.json")
    if tokenizer.chat_template is None:
        raise ValueError("the LM tokenizer has no chat_template; the R1-Omni prompt is applied through it")
    return added


def token_ids(tokenizer) -> dict[str, int]:
    """Ids of the placeholder tokens plus ``eos`` and ``pad``, checked to be single tokens."""
    ids = {}
    for name, text in MEDIA_TOKENS.items():
        enc = tokenizer.convert_tokens_to_ids(text)
        if enc is None or enc == tokenizer.unk_token_id:
            raise ValueError(f"tokenizer has no token {text!r}; call add_media_tokens first")
        ids[name] = int(enc)
    ids["eos"] = int(tokenizer.eos_token_id)
    ids["pad"] = int(tokenizer.pad_token_id)
    return ids
