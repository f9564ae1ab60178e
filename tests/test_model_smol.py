"""The ``smol`` preset with its real pretrained parts: SmolLM2-135M-Instruct through its own chat
template, the frozen Whisper-base encoder on a 2 s window, the tiny SigLIP tower and fresh projectors,
assembled by the same code as ``humanomni-0.5b``.

The tests that need the weights are marked ``slow`` (``make test`` runs them, ``make unit`` skips
them); the ``smol_models`` fixture (conftest.py) installs the parts into ``models/smol`` on a fresh
clone.
"""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import torch

from r1omni.data.media import Clip
from r1omni.model import OmniModel, OmniProcessor, load_policy, policy_preset, resolve_model_preset, save_policy
from r1omni.model.install import install_command
from r1omni.model.presets import smol_dir
from r1omni.settings import LABEL_VOCAB, PROMPT


def _clip(seed: int) -> Clip:
    """A SynthEmo-shaped clip (8 frames of 112 x 112, 2 s of a voice-like tone at 16 kHz)."""
    rng = np.random.default_rng(seed)
    t = np.arange(32_000) / 16_000
    audio = 0.3 * np.sin(2 * np.pi * (120 + 40 * seed) * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return Clip(
        path=f"/mem/smol{seed}.mp4",
        frames=rng.integers(0, 256, (8, 112, 112, 3), dtype=np.uint8),
        audio=audio.astype(np.float32),
        sample_rate=16_000,
        audio_missing=False,
        audio_silent=False,
        fps=10.0,
        duration=2.0,
    )


# ------------------------------------------------------------------- without weights (fast)
def test_a_missing_or_partial_install_names_the_install_command(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        OmniModel.from_preset("smol", paths=tmp_path / "nowhere")
    assert install_command("smol", tmp_path / "nowhere") in str(err.value)
    assert "downloads nothing" in str(err.value)
    partial = tmp_path / "partial"
    (partial / "lm").mkdir(parents=True)
    (partial / "lm" / "config.json").write_text("{}")
    manifest = {"preset": "smol", "format": 1, "parts": {"lm": {"outputs": {"config.json": {"bytes": 2}}}}}
    (partial / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        FileNotFoundError, match=r"incomplete .*\['whisper'\].*" + re.escape(install_command("smol", partial))
    ):
        OmniProcessor.from_preset("smol", paths=partial)
    (partial / "lm" / "config.json").write_text("{}   ")  # an output of another size
    manifest["parts"]["whisper"] = {"outputs": {}}
    (partial / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(FileNotFoundError, match=r"\['lm', 'whisper'\]"):
        smol_dir(partial)


def test_model_preset_of_policies_is_read_and_checked(tmp_path):
    assert (
        policy_preset("tiny") == "tiny"
        and policy_preset("smol") == "smol"
        and policy_preset("humanomni-0.5b") == "humanomni-0.5b"
    )
    saved = tmp_path / "p"
    saved.mkdir()
    (saved / "config.json").write_text(json.dumps({"preset": "smol"}))
    assert policy_preset(saved) == "smol"
    assert resolve_model_preset("", {"base": saved}) == "smol"
    assert resolve_model_preset("smol", {"base": saved, "rlvr": "smol"}) == "smol"
    with pytest.raises(
        ValueError, match=r"model_preset='tiny' \('tiny'\) does not match.*base .* was built from 'smol'"
    ):
        resolve_model_preset("tiny", {"base": saved})
    with pytest.raises(ValueError, match="different model presets"):
        resolve_model_preset("", {"base": saved, "other": "tiny"})
    with pytest.raises(FileNotFoundError, match="neither a model preset"):
        policy_preset(tmp_path / "missing")


# ------------------------------------------------------------------------ with the weights
@pytest.fixture(scope="module")
def smol(smol_models):
    torch.manual_seed(0)
    return OmniModel.from_preset("smol", seed=0).eval(), OmniProcessor.from_preset("smol")


@pytest.mark.slow
def test_the_preset_holds_the_pretrained_parts_on_the_humanomni_layout(smol, smol_models):
    from safetensors.torch import load_file

    model, processor = smol
    cfg = model.config
    assert cfg.preset == "smol" and policy_preset("smol") == "smol"
    assert (cfg.tokens_per_video, cfg.tokens_per_audio, cfg.audio_chunk_seconds, cfg.mel_frames) == (32, 33, 2, 200)
    assert type(model.lm).__name__ == "LlamaForCausalLM" and model.lm.config.hidden_size == 576
    assert cfg.token_ids["eos"] == cfg.token_ids["pad"] == processor.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert model.lm.get_input_embeddings().num_embeddings == len(processor.tokenizer) == 49152 + 6
    # SmolLM2's own chat template (its default system turn), the media lines in the user turn
    text = processor.prompt_text("av")
    assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert text.endswith(f"<au_start><audio><au_end>\n{PROMPT}<|im_end|>\n<|im_start|>assistant\n")
    # the LM's and the encoder's pretrained weights, as installed (the encoder's position table cut to 2 s)
    lm = load_file(str(smol_models / "lm" / "model.safetensors"))
    assert torch.equal(model.lm.model.layers[3].mlp.down_proj.weight, lm["model.layers.3.mlp.down_proj.weight"])
    assert torch.equal(model.lm.get_input_embeddings().weight[:49152], lm["model.embed_tokens.weight"])
    whisper = load_file(str(smol_models / "whisper" / "model.safetensors"))
    assert torch.equal(model.audio_tower.layers[5].fc2.weight, whisper["model.encoder.layers.5.fc2.weight"])
    assert torch.equal(model.audio_tower.embed_positions.weight, whisper["model.encoder.embed_positions.weight"][:100])
    # the tiny preset's SigLIP tower (random, trained by notebook 01), the towers frozen
    assert model.vision_tower.config.image_size == 64 and cfg.patch_grid == 8 and cfg.visual_grid == 2
    assert not any(p.requires_grad for p in [*model.vision_tower.parameters(), *model.audio_tower.parameters()])
    # the same seed builds the same model (the rows the media tokens add are drawn from it)
    again = OmniModel.from_preset("smol", seed=0)
    assert torch.equal(again.lm.get_input_embeddings().weight, model.lm.get_input_embeddings().weight)
    assert torch.equal(again.audio_projector.mlp.fc1.weight, model.audio_projector.mlp.fc1.weight)


@pytest.mark.slow
def test_a_shorter_or_longer_window_and_its_limit(smol_models):
    config = OmniProcessor.from_preset("smol", audio_chunk_seconds=30).config
    assert (config.tokens_per_audio, config.mel_frames) == (500, 3000)
    with pytest.raises(ValueError, match="exceeds the encoder's 30 s window"):
        OmniProcessor.from_preset("smol", audio_chunk_seconds=31)


def _greedy(model, processor, clips, modalities, **kwargs):
    out = model.generate(processor(clips, modalities=modalities), max_new_tokens=16, **kwargs)
    return out.completion_ids, processor.batch_decode(out.completion_ids)


@pytest.mark.slow
def test_greedy_answers_with_and_without_the_kv_cache(smol):
    model, processor = smol
    clips, mods = [_clip(0), _clip(1), None], ["av", "a", "t"]
    ids, texts = _greedy(model, processor, clips, mods)
    ids_nocache, _ = _greedy(model, processor, clips, mods, use_cache=False)
    assert torch.equal(ids, ids_nocache)  # the KV cache path on the real LM
    # untrained, the pretrained LM answers the text-only question in English and names an emotion
    words = re.findall(r"[a-z]+", texts[2].lower())
    assert len(words) >= 5 and set(words) & set(LABEL_VOCAB), texts[2]
    assert all(t.strip() for t in texts)


@pytest.mark.slow
def test_save_load_round_trip_keeps_the_greedy_output(smol, tmp_path):
    model, processor = smol
    save_policy(tmp_path / "policy", model, processor)
    model2, processor2 = load_policy(tmp_path / "policy")

    def as_json(config):  # as config.json holds it (tuples become lists)
        return json.loads(json.dumps(config.to_dict()))

    assert as_json(model2.config) == as_json(processor2.config) == as_json(model.config)
    assert processor2.prompt_text("av") == processor.prompt_text("av")
    clips = [_clip(2), _clip(3)]
    with torch.no_grad():
        logits = model(**processor(clips, modalities="av")).logits
        logits2 = model2.eval()(**processor2(clips, modalities="av")).logits
    assert torch.equal(logits, logits2)
    assert torch.equal(_greedy(model, processor, clips, "av")[0], _greedy(model2, processor2, clips, "av")[0])


@pytest.fixture(scope="module")
def two_clips(tmp_path_factory):
    """A SynthEmo set of one clip per class (real mp4 files); the steps below use two of them."""
    from r1omni.data.synth import generate

    out = tmp_path_factory.mktemp("synthemo")
    generate(out, per_class=1, seed=0, perception=False, progress=False, workers=1)
    return out


@pytest.mark.slow
def test_one_sft_step_then_one_grpo_step_on_two_clips(smol_models, two_clips, tmp_path):
    from r1omni.grpo import config_from_params as grpo_config
    from r1omni.grpo import train_grpo
    from r1omni.sft import config_from_params as sft_config
    from r1omni.sft import train_sft

    # warmup_ratio=0: with one step, the presets' warm-up would make it a step of learning rate 0
    sft = sft_config(
        "course", model_preset="smol", max_steps=1, batch_size=2, limit=2, show_progress=False, warmup_ratio=0.0
    )
    assert sft.preset == "smol_course" and sft.learning_rate == 1e-4
    model, processor = OmniModel.from_preset("smol", seed=0), OmniProcessor.from_preset("smol")
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    result = train_sft(sft, (model, processor), two_clips / "coldstart.jsonl", tmp_path / "sft")
    assert result.steps == 1 and np.isfinite(result.final_loss) and 0 < result.final_loss < 20
    after = model.state_dict()
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"lm", "visual_projector", "audio_projector"}  # the towers stay frozen
    sft_dir = tmp_path / "sft" / "model"
    assert policy_preset(sft_dir) == "smol"

    grpo = grpo_config(
        "course",
        model_preset="smol",
        max_steps=1,
        num_generations=2,
        seed=0,
        max_prompts=2,
        smoke=True,
        warmup_ratio=0.0,
    )
    assert grpo.preset == "smol_course" and grpo.beta == 0.04 and grpo.max_completion_length == 16
    # a reward that tells the two completions of a group apart, so that the step has a gradient
    grpo = dataclasses.replace(grpo, reward_funcs=[_text_length])
    out = train_grpo(grpo, str(sft_dir), two_clips / "train.jsonl", tmp_path / "grpo")
    assert out.steps == 1
    metrics = out.final_metrics
    assert np.isfinite(metrics["loss"]) and metrics["kl"] == pytest.approx(0.0, abs=1e-6)  # step 1: policy = ref
    assert metrics["reward_std"] > 0
    rl, _ = load_policy(out.model_dir)
    tuned, _ = load_policy(sft_dir)
    tuned_state = tuned.state_dict()
    moved = {k.split(".")[0] for k, v in rl.state_dict().items() if not torch.equal(v, tuned_state[k])}
    assert moved == {"lm", "visual_projector", "audio_projector"}


def _text_length(completions, **kwargs) -> list[float]:
    from r1omni.rewards.emotion import completion_text

    return [len(completion_text(c) or "") / 100 for c in completions]
