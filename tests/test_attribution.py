"""Modality attribution: conflict probes, grounding counts, gradient attribution, comparison, reading."""

from __future__ import annotations

import math

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


def test_ablation_runs_each_modality_subset(tiny):
    from r1omni.evaluate import EvalConfig, read_predictions

    root, manifest, model, processor, _ = tiny
    cfg = EvalConfig(batch_size=4, max_new_tokens=3, n_boot=10)
    res = at.modality_ablation(root / "m", manifest, root / "abl", cfg, model=model, processor=processor, name="m")
    assert list(res) == list(at.MODALITY_SUBSETS)
    for subset in at.MODALITY_SUBSETS:
        rows = read_predictions(root / "abl" / f"m_{subset}.jsonl")
        assert len(rows) == 4 and {r["modalities"] for r in rows} == {subset}
    # the inputs really differ: text-only decoding sees no media, so its completions can't depend on the clip
    t_completions = {r["completion"] for r in read_predictions(root / "abl" / "m_t.jsonl")}
    assert len(t_completions) == 1
    table = at.ablation_table(res)
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
    # completeness: the attributions add up to f(x) - f(0)
    assert ig["sum_attr"] == pytest.approx(ig["delta"], rel=0.1, abs=0.02)
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
    assert summary["completeness_error"] < 0.2
