"""The ``humanomni-0.5b`` assembly code, run on tiny random stand-ins saved in the same Hugging
Face directory formats as siglip-base-patch16-224, whisper-large-v3 and Qwen2.5-0.5B-Instruct."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from r1omni.data.media import Clip
from r1omni.model import HumanOmniPaths, OmniModel, OmniProcessor, load_policy, save_policy

QWEN_TEMPLATE = (  # ChatML with a default system turn, like Qwen2.5-Instruct's
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _save_standins(root):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2Config,
        Qwen2ForCausalLM,
        SiglipConfig,
        SiglipModel,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
    )

    torch.manual_seed(0)
    vision = SiglipModel(
        SiglipConfig(
            vision_config=dict(
                hidden_size=16,
                intermediate_size=32,
                num_hidden_layers=2,
                num_attention_heads=2,
                image_size=56,
                patch_size=8,
            ),
            text_config=dict(
                hidden_size=16,
                intermediate_size=32,
                num_hidden_layers=1,
                num_attention_heads=2,
                vocab_size=32,
                max_position_embeddings=16,
            ),
        )
    )
    vision.save_pretrained(root / "siglip")  # a full SigLIP checkpoint, as siglip-base-patch16-224 is

    whisper = WhisperForConditionalGeneration(
        WhisperConfig(
            num_mel_bins=128,
            d_model=16,
            encoder_layers=1,
            encoder_attention_heads=2,
            encoder_ffn_dim=32,
            decoder_layers=1,
            decoder_attention_heads=2,
            decoder_ffn_dim=32,
            max_source_positions=1500,
            max_target_positions=16,
            vocab_size=32,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
            decoder_start_token_id=1,
            begin_suppress_tokens=None,
            suppress_tokens=None,
        )
    )
    whisper.save_pretrained(root / "whisper")
    WhisperFeatureExtractor(feature_size=128).save_pretrained(root / "whisper")

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        ["the face smiles and the voice is bright", "happy sad angry"],
        trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    hf_tok.chat_template = QWEN_TEMPLATE
    hf_tok.save_pretrained(root / "qwen")
    lm = Qwen2ForCausalLM(
        Qwen2Config(
            vocab_size=len(hf_tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            tie_word_embeddings=True,
        )
    )
    lm.save_pretrained(root / "qwen")
    return {"vision_dir": str(root / "siglip"), "audio_dir": str(root / "whisper"), "lm_dir": str(root / "qwen")}


@pytest.fixture(scope="module")
def standins(tmp_path_factory):
    return _save_standins(tmp_path_factory.mktemp("humanomni"))


def _clip(seed=0, seconds=2.0):
    rng = np.random.default_rng(seed)
    return Clip(
        path=f"/mem/h{seed}.mp4",
        frames=rng.integers(0, 256, (8, 90, 120, 3), dtype=np.uint8),
        audio=(0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32),
        sample_rate=16000,
        audio_missing=False,
        audio_silent=False,
        fps=10.0,
        duration=seconds,
    )


def test_humanomni_assembly_from_local_dirs(standins, tmp_path):
    paths_file = tmp_path / "paths.json"
    paths_file.write_text(json.dumps(standins))
    model = OmniModel.from_preset("humanomni-0.5b", paths=str(paths_file))
    processor = OmniProcessor.from_preset("humanomni-0.5b", paths=HumanOmniPaths(**standins))
    cfg = model.config
    assert (cfg.tokens_per_video, cfg.tokens_per_audio, cfg.audio_chunk_seconds) == (392, 500, 30)
    assert cfg.token_ids == processor.config.token_ids
    # the placeholders were added to the Qwen tokenizer and the embeddings grew to hold them
    assert model.lm.get_input_embeddings().num_embeddings == len(processor.tokenizer)
    assert processor.prompt_text("a").startswith("<|im_start|>system\n")
    # pretrained weights were really loaded (not re-initialised)
    from transformers import SiglipModel, WhisperForConditionalGeneration

    ref_v = SiglipModel.from_pretrained(standins["vision_dir"]).vision_model.embeddings.patch_embedding.weight
    assert torch.equal(model.vision_tower.embeddings.patch_embedding.weight, ref_v)
    ref_a = WhisperForConditionalGeneration.from_pretrained(standins["audio_dir"]).model.encoder.conv1.weight
    assert torch.equal(model.audio_tower.conv1.weight, ref_a)

    batch = processor([_clip(0), _clip(1), None], modalities=["av", "a", "t"])
    assert batch["pixel_values"].shape == (3, 8, 3, 56, 56) and batch["input_features"].shape == (3, 128, 3000)
    logits = model(**batch).logits
    assert logits.shape[:2] == batch["input_ids"].shape and torch.isfinite(logits).all()
    out = model.generate(batch, max_new_tokens=4)
    assert out.completion_ids.shape[0] == 3

    save_policy(tmp_path / "policy", model, processor)
    model2, processor2 = load_policy(tmp_path / "policy")
    assert torch.equal(
        model2(**processor2([_clip(0)], modalities="av")).logits, model(**processor([_clip(0)], modalities="av")).logits
    )


def test_humanomni_paths_errors(standins, tmp_path):
    with pytest.raises(FileNotFoundError, match="lm_dir="):
        OmniProcessor.from_preset("humanomni-0.5b", paths={**standins, "lm_dir": str(tmp_path / "nope")})
    with pytest.raises(ValueError, match=r"missing \['audio_dir'\]"):
        OmniProcessor.from_preset("humanomni-0.5b", paths={"vision_dir": "a", "lm_dir": "b"})
    with pytest.raises(FileNotFoundError, match="paths file not found"):
        OmniModel.from_preset("humanomni-0.5b", paths=str(tmp_path / "missing.yaml"))


def test_feature_extractor_mismatch_is_an_error(standins, tmp_path):
    import shutil

    from transformers import WhisperFeatureExtractor

    bad = tmp_path / "whisper"
    shutil.copytree(standins["audio_dir"], bad)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(bad)
    with pytest.raises(ValueError, match=r"preprocessor_config.json disagrees.*num_mel_bins.*\(80, 128\)"):
        OmniProcessor.from_preset("humanomni-0.5b", paths={**standins, "audio_dir": str(bad)})
