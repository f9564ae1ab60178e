"""Build a SynthEmo set: plan every clip, make them in parallel, write one manifest per split.

Split sizes for ``per_class = N`` and ``L`` labels (``DEFAULT_PER_CLASS`` = 100, DFEW's 7):

============  =========================================  ==============
split         clips                                      default (L=7)
============  =========================================  ==============
train         N per label                                700
val           max(1, N // 5) per label                   140
test          max(1, 2 N // 5) per label                 280
ood           max(1, N // 5) per label (sketch + ood     140
              voices)
conflict      max(1, N // 5) per face label, the voice   140
              label cycling through the other labels
coldstart     max(L, round(580 N / 100)) in all, labels  580
              round-robin (train distribution, fresh
              clips, with explanations)
perception    round(2000 N / 100), no labels: emotion-   2000
              free parameters, captions (``perception``
              ``.py``; ``perception=False`` skips it)
============  =========================================  ==============

The labelled splits are :data:`SPLITS`; the perception split is written beside them as
``perception.jsonl`` and does not change them (its clips have their own seeds).
``render="oracle"`` (CLI ``--render oracle``) writes the same clips, records and audio with
oracle frames (``oracle.py``); ``synthemo.json`` then records ``"render": "oracle"``.

Determinism: clip ``i`` of split ``s`` is seeded by ``(seed, code(s), i)`` alone, workers
return records in plan order, and encoding is bit-exact (``writer.py``), so the same
arguments give byte-identical manifests and identical decoded frames for any ``workers``.

``voice="espeak"`` has espeak-ng speak each subtitle (``espeak.py``); it must be on PATH
(checked before any clip is made) and its version is recorded in ``synthemo.json`` under
``"voice"`` (a set without that key has the default numpy voice).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from r1omni.data.synth.clip import RENDERS, VOICES, ClipSpec, MediaFormat, make_clip
from r1omni.data.synth.espeak import ENGINE, espeak_version, find_espeak
from r1omni.data.synth.perception import SPLIT as PERCEPTION
from r1omni.data.synth.perception import perception_size
from r1omni.io import atomic_write_json, atomic_write_jsonl
from r1omni.progress import progress_bar
from r1omni.settings import labels_for

SPLITS: tuple[str, ...] = ("train", "val", "test", "ood", "conflict", "coldstart")
_SPLIT_CODE = {name: i for i, name in enumerate(SPLITS + (PERCEPTION,))}
DEFAULT_PER_CLASS = 100
#: Cold-start set size at the default ``per_class`` (the paper's 232 EMER + 348 HumanOmni clips).
COLDSTART_AT_DEFAULT = 580
SYNTH_LABEL_SETS = ("dfew", "mafw")


@dataclass
class SynthConfig:
    """Arguments of one SynthEmo build (saved as ``synthemo.json`` next to the manifests)."""

    per_class: int = DEFAULT_PER_CLASS
    """Training clips per label; the other splits are derived from it (see the module docstring)."""
    seed: int = 0
    """Seed of the whole set."""
    labels: str = "dfew"
    """Label set: ``"dfew"`` (7 classes) or ``"mafw"`` (11 classes)."""
    media: MediaFormat = field(default_factory=MediaFormat)
    """Frame size, fps, duration and sample rate of every clip."""
    perception: bool = True
    """Also plan the emotion-free ``perception`` split (``perception.py``)."""
    perception_clips: int | None = None
    """Size of the perception split (None: ``perception_size(per_class)``, 2,000 at 100). Clip
    ``i`` is the same whatever the size, so a larger split extends a smaller one."""

    def num_perception(self) -> int:
        """Clips in the perception split (0 without it)."""
        if not self.perception:
            return 0
        if self.perception_clips is None:
            return perception_size(self.per_class)
        if self.perception_clips < 1:
            raise ValueError(f"perception_clips must be >= 1, got {self.perception_clips}")
        return int(self.perception_clips)


def split_sizes(per_class: int, num_labels: int) -> dict[str, int]:
    """Number of clips per split (see the table in the module docstring).

    >>> split_sizes(100, 7)
    {'train': 700, 'val': 140, 'test': 280, 'ood': 140, 'conflict': 140, 'coldstart': 580}
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    small = max(1, per_class // 5)
    return {
        "train": per_class * num_labels,
        "val": small * num_labels,
        "test": max(1, 2 * per_class // 5) * num_labels,
        "ood": small * num_labels,
        "conflict": small * num_labels,
        "coldstart": max(num_labels, round(COLDSTART_AT_DEFAULT * per_class / DEFAULT_PER_CLASS)),
    }


def plan(config: SynthConfig) -> list[ClipSpec]:
    """Every clip of the set, split by split, labels interleaved (``i % L``); then, with
    ``config.perception``, the perception clips (no labels)."""
    if config.labels not in SYNTH_LABEL_SETS:
        raise ValueError(f"SynthEmo labels must be one of {SYNTH_LABEL_SETS}, got {config.labels!r}")
    labels = labels_for(config.labels)
    L = len(labels)
    specs = []
    for split, count in split_sizes(config.per_class, L).items():
        for i in range(count):
            face = labels[i % L]
            voice = face
            if split == "conflict":  # cycle the voice through the L - 1 other labels
                voice = labels[(i % L + 1 + (i // L) % (L - 1)) % L]
            specs.append(
                ClipSpec(
                    id=f"{split}_{i:05d}",
                    split=split,
                    face_label=face,
                    voice_label=voice,
                    domain="ood" if split == "ood" else "synth",
                    entropy=(config.seed, _SPLIT_CODE[split], i),
                    explain=split == "coldstart",
                )
            )
    if config.perception:
        for i in range(config.num_perception()):
            specs.append(
                ClipSpec(
                    id=f"{PERCEPTION}_{i:05d}",
                    split=PERCEPTION,
                    face_label=None,
                    voice_label=None,
                    domain="synth",
                    entropy=(config.seed, _SPLIT_CODE[PERCEPTION], i),
                    perception=True,
                    labels=labels,
                )
            )
    return specs


#: Bumped when a change to the drawing or the voice changes what clips look or sound like on
#: purpose, so a folder built by an older SynthEmo is rebuilt, never reused (``r1omni.data.prepare``).
#: 2: the face drawing of v3 (bold strokes and FACS-like textures, ``face.GEOMETRY``).
RENDER_VERSION = 2


def stamp_settings(render: str) -> dict[str, Any]:
    """What ``synthemo.json`` records about the drawing besides the config: the render and its
    version, and the perception captions' version."""
    from r1omni.data.synth.caption import CAPTION_VERSION

    return {"render": render, "render_version": RENDER_VERSION, "caption_version": CAPTION_VERSION}


def generate(
    out: str | os.PathLike,
    per_class: int = DEFAULT_PER_CLASS,
    seed: int = 0,
    labels: str = "dfew",
    *,
    workers: int | None = None,
    media: MediaFormat | None = None,
    progress: bool = True,
    voice: str = "numpy",
    perception: bool = True,
    render: str = "drawn",
    perception_clips: int | None = None,
) -> dict[str, Path]:
    """Write ``out/clips/*.mp4`` and ``out/{split}.jsonl``; return ``{split: manifest path}``
    (with ``"perception"`` unless ``perception=False``).

    ``workers``: processes to use (default: all cores); the output does not depend on it.
    ``voice``: ``"numpy"`` (default, ``voice.py``) or ``"espeak"`` (espeak-ng speaks the
    subtitle, ``espeak.py``); espeak-ng missing raises ``espeak.EspeakNotFound``.
    ``perception``: also write ``perception.jsonl`` (the labelled splits do not depend on it);
    ``perception_clips``: its size (default proportional to ``per_class``).
    ``render``: ``"drawn"`` (default) or ``"oracle"`` (``oracle.py``: same records and audio).
    """
    if voice not in VOICES:
        raise ValueError(f"SynthEmo voice must be one of {VOICES}, got {voice!r}")
    if render not in RENDERS:
        raise ValueError(f"SynthEmo render must be one of {RENDERS}, got {render!r}")
    espeak_path = find_espeak() if voice == "espeak" else None  # fail before any work
    config = SynthConfig(
        per_class=per_class,
        seed=seed,
        labels=labels,
        media=media or MediaFormat(),
        perception=perception,
        perception_clips=perception_clips,
    )
    config.num_perception()  # a bad size fails before any work
    specs = plan(config)
    out = Path(out)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    make = partial(make_clip, out_dir=out, fmt=config.media, voice_engine=voice, espeak_path=espeak_path, render=render)
    bar = progress_bar(
        total=len(specs), desc=f"SynthEmo ({config.labels}, {per_class}/class)", unit="clip", disable=not progress
    )
    records = []
    if workers == 1:
        for spec in specs:
            records.append(make(spec))
            bar.update()
    else:
        with mp.get_context("fork").Pool(workers) as pool:
            for record in pool.imap(make, specs, chunksize=4):
                records.append(record)
                bar.update()
    bar.close()

    paths = {}
    for split in SPLITS + ((PERCEPTION,) if perception else ()):
        paths[split] = atomic_write_jsonl(out / f"{split}.jsonl", [r for r in records if r["split"] == split])
    config_dict = asdict(config)
    del config_dict["perception"], config_dict["perception_clips"]  # recorded as a size below
    sizes = split_sizes(per_class, len(labels_for(config.labels)))
    if perception:
        sizes[PERCEPTION] = config.num_perception()
    info = {"config": config_dict, "sizes": sizes, "labels": list(labels_for(config.labels))}
    if espeak_path is not None:  # numpy sets keep the key out (byte-identical to older sets)
        info["voice"] = {"engine": ENGINE, "version": espeak_version(espeak_path)}
    info.update(stamp_settings(render))
    atomic_write_json(out / "synthemo.json", info)
    return paths
