"""SynthEmo: an embedded, procedurally generated audio-visual emotion data set.

``generate(out, per_class=100, seed=0, labels="dfew")`` writes ``out/clips/*.mp4`` (a drawn
face with an emotional expression, a synthetic voice with emotional prosody) and one manifest
per split (``train``, ``val``, ``test``, ``ood``, ``conflict``, ``coldstart``), plus the unlabelled
``perception.jsonl``. Modules, one concept each: ``emotions`` (per-emotion parameter
distributions), ``perception`` (emotion-free parameters, the perception split), ``face`` and
``raster`` (drawing), ``oracle`` (the diagnostic oracle frames), ``voice`` (speech synthesis),
``cues`` (observable cues and finding them in text), ``explain`` (cold-start explanations),
``caption`` (perception captions: write, parse, score), ``espeak`` (the optional espeak-ng
voice), ``subtitles``, ``writer`` (mp4 encoding), ``clip`` (one clip), ``build`` (the whole set),
``separability`` (how well the true cues tell the labels apart).
The data card is ``data_cards/synthemo.md``.
"""

from r1omni.data.synth.build import SPLITS, SynthConfig, generate, plan, split_sizes
from r1omni.data.synth.clip import VOICES, ClipSpec, MediaFormat, make_clip
from r1omni.data.synth.espeak import EspeakNotFound

__all__ = [
    "SPLITS",
    "VOICES",
    "ClipSpec",
    "EspeakNotFound",
    "MediaFormat",
    "SynthConfig",
    "generate",
    "make_clip",
    "plan",
    "split_sizes",
]
