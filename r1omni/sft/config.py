"""SFT settings as one dataclass, with trl / transformers names, and presets.

``SFTConfig.from_preset("r1omni")`` is the paper's cold start (5 epochs, global batch 16, lr 2e-5,
cosine, warm-up 0.03); ``label_only`` its MAFW-DFEW-SFT baseline; ``course`` and
``course_label_only`` the same two for the tiny model on SynthEmo on a 2-core CPU, ``perception``
the base model's captioning alignment; ``smol_course``, ``smol_course_label_only`` and
``smol_perception`` the three for the smol model preset (a pretrained LM), which a notebook's
"course" means when the run's model is smol (:func:`preset_for_model`). Why each course value is
what it is: ``docs/tuning.md``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from r1omni.settings import MODALITIES
from r1omni.train.loop import DEVICES, RESUME_MODES

TARGETS: tuple[str, ...] = ("conversation", "answer_only")


@dataclass
class SFTConfig:
    """Every setting of :func:`r1omni.sft.train_sft` (defaults = the paper's cold start, ``r1omni``)."""

    # --- schedule ---------------------------------------------------------------------
    num_train_epochs: float = 5.0
    """Passes over the manifest; optimizer steps = floor(epochs * n / global batch) when max_steps <= 0."""
    max_steps: int = -1
    """Optimizer steps to run; <= 0 means num_train_epochs passes (overrides the epochs when > 0)."""
    per_device_train_batch_size: int = 2
    """Clips per forward pass on one process."""
    gradient_accumulation_steps: int = 8
    """Forward/backward passes per optimizer step; global batch = per_device x accumulation x processes."""
    learning_rate: float = 2e-5
    """Peak AdamW learning rate (paper cold start: 2e-5)."""
    lr_scheduler_type: str = "cosine"
    """Any name of ``transformers.get_scheduler`` (cosine, linear, constant_with_warmup, ...)."""
    warmup_ratio: float = 0.03
    """Fraction of the optimizer steps spent in linear warm-up (paper: 0.03)."""
    weight_decay: float = 0.0
    """AdamW decoupled weight decay."""
    adam_beta1: float = 0.9
    """AdamW beta1."""
    adam_beta2: float = 0.999
    """AdamW beta2."""
    max_grad_norm: float = 1.0
    """Clip the global gradient norm to this value (<= 0 disables clipping)."""
    seed: int = 0
    """Seeds the data order, dropout and any model initialisation done here."""

    # --- inputs -------------------------------------------------------------------------
    target: str = "conversation"
    """Training text: the manifest's gpt turn ("conversation") or ``<answer>label</answer>`` ("answer_only")."""
    modalities: str = "av"
    """What the model sees while training: "av", "v", "a" or "t"."""
    limit: int = 0
    """Use only the first ``limit`` manifest records (0 = all; more than the manifest holds is an error)."""
    train_projectors: bool = True
    """Train the modality projectors (the paper does)."""
    train_lm: bool = True
    """Train the language model (the paper does). The towers always stay frozen."""
    use_feature_cache: bool = True
    """Run the frozen towers once per clip and reuse their features across epochs (same logits)."""
    feature_cache_dir: str = ""
    """Directory of the on-disk tower-feature cache ("" = ``<output_dir>/feature_cache``)."""
    clip_cache_dir: str = ""
    """Where decoded clips are stored as .npz ("" = decoded clips kept in memory only)."""

    # --- hardware -----------------------------------------------------------------------
    device: str = "auto"
    """"cpu", "cuda" or "auto" (accelerate picks; "cpu" forces CPU even with a GPU)."""
    bf16: bool = False
    """bf16 mixed precision through accelerate (the paper: True on GPUs)."""

    # --- logging and checkpoints --------------------------------------------------------
    logging_steps: int = 1
    """Write a metrics.jsonl / TensorBoard row every N steps (and always at the last)."""
    save_steps: int = 0
    """Checkpoint every N steps (and always at the last step); 0 = only at the end."""
    save_total_limit: int = 2
    """Keep the last K checkpoints (0 = keep all)."""
    resume_from_checkpoint: str = "auto"
    """"auto" = continue from the latest complete checkpoint in output_dir if any (it must come from a
    run with the same settings, data and starting policy, else a ValueError naming what differs);
    "never" = start fresh (old checkpoints in output_dir are deleted); or a checkpoint path."""
    show_progress: bool = True
    """Show a tqdm progress bar on the main process."""

    preset: str = "r1omni"
    """Name of the preset these values started from (recorded for provenance)."""

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"SFTConfig.{name}={getattr(self, name)!r}: {why}")

        for name in ("per_device_train_batch_size", "gradient_accumulation_steps", "logging_steps"):
            if getattr(self, name) < 1:
                raise bad(name, "must be >= 1")
        if self.max_steps <= 0 and not self.num_train_epochs > 0:
            raise bad("num_train_epochs", "must be > 0 when max_steps <= 0")
        if self.target not in TARGETS:
            raise bad("target", f"expected one of {TARGETS}")
        if self.modalities not in MODALITIES:
            raise bad("modalities", f"expected one of {MODALITIES}")
        if not 0 <= self.warmup_ratio < 1:
            raise bad("warmup_ratio", "must be in [0, 1)")
        if self.limit < 0:
            raise bad("limit", "must be >= 0 (0 = every record)")
        if self.device not in DEVICES:
            raise bad("device", f"expected one of {DEVICES}")
        if not self.resume_from_checkpoint:
            raise bad("resume_from_checkpoint", f"expected one of {RESUME_MODES} or a checkpoint path")

    @property
    def per_step_per_process(self) -> int:
        """Clips one process consumes per optimizer step."""
        return self.per_device_train_batch_size * self.gradient_accumulation_steps

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SFTConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise, naming them."""
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"SFTConfig: unknown fields {unknown}")
        return cls(**values)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> SFTConfig:
        """A named preset (see the module docstring) with ``overrides`` applied on top."""
        if name not in SFT_PRESETS:
            raise ValueError(f"unknown SFT preset {name!r}; expected one of {sorted(SFT_PRESETS)}")
        return cls.from_dict({**SFT_PRESETS[name], **overrides, "preset": name})


#: Named presets: overrides of the :class:`SFTConfig` defaults (which are the paper's cold start).
#: The course values were chosen by measurement on the default SynthEmo set: docs/tuning.md.
SFT_PRESETS: dict[str, dict[str, Any]] = {
    "r1omni": dict(),
    # The paper does not give the baseline's learning rate; the cold start's 2e-5 is used.
    "label_only": dict(
        num_train_epochs=1.0, per_device_train_batch_size=8, gradient_accumulation_steps=16, target="answer_only"
    ),
    # A randomly initialised tiny LM must learn the tokens from scratch: a big lr, 10 epochs.
    "course": dict(
        num_train_epochs=10.0,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=1,
        learning_rate=1e-2,
        warmup_ratio=0.05,
        device="cpu",
    ),
    "course_label_only": dict(
        num_train_epochs=10.0,
        per_device_train_batch_size=16,
        gradient_accumulation_steps=1,
        learning_rate=3e-3,
        warmup_ratio=0.05,
        target="answer_only",
        device="cpu",
    ),
    # The base model's captioning alignment on the perception split (notebook 01): the same tiny LM
    # learning its tokens from scratch, on 1,800 captions. Measured: docs/tuning.md.
    "perception": dict(
        num_train_epochs=5.0,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=1,
        learning_rate=1e-2,
        warmup_ratio=0.05,
        device="cpu",
    ),
    # The smol model preset (pretrained SmolLM2-135M, fresh projectors): a small lr that keeps what the
    # LM knows, one epoch (a step costs ~10 s on a CPU, ~400x the tiny model's). Set by hand from the
    # measured step times, not tuned: docs/tuning.md ("Audio tokens of the smol preset").
    "smol_course": dict(
        num_train_epochs=1.0,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=1,
        learning_rate=1e-4,
        warmup_ratio=0.05,
        device="cpu",
    ),
    "smol_course_label_only": dict(
        num_train_epochs=1.0,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=1,
        learning_rate=1e-4,
        warmup_ratio=0.05,
        target="answer_only",
        device="cpu",
    ),
    "smol_perception": dict(
        num_train_epochs=1.0,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=1,
        learning_rate=1e-4,
        warmup_ratio=0.05,
        device="cpu",
    ),
}
#: The label-only baseline that goes with each cold-start preset (notebook 01 trains both).
LABEL_ONLY_PRESET: dict[str, str] = {
    "r1omni": "label_only",
    "course": "course_label_only",
    "label_only": "label_only",
    "course_label_only": "course_label_only",
    "smol_course": "smol_course_label_only",
    "smol_course_label_only": "smol_course_label_only",
}
#: The course presets' variants for a model preset whose LM is pretrained: ``course`` in a notebook
#: means the recipe of the run's model (:func:`preset_for_model`).
MODEL_PRESET_VARIANTS: dict[str, dict[str, str]] = {
    "smol": {
        "course": "smol_course",
        "course_label_only": "smol_course_label_only",
        "perception": "smol_perception",
    },
}

#: What ``smoke=True`` caps (CI: 2 optimizer steps on 8 clips, batches of at most 4).
SMOKE_OVERRIDES: dict[str, Any] = dict(limit=8, show_progress=False, gradient_accumulation_steps=1)
#: Tighter smoke caps per model preset (smol: one step of 2 clips; a step costs seconds, not ms).
SMOKE_MODEL_OVERRIDES: dict[str, dict[str, Any]] = {"smol": dict(limit=2, max_steps=1, per_device_train_batch_size=2)}


def preset_for_model(preset: str, model_preset: str = "tiny") -> str:
    """The SFT preset that ``preset`` names for a model built from ``model_preset``: the course
    presets have a variant for smol; any other preset or model is taken as it is.

    >>> preset_for_model("course", "smol"), preset_for_model("r1omni", "smol"), preset_for_model("course")
    ('smol_course', 'r1omni', 'course')
    """
    return MODEL_PRESET_VARIANTS.get(model_preset, {}).get(preset, preset)


def config_from_params(
    preset: str,
    *,
    num_train_epochs: float = 0.0,
    max_steps: int = 0,
    learning_rate: float = 0.0,
    batch_size: int = 0,
    seed: int = 0,
    device: str = "cpu",
    resume: bool = False,
    smoke: bool = False,
    model_preset: str = "tiny",
    **fields: Any,
) -> SFTConfig:
    """A notebook's SFT config: ``preset`` (for ``model_preset``: :func:`preset_for_model`) with every
    non-zero parameter applied on top.

    0 means "the preset's value"; ``batch_size`` is ``per_device_train_batch_size``; ``resume``
    continues from the stage's last checkpoint ("auto") instead of starting afresh ("never");
    ``fields`` are further SFTConfig fields set as given. ``smoke`` caps the run at 2 optimizer
    steps on 8 clips with no progress bar (for CI; smol: 1 step on 2 clips).

    >>> c = config_from_params("course", batch_size=16, smoke=True)
    >>> c.max_steps, c.per_device_train_batch_size, c.limit, c.resume_from_checkpoint
    (2, 4, 8, 'never')
    >>> c = config_from_params("course", smoke=True, model_preset="smol")
    >>> c.preset, c.max_steps, c.per_device_train_batch_size, c.limit
    ('smol_course', 1, 2, 2)
    """
    preset = preset_for_model(preset, model_preset)
    overrides: dict[str, Any] = dict(
        seed=seed, device=device, resume_from_checkpoint="auto" if resume else "never", **fields
    )
    for name, value in (
        ("num_train_epochs", num_train_epochs),
        ("max_steps", max_steps),
        ("learning_rate", learning_rate),
        ("per_device_train_batch_size", batch_size),
    ):
        if value:
            overrides[name] = value
    if smoke:
        overrides.update(
            SMOKE_OVERRIDES, max_steps=min(max_steps or 2, 2), per_device_train_batch_size=min(batch_size or 4, 4)
        )
        overrides.update(SMOKE_MODEL_OVERRIDES.get(model_preset, {}))
    return SFTConfig.from_preset(preset, **overrides)
