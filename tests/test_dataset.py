"""ManifestDataset, ClipCache and OmniCollator on a tiny hand-made manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from r1omni.data.dataset import ClipCache, ManifestDataset, OmniCollator
from r1omni.data.manifest import ManifestError, make_record
from r1omni.data.media import write_clip

#: (label, explanation) pairs in the tiny tokenizer's vocabulary.
EXAMPLES = [
    ("happy", "The mouth curves up and the voice is bright."),
    ("sad", "The voice is low and slow."),
    ("angry", "The brows are lowered and the voice is loud."),
    ("neutral", "The face is still and the voice is even."),
]


def write_tiny_manifest(directory: Path, n: int = 4, *, think: bool = True, name: str = "coldstart.jsonl") -> Path:
    """``n`` short clips (8 frames 32x32, 0.5 s tone) and a manifest over them; returns its path."""
    rng = np.random.default_rng(0)
    (directory / "clips").mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        label, why = EXAMPLES[i % len(EXAMPLES)]
        noise = rng.integers(0, 20, (8, 32, 32, 3), dtype=np.uint8)
        frames = np.full((8, 32, 32, 3), 40 * (i % 6), dtype=np.uint8) + noise
        t = np.arange(8000, dtype=np.float32) / 16000
        audio = 0.3 * np.sin(2 * np.pi * (200 + 100 * i) * t).astype(np.float32)
        clip = directory / "clips" / f"c{i}.mp4"
        if not clip.exists():
            write_clip(clip, frames, audio, fps=16)
        records.append(
            make_record(
                id=f"c{i}", video=f"clips/c{i}.mp4", label=label, split="coldstart", think=why if think else None
            )
        )
    path = directory / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    return write_tiny_manifest(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def processor():
    from r1omni.model import OmniProcessor

    return OmniProcessor.from_preset("tiny")


def test_items_hold_clip_label_and_target(manifest):
    ds = ManifestDataset(manifest)
    assert len(ds) == 4
    item = ds[1]
    assert item["id"] == "c1" and item["label"] == "sad" and item["modalities"] == "av"
    assert item["target"] == "<think>The voice is low and slow.</think><answer>sad</answer>"
    assert item["clip"].frames.shape == (8, 32, 32, 3) and item["clip"].audio.shape[0] > 0
    assert ManifestDataset(manifest, target="answer_only")[1]["target"] == "<answer>sad</answer>"
    assert ManifestDataset(manifest, modalities="t")[0]["clip"] is None
    assert len(ManifestDataset(manifest, limit=2)) == 2


def test_bad_entries_raise_naming_file_and_record(manifest, tmp_path):
    lines = manifest.read_text().splitlines()
    bad = json.loads(lines[2])
    bad["conversations"] = [bad["conversations"][0]]  # no gpt turn
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines[:2] + [json.dumps(bad)]) + "\n")
    (tmp_path / "clips").symlink_to(manifest.parent / "clips")
    with pytest.raises(ValueError, match=r"bad\.jsonl record 2 \(id='c2'\).*gpt turn"):
        ManifestDataset(path)

    missing = json.loads(lines[0])
    del missing["label"]
    path.write_text(json.dumps(missing) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl"):
        ManifestDataset(path)

    gone = json.loads(lines[0])
    gone["video"] = "clips/nope.mp4"
    path.write_text(json.dumps(gone) + "\n")
    with pytest.raises(ManifestError, match=r"bad\.jsonl:1: video file \S*clips/nope\.mp4 does not exist"):
        ManifestDataset(path)  # media are checked up front, before any item is read

    with pytest.raises(ValueError, match="target must be one of"):
        ManifestDataset(manifest, target="labels")


def test_disk_cache_round_trip(manifest, tmp_path):
    cache = ClipCache(tmp_path / "clips_cache")
    first = ManifestDataset(manifest, cache=cache)[0]["clip"]
    assert cache.misses == 1 and len(list((tmp_path / "clips_cache").glob("*.npz"))) == 1
    fresh = ClipCache(tmp_path / "clips_cache")  # new process, same disk cache
    again = ManifestDataset(manifest, cache=fresh)[0]["clip"]
    assert fresh.misses == 0 and fresh.hits == 1
    np.testing.assert_array_equal(first.frames, again.frames)
    np.testing.assert_array_equal(first.audio, again.audio)
    assert (first.path, first.sample_rate, first.fps, first.audio_silent) == (
        again.path,
        again.sample_rate,
        again.fps,
        again.audio_silent,
    )


def test_collator_masks_prompt_and_keeps_target(manifest, processor):
    ds = ManifestDataset(manifest)
    batch = OmniCollator(processor)([ds[0], ds[1]])
    ids, labels = batch["input_ids"], batch["labels"]
    assert ids.shape == labels.shape
    tok = processor.tokenizer
    for row in range(2):
        real = batch["attention_mask"][row] == 1
        row_ids, row_labels = ids[row][real], labels[row][real]
        n = len(tok(ds[row]["target"], add_special_tokens=False)["input_ids"]) + 1  # the target and eos
        # exactly the last n real tokens are supervised, with their own ids: the target, then eos
        assert tok.decode(row_labels[-n:].tolist(), skip_special_tokens=False) == ds[row]["target"] + tok.eos_token
        assert torch.equal(row_labels[-n:], row_ids[-n:])
        assert row_labels[:-n].eq(-100).all()  # the whole prompt (media placeholders included) is masked
        assert labels[row][~real].eq(-100).all()  # and so is the padding
        # what precedes the target is the prompt the model is given at generation time
        prompt = OmniCollator(processor, with_targets=False)([ds[row]])
        assert torch.equal(row_ids[:-n], prompt["input_ids"][0][prompt["attention_mask"][0] == 1])
    gen = OmniCollator(processor, with_targets=False)([ds[0]])
    assert "labels" not in gen
    with pytest.raises(ValueError, match="no target"):
        OmniCollator(processor)([ManifestDataset(manifest, target="none")[0]])
