"""The workbook's base model, made as real omni models are (notebook 01): the towers are pretrained on
their own (:mod:`r1omni.base.towers`, as SigLIP and Whisper were), then the assembled model is aligned
by captioning (an SFT run with the ``perception`` preset, as HumanOmni was). No emotion label is used:
both steps read only SynthEmo's perception split. The result is the policy every later stage starts
from; ``base="random"`` keeps the untrained towers and LM instead (the ablation).

The perception split is cut once, by a seeded permutation, into the clips the base learns from and
held-out clips its captions are scored on (``perception_fit.jsonl`` / ``perception_heldout.jsonl``
beside the base, pointing at the data folder's clips).

A base may be shared: with ``base_dir`` several runs (seeds of the later stages, as HumanOmni served
R1-Omni) build it once and reuse it; whoever comes second waits for the first (a lock beside it),
and a folder that holds a base built from other settings or other data is refused, never reused.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from r1omni.base.probe import probe_data, tower_inputs
from r1omni.base.towers import TowerPretrainConfig, pretrain_towers
from r1omni.data.manifest import load_manifest, records_fingerprint, write_media_roots
from r1omni.io import atomic_replace_dir, atomic_write_json, atomic_write_jsonl, file_lock, read_json
from r1omni.model import load_initial_policy, load_policy, policy_preset, save_policy
from r1omni.model.config import PRETRAINED_TOWERS
from r1omni.settings import PERCEPTION_SPLIT
from r1omni.sft import SFTConfig, preset_for_model, train_sft

BASES: tuple[str, ...] = ("pretrained", "random")
STAMP = "base.json"
FIT, HELDOUT = "perception_fit.jsonl", "perception_heldout.jsonl"


@dataclass
class BaseConfig:
    """How the base model is made (:func:`build_base`)."""

    base: str = "pretrained"
    """"pretrained": towers pretrained on the perception split, then captioning alignment;
    "random": the model preset's untrained towers and LM (the ablation)."""
    model_preset: str = "tiny"
    """The omni model preset the base starts from ("tiny", "smol", "humanomni-0.5b" or a saved policy
    directory, e.g. one made with ``save_policy`` from ``humanomni-0.5b`` and your checkpoints)."""
    towers: TowerPretrainConfig = field(default_factory=TowerPretrainConfig)
    """Tower pretraining settings."""
    alignment_preset: str = "perception"
    """SFT preset of the captioning alignment (projectors and LM; the towers stay frozen)."""
    alignment_overrides: dict[str, Any] = field(default_factory=dict)
    """SFTConfig fields set on top of the alignment preset."""
    holdout_fraction: float = 0.1
    """Share of the perception clips held out to score the base's captions."""
    seed: int = 0
    """Seeds the preset's initial weights, the held-out cut, tower pretraining and alignment."""
    device: str = "cpu"
    """Torch device ("cpu" or "cuda")."""

    def __post_init__(self) -> None:
        if self.base not in BASES:
            raise ValueError(f"BaseConfig.base={self.base!r}: expected one of {BASES}")
        if not 0 < self.holdout_fraction < 1:
            raise ValueError(f"BaseConfig.holdout_fraction={self.holdout_fraction}: must be in (0, 1)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def for_notebook(
        cls,
        *,
        base: str = "pretrained",
        model_preset: str = "tiny",
        tower_epochs: int = 0,
        alignment_epochs: float = 0.0,
        seed: int = 0,
        device: str = "cpu",
        smoke: bool = False,
    ) -> BaseConfig:
        """Notebook 01's settings (0 = the default); ``smoke`` caps them at one pretraining epoch and
        two alignment steps (CI; smol: one step of 2 clips).

        The model preset decides what is trained: towers it loads pretrained stay as they are
        (:data:`~r1omni.model.config.PRETRAINED_TOWERS`: smol keeps Whisper-base and trains the tiny
        SigLIP tower), and the alignment uses the preset's perception recipe
        (:func:`r1omni.sft.preset_for_model`: ``smol_perception`` for smol).

        >>> c = BaseConfig.for_notebook(model_preset="smol", smoke=True)
        >>> c.towers.train_vision, c.towers.train_audio, c.alignment_preset, c.alignment_overrides["max_steps"]
        (True, False, 'smol_perception', 1)
        """
        family = policy_preset(model_preset)
        pretrained = PRETRAINED_TOWERS.get(family, ())
        towers = TowerPretrainConfig(
            seed=seed, train_vision="vision" not in pretrained, train_audio="audio" not in pretrained
        )
        if tower_epochs:
            towers = dataclasses.replace(towers, num_train_epochs=tower_epochs)
        overrides: dict[str, Any] = {"num_train_epochs": alignment_epochs} if alignment_epochs else {}
        if smoke:
            towers = dataclasses.replace(towers, num_train_epochs=1, per_device_train_batch_size=8)
            overrides = {"max_steps": 2, "per_device_train_batch_size": 4}
            if family == "smol":
                overrides = {"max_steps": 1, "per_device_train_batch_size": 2}
        return cls(
            base=base,
            model_preset=model_preset,
            towers=towers,
            alignment_preset=preset_for_model("perception", family),
            alignment_overrides=overrides,
            seed=seed,
            device=device,
        )

    def identity(self) -> dict[str, Any]:
        """What decides the base (the device does not)."""
        return {k: v for k, v in self.to_dict().items() if k != "device"}


@dataclass
class BaseResult:
    """What :func:`build_base` made or reused."""

    model_dir: str
    """The base policy (``load_policy`` reads it)."""
    fit_manifest: str
    """The perception clips the base learnt from."""
    heldout_manifest: str
    """The held-out perception clips (caption scores)."""
    built: bool
    """True when this call trained it, False when it reused a shared base."""
    seconds: float
    """Wall seconds of this call."""
    towers: dict[str, Any] = field(default_factory=dict)
    """Tower pretraining: history (loss, held-out R^2 per epoch), R^2 per parameter, minutes."""
    alignment: dict[str, Any] = field(default_factory=dict)
    """Captioning alignment: steps, final loss, seconds, resumed_from."""


def split_perception(
    manifest: str | os.PathLike, folder: str | os.PathLike, fraction: float, seed: int
) -> tuple[Path, Path]:
    """Cut the perception manifest into fit / held-out manifests in ``folder`` (a seeded permutation;
    clips stay where they are: the data folder is named in ``media_roots.json``)."""
    manifest, folder = Path(manifest), Path(folder)
    records = load_manifest(manifest)
    if any(r.get("split") != PERCEPTION_SPLIT for r in records):
        raise ValueError(f"{manifest}: not a perception manifest (every line must have split {PERCEPTION_SPLIT!r})")
    order = np.random.default_rng(seed).permutation(len(records))
    n_held = max(1, int(round(fraction * len(records))))
    if n_held >= len(records):
        raise ValueError(f"{manifest}: {len(records)} perception clips are too few to hold {fraction:.0%} out")
    folder.mkdir(parents=True, exist_ok=True)
    write_media_roots(folder, [manifest.resolve().parent])

    def rows(idx):  # absolute clip paths (inside the listed media root), so the manifests can be copied
        return [
            {**{k: v for k, v in records[i].items() if k != "video_path"}, "video": records[i]["video_path"]}
            for i in sorted(idx)
        ]

    return (
        atomic_write_jsonl(folder / FIT, rows(order[n_held:])),
        atomic_write_jsonl(folder / HELDOUT, rows(order[:n_held])),
    )


def _train(
    config: BaseConfig, data_dir: Path, work: Path, final: Path, cache_dir: Path | None, progress: bool
) -> tuple[dict, dict]:
    """Make the base in ``final`` (``work`` holds the pretraining checkpoint and the alignment run)."""
    model, processor = load_initial_policy(config.model_preset, seed=config.seed)
    if config.base == "random":
        save_policy(final, model, processor)
        return {}, {}
    fit, _ = work / FIT, work / HELDOUT
    inputs = tower_inputs(fit, processor, cache_dir=cache_dir, progress=progress)
    towers = pretrain_towers(model, inputs, config.towers, checkpoint_dir=work / "towers", progress=progress)
    towers_dir = work / "towers_model"
    save_policy(towers_dir, model, processor)
    sft = SFTConfig.from_preset(
        config.alignment_preset,
        **{"seed": config.seed, "device": config.device, "show_progress": progress, **config.alignment_overrides},
    )
    aligned = train_sft(sft, towers_dir, fit, work / "alignment", model_dir=final)
    return (
        {"history": towers.history, "r2": towers.r2, "seconds": towers.seconds},
        {
            "steps": aligned.steps,
            "final_loss": aligned.final_loss,
            "seconds": aligned.seconds,
            "resumed_from": aligned.resumed_from,
            "history": aligned.history,
        },
    )


def build_base(
    config: BaseConfig,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    base_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    rebuild: bool = False,
    progress: bool = True,
) -> BaseResult:
    """Make the base model in ``out_dir/model`` (see the module docstring).

    ``base_dir``: build it there, or reuse the one there when it was built from the same settings
    and the same perception clips (a copy goes to ``out_dir/model``); another one there raises
    unless ``rebuild``. ``cache_dir``: decoded tower inputs are kept there.
    """
    start = time.perf_counter()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    perception = data_dir / f"{PERCEPTION_SPLIT}.jsonl"
    if not perception.is_file():
        raise FileNotFoundError(
            f"{perception.resolve()}: no perception split (SynthEmo writes it; regenerate the "
            "data with notebook 00, or use base='random')"
        )
    home = Path(base_dir) if base_dir else out_dir
    wanted = {"config": config.identity(), "perception": records_fingerprint(load_manifest(perception))}
    with file_lock(home.with_name(f".{home.name}.lock"), wait=True, what="base model"):
        stamp = home / STAMP
        built = False
        if stamp.is_file() and not rebuild:
            have = read_json(stamp)
            if {k: have.get(k) for k in wanted} != wanted:
                raise ValueError(
                    f"{home.resolve()} holds a base built from other settings or data "
                    f"({have.get('config')}); use another base_dir or rebuild=True"
                )
        else:
            home.mkdir(parents=True, exist_ok=True)
            split_perception(perception, home, config.holdout_fraction, config.seed)
            towers, alignment = _train(config, data_dir, home, home / "model.building", cache_dir, progress)
            atomic_replace_dir(home / "model.building", home / "model")
            atomic_write_json(stamp, {**wanted, "towers": towers, "alignment": alignment})
            built = True
        record = read_json(stamp)
    if home != out_dir:  # a private copy for the run (what its later stages and records point at)
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = out_dir / ".model.copy"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(home / "model", tmp)
        atomic_replace_dir(tmp, out_dir / "model")
        for name in (FIT, HELDOUT, "media_roots.json"):
            shutil.copy2(home / name, out_dir / name)
    load_policy(out_dir / "model")  # it loads, or this raises naming the file
    return BaseResult(
        model_dir=str(out_dir / "model"),
        fit_manifest=str(out_dir / FIT),
        heldout_manifest=str(out_dir / HELDOUT),
        built=built,
        seconds=time.perf_counter() - start,
        towers=record.get("towers", {}),
        alignment=record.get("alignment", {}),
    )


def probe_report(
    base_model_dir: str | os.PathLike,
    data_dir: str | os.PathLike,
    *,
    model_preset: str = "tiny",
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> list[dict]:
    """The linear probe on emotion (fit on train, scored on test and ood) for the base's towers and
    for the preset's untrained towers, each row with the true-cue bound (``cue_accuracy``)."""
    trained, processor = load_policy(base_model_dir)
    untrained, _ = load_initial_policy(model_preset, seed=seed)
    rows = []
    for towers, model in (("trained", trained), ("random", untrained)):
        for row in probe_data(model, processor, data_dir, cache_dir=cache_dir, seed=seed, progress=progress):
            rows.append({"towers": towers, **row})
    return rows


def base_stage_metrics(result: BaseResult, captions: dict[str, dict], probe_rows: list[dict]) -> dict[str, Any]:
    """Notebook 01's ``metrics.json``: caption precision / recall / F1 (overall and per modality) per
    split, the probe's accuracy per towers / split / inputs with the bound, tower R^2, alignment."""
    caps = {
        split: {
            "n": s["n"],
            **{k: s["overall"][k] for k in ("precision", "recall", "f1")},
            **{f"{m}_f1": v["f1"] for m, v in s["modality"].items()},
        }
        for split, s in captions.items()
    }
    probe: dict[str, Any] = {}
    for row in probe_rows:
        probe.setdefault(row["towers"], {}).setdefault(row["split"], {})[row["inputs"]] = row["accuracy"]
        probe.setdefault("cue_bound", {}).setdefault(row["split"], {})[row["inputs"]] = row["cue_accuracy"]
    r2 = result.towers.get("r2", {})
    towers = {
        "seconds": result.towers.get("seconds"),
        "r2_face": float(np.mean([v for k, v in r2.items() if k.startswith("face.")])) if r2 else None,
        "r2_voice": float(np.mean([v for k, v in r2.items() if k.startswith("voice.")])) if r2 else None,
    }
    alignment = {k: v for k, v in result.alignment.items() if k != "history"}
    return {
        "built": result.built,
        "seconds": result.seconds,
        "captions": caps,
        "probe": probe,
        "towers": towers,
        "alignment": alignment,
    }
