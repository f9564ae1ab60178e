"""Project-wide constants from the R1-Omni paper: the prompt, label sets, media placeholders.

Everything that is "one setting, not a literal scattered through the code" lives here.
"""

from __future__ import annotations

#: R1-Omni's question, verbatim (note the two spaces before "Output").
PROMPT = (
    "As an emotional recognition expert; throughout the video, which emotion conveyed by the "
    "characters is the most obvious to you?  Output the thinking process in <think> </think> "
    "and final emotion in <answer> </answer> tags."
)

#: The unlabelled split the base model learns to perceive from (SynthEmo's ``perception.jsonl``): its
#: lines carry a ``caption`` (the target) instead of a ``label``.
PERCEPTION_SPLIT = "perception"

#: The perception split's question (``perception.jsonl``, the base model's captioning task): it asks
#: what the face and the voice show, never for an emotion.
PERCEPTION_PROMPT = "Describe the person's face and voice: which cues do you see and hear?"

#: The 7 DFEW classes, in the paper's order.
DFEW_LABELS: tuple[str, ...] = ("happy", "surprise", "neutral", "angry", "disgust", "sad", "fear")
#: The 11 MAFW classes: DFEW's 7 plus four more.
MAFW_LABELS: tuple[str, ...] = DFEW_LABELS + ("contemptuous", "disappointed", "helpless", "anxious")
#: RAVDESS's 8 emotions after mapping fearful -> fear and surprised -> surprise,
#: in the order of its emotion codes 01..08.
RAVDESS_LABELS: tuple[str, ...] = ("neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise")

LABEL_SETS: dict[str, tuple[str, ...]] = {
    "dfew": DFEW_LABELS,
    "mafw": MAFW_LABELS,
    "ravdess": RAVDESS_LABELS,
}

#: Media placeholders spliced into the prompt, as in HumanOmni.
VIDEO_START, VIDEO_TOKEN, VIDEO_END = "<vi_start>", "<video>", "<vi_end>"
AUDIO_START, AUDIO_TOKEN, AUDIO_END = "<au_start>", "<audio>", "<au_end>"
#: The reasoning / answer tags that the rewards check.
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"

#: Default media sampling, as in R1-Omni.
NUM_FRAMES = 8
SAMPLE_RATE = 16_000

#: Which media a sample carries: video + audio, video only, audio only, neither (text).
MODALITIES: tuple[str, ...] = ("av", "v", "a", "t")

#: GRPO loss aggregations (``r1omni.grpo.loss``) and advantage scalings (``group_advantages``).
LOSS_TYPES: tuple[str, ...] = ("grpo", "dapo", "dr_grpo")
SCALE_REWARDS: tuple[str, ...] = ("group", "batch", "none")

#: Names of the omni model presets (``r1omni.model``); a saved policy directory works too.
MODEL_PRESETS: tuple[str, ...] = ("tiny", "humanomni-0.5b", "smol")

#: Synonyms accepted inside ``<answer>``, mapped to the canonical label. "calm" (a RAVDESS class)
#: is a label of its own and stays "calm".
SYNONYMS: dict[str, str] = {
    "fearful": "fear",
    "afraid": "fear",
    "surprised": "surprise",
    "happiness": "happy",
    "joy": "happy",
    "anger": "angry",
    "sadness": "sad",
    "disgusted": "disgust",
    "contempt": "contemptuous",
    "anxiety": "anxious",
    "disappointment": "disappointed",
    "helplessness": "helpless",
}


def labels_for(label_set: str) -> tuple[str, ...]:
    """Return the label tuple for ``label_set`` ("dfew", "mafw" or "ravdess")."""
    try:
        return LABEL_SETS[label_set]
    except KeyError:
        raise ValueError(f"unknown label set {label_set!r}; expected one of {sorted(LABEL_SETS)}") from None


#: Every canonical label of DFEW, MAFW and RAVDESS (after RAVDESS's mapping).
KNOWN_LABELS: frozenset[str] = frozenset(label for labels in LABEL_SETS.values() for label in labels)
#: The label vocabulary shared by the rewards and the reasoning grounding: every term that names a
#: label (canonical labels and :data:`SYNONYMS`), lower case, mapped to its canonical label.
LABEL_VOCAB: dict[str, str] = {**{label: label for label in KNOWN_LABELS}, **SYNONYMS}
