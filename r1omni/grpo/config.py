"""GRPO settings as one dataclass, with trl / paper names, and two presets.

``GRPOConfig.from_preset("r1omni")`` reproduces R1-Omni's RLVR run (8 generations, beta 0.04,
temperature 1.0, lr 1e-6 with a linear schedule, 512/512 prompt/completion tokens, loss
``grpo`` = token mean per sequence then mean over sequences, advantages scaled by the group
std, one policy update per batch). Current trl defaults differ (beta 0.0, loss ``dapo``), so
nothing here inherits from trl's defaults.

``GRPOConfig.from_preset("course")`` is set for the tiny omni model on SynthEmo on a 2-core
CPU: 96-token completions, temperature 0.7, a big learning rate, 8 clips x 8 generations per step,
300 steps (why each differs from the paper: docs/tuning.md). ``smol_course`` is the same for the
smol model preset (2 clips x 4 generations, lr 1e-5), which notebook 03's "course" means when the
run's model is smol (:func:`preset_for_model`).

A "step" is one rollout batch (``per_device_train_batch_size`` x ``gradient_accumulation_steps``
x processes prompts, ``num_generations`` completions each) followed by ``num_iterations``
optimizer updates on it. The lr schedule counts optimizer updates.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from r1omni.rewards import reward_name
from r1omni.settings import LOSS_TYPES, MODALITIES, SCALE_REWARDS
from r1omni.train.loop import DEVICES, RESUME_MODES


@dataclass
class GRPOConfig:
    """Every setting of :func:`r1omni.grpo.train_grpo` (defaults = the ``r1omni`` preset)."""

    # --- groups and sampling -------------------------------------------------------------
    num_generations: int = 8
    """G: completions sampled per prompt; advantages are normalised within each group of G."""
    temperature: float = 1.0
    """Sampling temperature; log-probs for the loss use logits / temperature too (as trl)."""
    top_p: float = 1.0
    """Nucleus sampling mass (1.0 = sample from the full tempered distribution)."""
    max_prompt_length: int = 512
    """Longest prompt in tokens (media tokens included); a longer prompt raises, never truncates."""
    max_completion_length: int = 512
    """Tokens generated per completion at most; a completion that hits it has no eos (clipped)."""

    # --- the loss -----------------------------------------------------------------------
    beta: float = 0.04
    """KL weight toward the frozen reference policy (k3 estimator). 0 = no reference model."""
    track_kl: bool = False
    """Keep the reference model when beta == 0 only to log the KL (one more forward per step)."""
    epsilon_low: float = 0.2
    """Lower clip range of the ratio: clip(ratio, 1 - epsilon_low, 1 + epsilon_high)."""
    epsilon_high: float = 0.2
    """Upper clip range of the ratio (DAPO's clip-higher when > epsilon_low)."""
    loss_type: str = "grpo"
    """Aggregation: "grpo" (token mean per sequence, then mean), "dapo" (sum / tokens),
    "dr_grpo" (sum / (sequences x max_completion_length))."""
    scale_rewards: str = "group"
    """Advantage scale: "group" ((r - mean_g) / (std_g + 1e-4)), "batch" (std over the batch), "none"."""
    mask_truncated_completions: bool = False
    """Drop completions that hit max_completion_length without eos from the loss (DAPO)."""
    reward_funcs: list[Any] = field(default_factory=lambda: ["accuracy", "format"])
    """Reward functions: names in ``r1omni.rewards.REWARD_FUNCS``, "module:function" strings, or
    callables ``f(completions, **columns) -> list[float]``. Total reward = weighted sum."""
    reward_weights: list[float] | None = None
    """One weight per reward function (None = all 1.0, the paper's accuracy + format)."""

    # --- optimisation -------------------------------------------------------------------
    learning_rate: float = 1e-6
    """Peak AdamW learning rate."""
    lr_scheduler_type: str = "linear"
    """Any name of ``transformers.get_scheduler`` ("linear", "cosine", "constant", ...)."""
    warmup_ratio: float = 0.0
    """Fraction of optimizer updates spent warming the lr up from 0."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    adam_beta1: float = 0.9
    """AdamW beta1."""
    adam_beta2: float = 0.999
    """AdamW beta2."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm (<= 0 disables)."""
    per_device_train_batch_size: int = 1
    """Prompts per micro-batch on each process (each gives num_generations completions)."""
    gradient_accumulation_steps: int = 2
    """Micro-batches whose gradients are summed before an optimizer update."""
    num_iterations: int = 1
    """mu: optimizer updates per rollout batch (1 = the paper; ratio = 1, no clipping active)."""
    max_steps: int = -1
    """Rollout steps to run; <= 0 means num_train_epochs passes over the prompts."""
    num_train_epochs: float = 2.0
    """Passes over the prompts when max_steps <= 0 (the paper: 2 epochs)."""
    seed: int = 0
    """Seeds model init copies, data order (a permutation per epoch) and sampling."""

    # --- inputs -------------------------------------------------------------------------
    modalities: str = "av"
    """Which media the omni policy sees: "av", "v", "a" or "t" (ignored for text policies)."""
    modality_dropout: float = 0.0
    """Probability per prompt of dropping one modality ("av" -> "v" or "a") during training."""
    use_feature_cache: bool = False
    """Run the frozen towers once per clip and reuse their features (same logits, less work)."""
    feature_cache_dir: str = ""
    """Directory of the on-disk tower-feature cache ("" = ``<output_dir>/feature_cache``)."""
    split: str = "train"
    """Manifest split read when ``data`` is a directory (``<data>/<split>.jsonl``)."""
    max_prompts: int = 0
    """Use only the first N prompts of the manifest (0 = all); handy for smoke runs."""

    # --- hardware -----------------------------------------------------------------------
    device: str = "auto"
    """"cpu", "cuda" or "auto" (accelerate picks; "cpu" forces CPU even with a GPU)."""
    bf16: bool = False
    """bf16 mixed precision through accelerate (the paper: True on GPUs)."""

    # --- logging and checkpoints --------------------------------------------------------
    logging_steps: int = 1
    """Write a metrics.jsonl / TensorBoard row every N steps."""
    sample_log_steps: int = 10
    """Append sample completions with their rewards to samples.jsonl every N steps (0 = never)."""
    num_samples_logged: int = 4
    """Completions written to samples.jsonl each time."""
    save_steps: int = 50
    """Checkpoint every N steps (and always at the last step); 0 = only at the end."""
    save_total_limit: int = 2
    """Keep the last K checkpoints (0 = keep all)."""
    resume_from_checkpoint: str = "auto"
    """"auto" = continue from the latest complete checkpoint in output_dir if any; "never" = start
    fresh (old checkpoints and logs in output_dir are replaced); or a checkpoint path."""
    show_progress: bool = True
    """Show a tqdm progress bar on the main process."""

    preset: str = "r1omni"
    """Name of the preset these values started from (recorded for provenance)."""

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ValueError:
            return ValueError(f"GRPOConfig.{name}={getattr(self, name)!r}: {why}")

        if self.num_generations < 2:
            raise bad("num_generations", "need at least 2 completions per prompt for a group std")
        if self.loss_type not in LOSS_TYPES:
            raise bad("loss_type", f"expected one of {LOSS_TYPES}")
        if self.scale_rewards not in SCALE_REWARDS:
            raise bad("scale_rewards", f"expected one of {SCALE_REWARDS}")
        if self.modalities not in MODALITIES:
            raise bad("modalities", f"expected one of {MODALITIES}")
        if self.device not in DEVICES:
            raise bad("device", f"expected one of {DEVICES}")
        if not self.resume_from_checkpoint:
            raise bad("resume_from_checkpoint", f"expected one of {RESUME_MODES} or a checkpoint path")
        for name in (
            "per_device_train_batch_size",
            "gradient_accumulation_steps",
            "num_iterations",
            "max_prompt_length",
            "max_completion_length",
            "logging_steps",
        ):
            if getattr(self, name) < 1:
                raise bad(name, "must be >= 1")
        if self.temperature <= 0:
            raise bad("temperature", "must be > 0 (sampling is required for GRPO)")
        if not 0 < self.top_p <= 1:
            raise bad("top_p", "must be in (0, 1]")
        if self.beta < 0 or self.epsilon_low < 0 or self.epsilon_high < 0:
            raise ValueError("GRPOConfig.beta/epsilon_low/epsilon_high must be >= 0")
        if not 0 <= self.modality_dropout <= 1:
            raise bad("modality_dropout", "must be in [0, 1]")
        if not 0 <= self.warmup_ratio < 1:
            raise bad("warmup_ratio", "must be in [0, 1)")
        if not self.reward_funcs:
            raise bad("reward_funcs", "need at least one reward function")
        if self.reward_weights is not None and len(self.reward_weights) != len(self.reward_funcs):
            raise bad("reward_weights", f"need {len(self.reward_funcs)} weights (one per reward function)")
        if self.max_steps <= 0 and self.num_train_epochs <= 0:
            raise bad("max_steps", "set max_steps > 0 or num_train_epochs > 0")

    # ----------------------------------------------------------------------------------
    @property
    def prompts_per_step_per_process(self) -> int:
        """Prompts one process consumes per rollout step."""
        return self.per_device_train_batch_size * self.gradient_accumulation_steps

    def total_steps(self, num_prompts: int, num_processes: int = 1) -> int:
        """Rollout steps of the run: max_steps, else ceil(epochs x prompts / prompts per step)."""
        if self.max_steps > 0:
            return self.max_steps
        per_step = self.prompts_per_step_per_process * num_processes
        return max(1, math.ceil(self.num_train_epochs * num_prompts / per_step))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (reward names and "module:function" strings as given; a callable reward
        function by its name)."""
        out = dataclasses.asdict(self)
        out["reward_funcs"] = [f if isinstance(f, str) else reward_name(f) for f in self.reward_funcs]
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GRPOConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise, naming them."""
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"GRPOConfig: unknown fields {unknown}")
        return cls(**values)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> GRPOConfig:
        """A preset ("r1omni" = the paper, "course" = tiny model on a CPU) with overrides."""
        try:
            values = dict(PRESETS[name])
        except KeyError:
            raise ValueError(f"unknown GRPO preset {name!r}; expected one of {sorted(PRESETS)}") from None
        values.update(overrides)
        values["preset"] = name
        return cls(**values)


#: R1-Omni's RLVR recipe (see ../shared/reference/r1omni.md, "GRPO settings of the paper").
R1OMNI_PRESET: dict[str, Any] = dict(
    num_generations=8,
    beta=0.04,
    temperature=1.0,
    top_p=1.0,
    learning_rate=1e-6,
    lr_scheduler_type="linear",
    warmup_ratio=0.0,
    max_prompt_length=512,
    max_completion_length=512,
    loss_type="grpo",
    scale_rewards="group",
    num_iterations=1,
    per_device_train_batch_size=1,
    gradient_accumulation_steps=2,
    num_train_epochs=2.0,
    max_steps=-1,
    reward_funcs=["accuracy", "format"],
    bf16=True,
    device="auto",
    save_steps=500,
)

#: The tiny omni model on SynthEmo on a 2-core CPU. Differs from the paper where a tiny, briefly
#: cold-started LM needs it (temperature, learning rate, completion budget); every value and the runs
#: that chose it: docs/tuning.md.
COURSE_PRESET: dict[str, Any] = dict(
    num_generations=8,
    beta=0.04,
    temperature=0.7,
    top_p=1.0,
    learning_rate=3e-4,
    lr_scheduler_type="constant_with_warmup",
    warmup_ratio=0.02,
    max_prompt_length=512,
    max_completion_length=96,
    loss_type="grpo",
    scale_rewards="group",
    num_iterations=1,
    per_device_train_batch_size=8,
    gradient_accumulation_steps=1,
    max_steps=300,
    reward_funcs=["accuracy", "format"],
    bf16=False,
    device="cpu",
    use_feature_cache=True,
    save_steps=25,
    sample_log_steps=10,
)

#: The smol model preset (pretrained SmolLM2-135M after a short cold start) on a 2-core CPU: its
#: forward and backward cost ~400x the tiny model's, so smaller groups (2 clips x 4 generations) and a
#: small lr for a pretrained LM. Set by hand from the measured step times, not tuned: docs/tuning.md.
SMOL_COURSE_PRESET: dict[str, Any] = dict(
    COURSE_PRESET,
    num_generations=4,
    per_device_train_batch_size=2,
    learning_rate=1e-5,
    max_steps=100,
)

PRESETS: dict[str, dict[str, Any]] = {
    "r1omni": R1OMNI_PRESET,
    "course": COURSE_PRESET,
    "smol_course": SMOL_COURSE_PRESET,
}
#: The course preset's variant for a model preset whose LM is pretrained: ``course`` in notebook 03
#: means the recipe of the run's model (:func:`preset_for_model`).
MODEL_PRESET_VARIANTS: dict[str, dict[str, str]] = {"smol": {"course": "smol_course"}}


def preset_for_model(preset: str, model_preset: str = "tiny") -> str:
    """The GRPO preset that ``preset`` names for a model built from ``model_preset``.

    >>> preset_for_model("course", "smol"), preset_for_model("r1omni", "smol"), preset_for_model("course")
    ('smol_course', 'r1omni', 'course')
    """
    return MODEL_PRESET_VARIANTS.get(model_preset, {}).get(preset, preset)


#: What ``smoke=True`` caps (CI: 2 steps of 2 prompts x 2 generations of 16 tokens).
SMOKE_OVERRIDES: dict[str, Any] = dict(
    num_generations=2,
    per_device_train_batch_size=2,
    gradient_accumulation_steps=1,
    max_completion_length=16,
    max_prompts=4,
    show_progress=False,
    sample_log_steps=1,
    save_steps=0,
)
#: Tighter smoke caps per model preset (smol: one step).
SMOKE_MODEL_OVERRIDES: dict[str, dict[str, Any]] = {"smol": dict(max_steps=1)}


def config_from_params(
    preset: str,
    *,
    max_steps: int = 0,
    num_generations: int = 0,
    beta: float = -1.0,
    learning_rate: float = 0.0,
    seed: int = 0,
    device: str = "cpu",
    reward_funcs: str = "",
    resume: bool = False,
    smoke: bool = False,
    model_preset: str = "tiny",
    **fields: Any,
) -> GRPOConfig:
    """A notebook's GRPO config: ``preset`` (for ``model_preset``: :func:`preset_for_model`) with the
    notebook's parameters on top.

    0 (and ``beta=-1``, ``reward_funcs=""``) means "the preset's value"; ``reward_funcs`` is a
    comma-separated list of names; ``resume`` continues from the stage's last checkpoint ("auto")
    instead of starting afresh ("never"); ``fields`` are further GRPOConfig fields set as given.
    ``smoke`` caps the run at 2 steps of 2 prompts x 2 generations of 16 tokens (for CI; smol: 1 step).

    >>> config_from_params("course", beta=0.0, reward_funcs="accuracy, format", smoke=True).beta
    0.0
    >>> c = config_from_params("course", smoke=True, model_preset="smol")
    >>> c.preset, c.max_steps, c.num_generations
    ('smol_course', 1, 2)
    """
    preset = preset_for_model(preset, model_preset)
    overrides: dict[str, Any] = dict(
        seed=seed, device=device, resume_from_checkpoint="auto" if resume else "never", **fields
    )
    for name, value in (
        ("max_steps", max_steps),
        ("num_generations", num_generations),
        ("learning_rate", learning_rate),
    ):
        if value:
            overrides[name] = value
    if beta >= 0:
        overrides["beta"] = beta
    if reward_funcs:
        overrides["reward_funcs"] = [n.strip() for n in reward_funcs.split(",") if n.strip()]
    if smoke:
        overrides.update(SMOKE_OVERRIDES, max_steps=min(max_steps or 2, 2))
        overrides.update(SMOKE_MODEL_OVERRIDES.get(model_preset, {}))
    return GRPOConfig.from_preset(preset, **overrides)
