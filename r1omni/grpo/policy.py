"""The policy as the GRPO loop sees it: prompts -> batch, sampling, forward kwargs, save.

Two adapters share one small interface, so the same loop trains the omni model on video +
audio and a plain text causal LM (the latter lets ``benchmarks/bench_grpo_vs_trl.py`` time this
loop against trl's ``GRPOTrainer`` on the very same policy):

- ``prompt_batch(records, modalities) -> batch``: the left-padded prompts (+ media) of records.
- ``generate(model, batch, ...) -> Rollout``: ``num_return_sequences`` samples per prompt.
- ``forward_kwargs(batch, input_ids, attention_mask) -> dict``: what ``model(**kw).logits``
  needs for full sequences ``cat(prompt, completion)`` (the media of ``batch`` included).
  The loop calls the (possibly DDP/DeepSpeed-wrapped) module itself, so gradients sync.
- ``decode(ids)``, ``save(directory, model)``, and ``model`` (the trainable ``nn.Module``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from r1omni.data.dataset import ClipCache
from r1omni.io import atomic_replace_dir
from r1omni.model import (
    FeatureCache,
    completion_mask_from_eos,
    load_initial_policy,
    position_ids_from_mask,
    save_policy,
)


@dataclass
class Rollout:
    """Sampled completions of a prompt batch (``N = prompts x G`` rows)."""

    prompt_ids: torch.Tensor  # (N, P) left-padded
    prompt_mask: torch.Tensor  # (N, P)
    completion_ids: torch.Tensor  # (N, C) padded after eos
    completion_mask: torch.Tensor  # (N, C) 1 up to and including the first eos
    batch: Any  # the prompt batch repeated G times (media for the forward passes)
    old_logp: torch.Tensor | None = None  # (N, C) sampling policy, set by the trainer
    ref_logp: torch.Tensor | None = None  # (N, C) reference policy, set by the trainer
    advantages: torch.Tensor | None = None  # (N,)
    loss_mask: torch.Tensor | None = None  # (N, C) float

    def truncated(self, eos_token_id: int) -> torch.Tensor:
        """(N,) bool: completions without any eos (they hit max_completion_length)."""
        return ~((self.completion_ids == eos_token_id) & (self.completion_mask == 1)).any(dim=1)


class TextPolicy:
    """A transformers causal LM + tokenizer; records carry the prompt text in ``"prompt"``."""

    kind = "text"

    def __init__(self, model: torch.nn.Module, tokenizer: Any):
        self.model, self.tokenizer = model, tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            raise ValueError("TextPolicy: the tokenizer has no pad token (set pad_token in tokenizer_config.json)")

    @property
    def pad_token_id(self) -> int:
        return self.tokenizer.pad_token_id

    @property
    def eos_token_id(self) -> int:
        return self.tokenizer.eos_token_id

    @classmethod
    def load(cls, directory: str | Path) -> TextPolicy:
        """Load ``AutoModelForCausalLM`` + ``AutoTokenizer`` from a local directory."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
        return cls(model, AutoTokenizer.from_pretrained(directory))

    def prompt_batch(self, records: Sequence[dict[str, Any]], modalities: Sequence[str] | None = None) -> dict:
        missing = [i for i, r in enumerate(records) if not isinstance(r.get("prompt"), str)]
        if missing:
            raise ValueError(f"TextPolicy: records {missing} have no string field 'prompt'")
        enc = self.tokenizer([r["prompt"] for r in records], padding=True, return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def generate(
        self,
        model: torch.nn.Module,
        batch: dict,
        *,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        num_return_sequences: int = 1,
    ) -> Rollout:
        prompt_ids, prompt_mask = batch["input_ids"], batch["attention_mask"]  # (B, P)
        out = model.generate(
            input_ids=prompt_ids,
            attention_mask=prompt_mask,
            do_sample=True,
            temperature=temperature,
            top_p=top_p,
            top_k=0,
            max_new_tokens=max_new_tokens,
            num_return_sequences=num_return_sequences,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
        )  # (B * G, P + C)
        completion_ids = out[:, prompt_ids.size(1) :]  # (N, C)
        mask = completion_mask_from_eos(completion_ids, self.tokenizer.eos_token_id)
        repeated = {k: v.repeat_interleave(num_return_sequences, dim=0) for k, v in batch.items()}
        return Rollout(repeated["input_ids"], repeated["attention_mask"], completion_ids, mask, repeated)

    def forward_kwargs(self, batch: dict, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict:
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "position_ids": position_ids_from_mask(attention_mask),
        }

    def batch_to(self, batch: dict, device: torch.device) -> dict:
        return {k: v.to(device) for k, v in batch.items()}

    def decode(self, ids: torch.Tensor) -> list[str]:
        return self.tokenizer.batch_decode(ids, skip_special_tokens=True)

    def save(self, directory: str | Path, model: torch.nn.Module | None = None) -> Path:
        """Save model + tokenizer atomically (temp dir, then rename)."""
        directory = Path(directory)
        tmp = directory.with_name(f".{directory.name}.tmp")
        (model or self.model).save_pretrained(tmp)
        self.tokenizer.save_pretrained(tmp)
        return atomic_replace_dir(tmp, directory)


class OmniPolicy:
    """The omni model + processor (contract of ``r1omni.model``); records are manifest lines."""

    kind = "omni"

    def __init__(
        self,
        model: torch.nn.Module,
        processor: Any,
        *,
        clip_cache: Any = None,
        use_feature_cache: bool = False,
        feature_cache_dir: str = "",
    ):
        self.model, self.processor = model, processor
        self.clip_cache = clip_cache if clip_cache is not None else ClipCache()
        self.use_feature_cache = use_feature_cache
        self.feature_cache = None
        if use_feature_cache and feature_cache_dir:
            self.feature_cache = FeatureCache(feature_cache_dir)
        self._features: dict[tuple, Any] = {}  # in-memory tower features per (clip id, modality)

    @property
    def pad_token_id(self) -> int:
        return self.processor.tokenizer.pad_token_id

    @property
    def eos_token_id(self) -> int:
        return self.processor.tokenizer.eos_token_id

    def prompt_batch(self, records: Sequence[dict[str, Any]], modalities: Sequence[str]) -> Any:
        clips = [None if m == "t" else self.clip_cache.get(r["video_path"]) for r, m in zip(records, modalities)]
        batch = self.processor(clips, modalities=list(modalities))
        if self.use_feature_cache:
            batch = self._encode(batch, clips)
        return batch

    def _encode(self, batch: Any, clips: list) -> Any:
        """Tower features instead of raw media (same logits; see ``OmniModel.encode_media``)."""
        device = next(self.model.parameters()).device
        with torch.no_grad():
            if self.feature_cache is not None:
                return self.feature_cache.encode(self.model, batch.to(device), clips)
            return self.model.encode_media(batch.to(device))

    def generate(
        self,
        model: torch.nn.Module,
        batch: Any,
        *,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        num_return_sequences: int = 1,
    ) -> Rollout:
        res = model.generate(
            batch,
            max_new_tokens=max_new_tokens,
            do_sample=True,
            temperature=temperature,
            top_p=top_p,
            num_return_sequences=num_return_sequences,
        )
        return Rollout(res.prompt_ids, res.prompt_mask, res.completion_ids, res.completion_mask.long(), res.batch)

    def forward_kwargs(self, batch: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict:
        kwargs = {k: v for k, v in dict(batch).items() if k not in ("input_ids", "attention_mask", "labels")}
        return {**kwargs, "input_ids": input_ids, "attention_mask": attention_mask}

    def batch_to(self, batch: Any, device: torch.device) -> Any:
        return batch.to(device)

    def decode(self, ids: torch.Tensor) -> list[str]:
        return self.processor.batch_decode(ids, skip_special_tokens=True)

    def save(self, directory: str | Path, model: torch.nn.Module | None = None) -> Path:
        save_policy(directory, model or self.model, self.processor)
        return Path(directory)


def load_policy_adapter(
    policy: Any, *, seed: int = 0, use_feature_cache: bool = False, feature_cache_dir: str = ""
) -> TextPolicy | OmniPolicy:
    """A policy adapter from an adapter (returned as is), a saved directory or an omni preset name.

    A directory whose ``config.json`` names a transformers causal LM (``architectures`` ending in
    ``ForCausalLM``) is a :class:`TextPolicy`; anything else goes to ``r1omni.model``.
    """
    if isinstance(policy, (TextPolicy, OmniPolicy)):
        return policy
    path = Path(str(policy))
    cfg = path / "config.json"
    if path.is_dir() and cfg.is_file():
        arch = json.loads(cfg.read_text()).get("architectures") or []
        if any(str(a).endswith("ForCausalLM") for a in arch):
            return TextPolicy.load(path)
    model, processor = load_initial_policy(str(policy), seed=seed)
    return OmniPolicy(model, processor, use_feature_cache=use_feature_cache, feature_cache_dir=feature_cache_dir)


def make_tiny_text_policy(
    directory: str | Path,
    texts: Sequence[str],
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    vocab_size: int = 512,
    seed: int = 0,
) -> Path:
    """Train a byte-level BPE on ``texts`` and save a random tiny Qwen2 causal LM with it.

    Offline and fast (< 1 s): for tests and the trl benchmark. eos = pad = ``<|endoftext|>``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(fast),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        bos_token_id=fast.eos_token_id,
        tie_word_embeddings=True,
    )
    model = Qwen2ForCausalLM(config)
    return TextPolicy(model, fast).save(directory)
