"""End to end on a real SynthEmo mp4: load_clip -> processor -> a few training steps on cached
tower features -> the tiny model answers in R1-Omni's chat format."""

from __future__ import annotations

import re

import torch

from r1omni.data.media import load_clip
from r1omni.data.synth.clip import ClipSpec, make_clip
from r1omni.model import OmniModel, OmniProcessor

ANSWER_FORMAT = re.compile(r"^<think>.*?</think>\s*<answer>.*?</answer>$", re.DOTALL)


def test_tiny_model_learns_to_answer_a_synthemo_clip(tmp_path):
    spec = ClipSpec(
        id="c0",
        split="coldstart",
        face_label="happy",
        voice_label="happy",
        domain="synth",
        entropy=(0, 5, 0),
        explain=True,
    )
    record = make_clip(spec, tmp_path)
    clip = load_clip(tmp_path / record["video"])
    target = record["conversations"][1]["value"]
    assert ANSWER_FORMAT.match(target)

    model, processor = OmniModel.from_preset("tiny", seed=0), OmniProcessor.from_preset("tiny")
    for modality in ("av", "v", "a"):  # untrained: any text, but every subset generates
        out = model.generate(processor([clip], modalities=modality), max_new_tokens=4)
        assert isinstance(processor.batch_decode(out.completion_ids)[0], str)

    batch = model.encode_media(processor([clip], modalities="av", targets=[target]))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    model.train()
    for _ in range(80):
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.2
    model.eval()
    out = model.generate(processor([clip], modalities="av"), max_new_tokens=96)
    text = processor.batch_decode(out.completion_ids)[0]
    assert text == target and ANSWER_FORMAT.match(text)
    assert out.completion_mask.sum() == (batch["labels"] != -100).sum()  # stopped right after eos
