"""Modality attribution: conflict probes, grounding counts, gradient attribution, comparison, reading."""

from __future__ import annotations

import math
import types

import pytest
import torch

from r1omni import attribution as at


def rec(i, answer, face, voice, completion="", present=()):
    return {
        "id": f"k{i}",
        "label": face,
        "answer": answer,
        "face_label": face,
        "voice_label": voice,
        "completion": completion,
        "cues": {"present": list(present)},
    }


# ----------------------------------------------------------------------------- conflict probes


def test_conflict_follow_counts_per_pair():
    records = [
        rec(0, "happy", "happy", "sad"),
        rec(1, "sad", "happy", "sad"),
        rec(2, "happy", "happy", "sad"),
        rec(3, None, "happy", "sad"),
        rec(4, "angry", "fear", "angry"),
        rec(5, "surprise", "fear", "angry"),
    ]
    table = at.conflict_follow(records)
    row = table.loc[("happy", "sad")]
    assert row["n"] == 4 and row["face"] == 0.5 and row["voice"] == 0.25 and row["unparseable"] == 0.25
    row = table.loc[("fear", "angry")]
    assert row["n"] == 2 and row["voice"] == 0.5 and row["other"] == 0.5 and row["face"] == 0
    assert table.loc[("all", "all")]["n"] == 6 and table.loc[("all", "all")]["face"] == pytest.approx(2 / 6)
    s = at.conflict_summary(records)
    assert s == pytest.approx(
        {"n": 6, "face_rate": 2 / 6, "voice_rate": 2 / 6, "other_rate": 1 / 6, "unparseable_rate": 1 / 6}
    )


def test_conflict_probe_rejects_non_conflict_records():
    with pytest.raises(ValueError, match="not a conflict clip"):
        at.follows(rec(0, "sad", "sad", "sad"))
    with pytest.raises(ValueError, match="face_label"):
        at.follows({"id": "x", "answer": "sad"})


# ----------------------------------------------------------------------------- grounding


def test_think_text():
    assert at.think_text("<think>a b</think><answer>sad</answer>") == "a b"
    assert at.think_text("<think>no close <answer>sad</answer>") == "no close "
    assert at.think_text("<answer>sad</answer>") is None


def test_grounding_counts_on_hand_made_records():
    records = [
        # names a true face cue and a true voice cue; concludes sad, answers sad
        rec(
            0,
            "sad",
            "sad",
            "sad",
            "<think>I notice a frowning mouth and a quiet voice. Overall sad.</think><answer>sad</answer>",
            present=["frown", "soft_voice"],
        ),
        # names a true face cue and a hallucinated one (wide eyes); concludes happy, answers fear
        rec(
            1,
            "fear",
            "happy",
            "happy",
            "<think>There is a smile and staring eyes, so happy.</think><answer>fear</answer>",
            present=["smile", "loud_voice"],
        ),
        # only a hallucinated voice cue, no label named
        rec(
            2,
            "angry",
            "angry",
            "angry",
            "<think>The speaker has a raised voice.</think><answer>angry</answer>",
            present=["lowered_brows"],
        ),
        # no reasoning at all
        rec(3, None, "sad", "sad", "sad", present=["frown"]),
    ]
    g = [at.grounding_record(r) for r in records]
    assert [x["mode"] for x in g] == ["both", "visual", "audio", "none"]
    assert g[1]["hallucinated"] == ["wide_eyes"] and g[2]["hallucinated"] == ["loud_voice"]
    assert [x["agreement"] for x in g] == ["agree", "contradict", "no label", "no label"]
    s = at.grounding_summary(records)
    assert s["n"] == 4 and s["think_rate"] == 0.75
    assert s["visual_rate"] == 0.5 and s["audio_rate"] == 0.5 and s["both_rate"] == 0.25 and s["none_rate"] == 0.25
    assert s["hallucination_rate"] == pytest.approx(2 / 5)  # 5 mentions, 2 not in the clip
    assert s["clips_with_hallucination_rate"] == 0.5
    assert s["face_hallucination_rate"] == pytest.approx(1 / 3) and s["voice_hallucination_rate"] == pytest.approx(
        1 / 2
    )
    assert s["cue_recall"] == pytest.approx(3 / 6)  # frown, soft_voice, smile of 6 present cues
    assert s["agreement_rate"] == 0.5 and s["contradiction_rate"] == 0.5 and s["no_label_rate"] == 0.5


def test_grounding_needs_cues():
    with pytest.raises(ValueError, match="cues"):
        at.grounding_record({"id": "x", "completion": "", "answer": None, "cues": {}})


# ----------------------------------------------------------------------------- gradient attribution


def _toy():
    torch.manual_seed(0)
    w = torch.randn(5, 4)

    def f(x):  # (B, L, D) -> (B,): a smooth non-linear score
        return torch.log_softmax((torch.tanh(x) * w).sum(-1), dim=1)[:, 0]

    return f, torch.randn(5, 4)


def test_integrated_gradients_completeness():
    f, x = _toy()
    attr, delta = at.integrated_gradients(f, x, steps=64, chunk=16)
    assert attr.shape == (5,)
    assert attr.sum().item() == pytest.approx(delta, rel=1e-3, abs=1e-4)


def test_gradient_x_input_matches_autograd():
    w = torch.randn(3, 2)
    f = lambda x: (x * w).sum((1, 2))  # linear: grad = w, so a_i = sum_d x_id * w_id
    x = torch.randn(3, 2)
    assert torch.allclose(at.gradient_x_input(f, x), (x * w).sum(-1))


def test_group_shares_sum_to_one():
    attr = torch.tensor([1.0, -3.0, 2.0, 4.0])
    s = at.group_shares(attr, ["video", "video", "audio", "text"])
    assert s["video"] == pytest.approx(0.4) and s["audio"] == pytest.approx(0.2) and s["text"] == pytest.approx(0.4)
    assert sum(s[g] for g in at.GROUPS) == pytest.approx(1.0)
    assert s["signed_video"] == pytest.approx(-2.0)
    with pytest.raises(ValueError, match="unknown token groups"):
        at.group_shares(attr, ["video", "image", "audio", "text"])


# ----------------------------------------------------------------------------- comparison and reading


def _result(war_av, war_v, war_a, face, both, hall):
    abl = {
        s: {"war": w, "uar": w, "per_class_recall": {"happy": w}}
        for s, w in zip(at.MODALITY_SUBSETS, (war_av, war_v, war_a, 0.1))
    }
    return {
        "ablation": abl,
        "conflict": {
            "n": 10,
            "face_rate": face,
            "voice_rate": 1 - face - 0.1,
            "other_rate": 0.1,
            "unparseable_rate": 0.0,
        },
        "gradient": {"video": 0.5, "audio": 0.3, "text": 0.2},
        "grounding": {
            "think_rate": 1.0,
            "visual_rate": 0.9,
            "audio_rate": 0.4 + both,
            "both_rate": both,
            "none_rate": 0.0,
            "hallucination_rate": hall,
            "cue_recall": 0.5,
            "agreement_rate": 0.9,
            "contradiction_rate": 0.1,
        },
    }


def test_compare_and_reading_follow_the_numbers():
    results = {"cold_start": _result(0.6, 0.55, 0.3, 0.7, 0.2, 0.3), "rlvr": _result(0.8, 0.5, 0.6, 0.4, 0.5, 0.1)}
    table = at.compare_checkpoints(results)
    assert table.loc[("ablation", "WAR video+audio"), "rlvr"] == pytest.approx(80)
    assert table.loc[("ablation", "audio carries (pp)"), "rlvr"] == pytest.approx(30)
    assert table.loc[("ablation", "video carries (pp)"), "cold_start"] == pytest.approx(30)
    assert table.loc[("gradient", "video share"), "rlvr"] == pytest.approx(50)
    text = at.write_reading(results)
    assert "WAR 80% (cold_start: 60%)" in text
    assert "rest more on the audio" in text  # rlvr: video carries 20 pp, audio 30 pp
    assert "Removing the video costs 20 points of rlvr's WAR and removing the audio costs 30 points" in text
    assert "relies more on the audio than cold_start" in text  # audio carries 30 vs 5 pp
    assert "siding with the voice" in text  # rlvr: face 40%, voice 50%
    assert "names both modalities more often than cold_start and hallucinates less often" in text
    assert "this run supports the paper" in text and "Caution" not in text
    flipped = at.write_reading(results, before="rlvr", after="cold_start")
    assert "does not support" in flipped and "siding with the face" in flipped
    assert "(" not in at.write_reading({"rlvr": results["rlvr"]}).split("Removing")[0].split("UAR")[1]
    # nothing parseable, nothing named: the reading says so instead of inventing a direction
    empty = _result(0.0, 0.0, 0.0, 0.0, 0.0, float("nan"))
    empty["ablation"]["av"]["unparseable_rate"] = 1.0
    empty["conflict"].update(voice_rate=0.0, other_rate=0.0, unparseable_rate=1.0)
    empty["gradient"] = {"video": float("nan"), "audio": float("nan"), "text": float("nan")}
    text = at.write_reading({"cold_start": empty, "rlvr": empty})
    assert text.startswith("Caution: 100%") and "rest both about equally" in text and "favouring neither" in text
    better_without_video = _result(0.2, 0.1, 0.3, 0.5, 0.2, 0.1)
    assert "Removing the video adds 10 points" in at.write_reading({"m": better_without_video})
    assert "No answer of rlvr could be attributed" in text and "never names both modalities" in text


def test_modality_reliance_needs_subsets():
    assert at.modality_reliance({"av": {"war": 0.5}}) == {}
    assert math.isclose(at.modality_reliance({"av": {"war": 0.5}, "t": {"war": 0.2}})["media_carries"], 30)


# ----------------------------------------------------------------------------- with the tiny model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from r1omni.data.media import load_clip
    from r1omni.model import load_preset
    from tests.test_evaluate import write_fixture_manifest

    root = tmp_path_factory.mktemp("attr")
    manifest = write_fixture_manifest(root)
    model, processor = load_preset("tiny", seed=0)
    return root, manifest, model.eval(), processor, load_clip(root / "clips" / "c0.mp4")


class FirstTokenRanking:
    """A policy whose answer is the ranking of its most likely first tokens under the tiny model
    (its real forward: towers, projectors, placeholders), so any change in what the model is
    given changes the answer; greedy decoding of the random weights writes the same text for
    every clip and could not tell the inputs apart."""

    def __init__(self, model):
        self.model = model

    def to(self, device):
        return self

    def eval(self):
        return self

    def generate(self, inputs, max_new_tokens, do_sample):
        with torch.no_grad():
            logits = self.model(**inputs).logits[:, -1]  # (B, V) after the prompt
        ids = logits.topk(max_new_tokens, dim=-1).indices  # (B, k)
        return types.SimpleNamespace(completion_ids=ids, completion_mask=torch.ones_like(ids))


def _av_manifest(root, pairs):
    """Clip i of the manifest = (frames number f, audio number a) for (f, a) in ``pairs``: random
    frames, tones of distinct pitch and level, so that two manifests can share one modality."""
    import numpy as np

    from r1omni.data.manifest import make_record, write_manifest
    from r1omni.data.media import write_clip

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (8, 32, 32, 3), dtype=np.uint8) for _ in range(8)]
    t = np.arange(16000) / 16000
    tones = [(0.05 * (1 + k) * np.sin(2 * np.pi * (150 + 90 * k) * t)).astype(np.float32) for k in range(8)]
    records = []
    for i, (f, a) in enumerate(pairs):
        write_clip(root / "clips" / f"c{i}.mp4", frames[f], tones[a], fps=8)
        records.append(make_record(id=f"c{i}", video=f"clips/c{i}.mp4", label="happy", split="test"))
    return write_manifest(root / "test.jsonl", records)


def test_ablation_gives_each_run_only_its_modalities(tiny, tmp_path):
    """The video-only answer stays when the audio is replaced and changes with the video; the
    audio-only answer the reverse; the text-only answer depends on neither."""
    from r1omni.evaluate import EvalConfig, read_predictions

    model, processor = tiny[2], tiny[3]
    manifests = {
        "base": _av_manifest(tmp_path / "base", [(i, i) for i in range(4)]),
        "other_audio": _av_manifest(tmp_path / "other_audio", [(i, i + 4) for i in range(4)]),
        "other_video": _av_manifest(tmp_path / "other_video", [(i + 4, i) for i in range(4)]),
    }
    cfg = EvalConfig(batch_size=4, max_new_tokens=24, n_boot=10)
    answers, results = {}, {}
    for name, manifest in manifests.items():
        out = tmp_path / f"abl_{name}"
        results[name] = at.modality_ablation(
            tmp_path / "m", manifest, out, cfg, model=FirstTokenRanking(model), processor=processor, name="m"
        )
        assert list(results[name]) == list(at.MODALITY_SUBSETS)
        answers[name] = {s: [r["completion"] for r in read_predictions(out / f"m_{s}.jsonl")] for s in results[name]}
    base, other_audio, other_video = answers["base"], answers["other_audio"], answers["other_video"]
    assert all(len(a) == 4 for a in base.values())
    assert base["v"] == other_audio["v"]  # video only: the audio is not seen
    assert base["a"] == other_video["a"]  # audio only: the video is not seen
    for i in range(4):  # ... while each run does see its own modality, clip by clip
        assert base["v"][i] != other_video["v"][i] and base["a"][i] != other_audio["a"][i]
        assert base["av"][i] != other_audio["av"][i] and base["av"][i] != other_video["av"][i]
    assert len(set(base["t"] + other_audio["t"] + other_video["t"])) == 1  # no media at all
    table = at.ablation_table(results["base"])
    assert list(table.index) == [at.MODALITY_NAMES[s] for s in at.MODALITY_SUBSETS] and "recall happy" in table


def test_answer_token_span(tiny):
    processor = tiny[3]
    ids = processor.tokenizer("<think>a smile</think><answer>surprise</answer>", add_special_tokens=False)["input_ids"]
    span = at.answer_token_span(processor, ids)
    assert processor.tokenizer.decode([ids[k] for k in span]) == "surprise"
    assert at.answer_token_span(processor, ids[:-1]) == []  # no closing tag


COMPLETION = "<think>a smile and a loud voice</think><answer>happy</answer>"


def test_gradient_attribution_shares_and_completeness(tiny):
    _, _, model, processor, clip = tiny
    ig = at.clip_attribution(model, processor, clip, completion=COMPLETION, steps=96)
    assert sum(ig[g] for g in at.GROUPS) == pytest.approx(1.0)
    assert min(ig[g] for g in at.GROUPS) > 0 and 0 < ig["reasoning_share"] < ig["text"]
    # completeness: the attributions add up to f(x) - f(0) (96 log-spaced steps: 0.4 % off here)
    assert ig["sum_attr"] == pytest.approx(ig["delta"], rel=0.01)
    gx = at.clip_attribution(model, processor, clip, completion=COMPLETION, method="gradient_x_input")
    assert sum(gx[g] for g in at.GROUPS) == pytest.approx(1.0) and gx["log_prob"] == pytest.approx(ig["log_prob"])
    text_only = at.clip_attribution(
        model, processor, None, completion=COMPLETION, method="gradient_x_input", modalities="t"
    )
    assert text_only["video"] == 0 and text_only["audio"] == 0 and text_only["text"] == pytest.approx(1.0)
    # greedy decoding of random weights writes no answer block: the clip is skipped, and counted
    summary = at.gradient_summary(
        [{"id": "a", **ig}, {"id": "b", **at.clip_attribution(model, processor, clip, max_new_tokens=4)}]
    )
    assert summary["n"] == 1 and summary["skipped"] == 1 and summary["video"] == ig["video"]
    assert summary["completeness_error"] == pytest.approx(abs(ig["sum_attr"] - ig["delta"]) / abs(ig["delta"]))
    assert summary["completeness_error"] < 0.01


def _one_modality_model(keep: str):
    """The tiny model made to read one modality only: its input embedding matrix zeroed (text
    positions become exact zeros, so their attribution against the zero baseline is exactly 0;
    the LM head untied from it first) and the other modality's projector output zeroed."""
    from r1omni.model import load_preset

    model, _ = load_preset("tiny", seed=0)
    lm = model.lm
    with torch.no_grad():
        lm.lm_head.weight = torch.nn.Parameter(lm.lm_head.weight.detach().clone())
        lm.config.tie_word_embeddings = False
        lm.get_input_embeddings().weight.zero_()
        muted = model.visual_projector if keep == "audio" else model.audio_projector
        muted.mlp.fc2.weight.zero_()
        muted.mlp.fc2.bias.zero_()
    return model.eval()


@pytest.mark.parametrize("keep", ["audio", "video"])
def test_a_model_that_reads_one_modality_gets_all_of_its_share(tiny, keep):
    import dataclasses

    import numpy as np

    _, _, _, processor, clip = tiny
    model = _one_modality_model(keep)
    other = "video" if keep == "audio" else "audio"
    ig = at.clip_attribution(model, processor, clip, completion=COMPLETION, steps=32)
    assert ig[keep] == pytest.approx(1.0, abs=1e-6) and ig[other] == 0.0 and ig["text"] == 0.0
    assert ig[f"signed_{keep}"] == pytest.approx(ig["sum_attr"]) and abs(ig["sum_attr"]) > 0
    # the construction is what it claims: the answer's log-prob moves with that modality only
    rng = np.random.default_rng(1)
    new_frames = dataclasses.replace(clip, frames=rng.integers(0, 255, clip.frames.shape, dtype=np.uint8))
    new_audio = dataclasses.replace(clip, audio=(0.3 * rng.standard_normal(clip.audio.shape)).astype(np.float32))
    gx = {
        name: at.clip_attribution(model, processor, c, completion=COMPLETION, method="gradient_x_input")
        for name, c in (("clip", clip), ("video", new_frames), ("audio", new_audio))
    }
    assert gx["clip"][keep] == pytest.approx(1.0, abs=1e-6)
    assert gx[other]["log_prob"] == gx["clip"]["log_prob"] != gx[keep]["log_prob"]


def test_hedging_summary_reads_a_policy_that_names_one_label_and_answers_another():
    """The lenient-reward hack of notebook 03's exercise 1: the reasoning concludes one label, the
    answer names another, so a substring reward pays for either while the strict one does not."""
    from r1omni.attribution import answer_agreement, hedging_summary, reasoning_label

    hedge = "<think>The mouth is curved up, they look happy.</think><answer>sad</answer>"
    honest = "<think>The brows are lowered, they look angry.</think><answer>angry</answer>"
    rows = [
        {"completion": hedge, "label": "happy"},  # lenient pays (happy in the text), strict does not
        {"completion": hedge, "label": "sad"},  # both pay
        {"completion": honest, "label": "angry"},
        {"completion": "<answer>fear</answer>", "label": "fear"},  # no reasoning: not counted as labelled
    ]
    s = hedging_summary(rows)
    assert s["n"] == 4 and s["labelled"] == 3
    assert s["strict_accuracy"] == 0.75 and s["lenient_accuracy"] == 1.0
    assert s["contradiction_rate"] == pytest.approx(2 / 3)
    assert s["think_rate"] == 0.75 and s["mean_labels_named"] == pytest.approx((2 + 2 + 1 + 1) / 4)
    assert reasoning_label(hedge) == "happy" and reasoning_label("no tags, happy") is None
    assert answer_agreement("happy", None) == "no answer" and answer_agreement(None, "sad") == "no label"
    with pytest.raises(ValueError, match="no records"):
        hedging_summary([])
