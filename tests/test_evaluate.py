"""Evaluation: WAR/UAR definitions, bootstrap, unparseable counting, resumable decoding, tables."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from r1omni import evaluate as ev
from r1omni import runs
from r1omni.data.manifest import load_manifest
from r1omni.evaluate import (
    OTHER,
    UNPARSEABLE,
    bootstrap_ci,
    compare_models,
    confusion_matrix,
    per_class_recall,
    predict,
    read_predictions,
    summarize_predictions,
    uar,
    war,
)

Y_TRUE = ["happy", "happy", "happy", "sad", "sad", "fear"]
Y_PRED = ["happy", "sad", None, "sad", "sad", "angry"]


def test_war_uar_hand_computed():
    # WAR: 3 of 6 right. Recalls: happy 1/3, sad 2/2, fear 0/1 -> UAR = (1/3 + 1 + 0) / 3.
    assert war(Y_TRUE, Y_PRED) == pytest.approx(0.5)
    assert uar(Y_TRUE, Y_PRED) == pytest.approx((1 / 3 + 1 + 0) / 3)
    assert per_class_recall(Y_TRUE, Y_PRED) == pytest.approx({"fear": 0.0, "happy": 1 / 3, "sad": 1.0})


def test_uar_ignores_classes_absent_from_ground_truth():
    # "angry" is predicted but never true, "disgust" in the label set but absent: neither is averaged.
    y_true, y_pred = ["happy", "happy", "sad"], ["happy", "angry", "angry"]
    assert uar(y_true, y_pred) == pytest.approx((0.5 + 0.0) / 2)
    recalls = per_class_recall(y_true, y_pred, ["happy", "sad", "disgust"])
    assert np.isnan(recalls["disgust"]) and recalls["happy"] == 0.5


def test_agrees_with_sklearn():
    rng = np.random.default_rng(1)
    labels = ["a", "b", "c", "d"]
    y_true = list(rng.choice(labels, 200, p=[0.5, 0.3, 0.15, 0.05]))
    y_pred = list(rng.choice(labels, 200))
    assert war(y_true, y_pred) == pytest.approx(accuracy_score(y_true, y_pred))
    assert uar(y_true, y_pred) == pytest.approx(balanced_accuracy_score(y_true, y_pred))


def test_unparseable_counts_as_wrong_and_separately():
    records = [
        {
            "label": t,
            "answer": p,
            "rewards": {"format": float(p is not None), "accuracy": float(t == p)},
            "completion_tokens": 10 + i,
        }
        for i, (t, p) in enumerate(zip(Y_TRUE, Y_PRED))
    ]
    s = summarize_predictions(records, ["happy", "sad", "fear", "angry"], n_boot=50)
    assert s["unparseable_rate"] == pytest.approx(1 / 6)
    assert s["war"] == pytest.approx(0.5)
    assert s["confusion"]["happy"][UNPARSEABLE] == 1
    assert s["confusion"]["fear"]["angry"] == 1
    assert s["format_rate"] == pytest.approx(5 / 6)
    assert s["accuracy_reward"] == pytest.approx(3 / 6)  # the accuracy rewards, not the format ones
    assert s["mean_completion_tokens"] == pytest.approx(12.5)
    # the confusion matrix holds every clip exactly once
    assert sum(sum(row.values()) for row in s["confusion"].values()) == 6


def test_confusion_other_column_and_unknown_truth():
    mat = confusion_matrix(["happy", "sad"], ["calm", "sad"], ["happy", "sad"])
    assert mat.loc["happy", OTHER] == 1 and mat.loc["sad", "sad"] == 1
    with pytest.raises(ValueError, match="not in the label set"):
        confusion_matrix(["bored"], ["sad"], ["happy", "sad"])


@pytest.mark.parametrize("metric", ["war", "uar"])
def test_bootstrap_contains_point_and_is_seeded(metric):
    rng = np.random.default_rng(0)
    y_true = list(rng.choice(["a", "b", "c"], 300))
    y_pred = [t if rng.random() < 0.6 else "a" for t in y_true]
    point = war(y_true, y_pred) if metric == "war" else uar(y_true, y_pred)
    lo, hi = bootstrap_ci(y_true, y_pred, metric, n_boot=500, seed=3)
    assert lo <= point <= hi and hi - lo < 0.2
    assert (lo, hi) == bootstrap_ci(y_true, y_pred, metric, n_boot=500, seed=3)
    # another seed draws other resamples, so (almost always) another interval
    others = {bootstrap_ci(y_true, y_pred, metric, n_boot=200, seed=s) for s in range(6)}
    assert len(others) >= 4
    # the vectorised UAR path equals the generic callable path
    assert bootstrap_ci(y_true, y_pred, metric, n_boot=50, seed=1) == pytest.approx(
        bootstrap_ci(y_true, y_pred, war if metric == "war" else uar, n_boot=50, seed=1)
    )


def test_length_mismatch_and_empty_raise():
    with pytest.raises(ValueError, match="y_true has 2"):
        war(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="empty"):
        uar([], [])


# ----------------------------------------------------------------------------- resumable decoding

EXAMPLES = [
    {"id": f"c{i}", "label": ["happy", "sad", "fear"][i % 3], "split": "test", "cues": {"present": ["smile"]}}
    for i in range(7)
]


def fake_generate(calls):
    def gen(batch):
        calls.append([e["id"] for e in batch])
        return [
            (f"<think>a smile</think><answer>{'happy' if int(e['id'][1:]) % 2 else 'x'}</answer>", 5) for e in batch
        ]

    return gen


def test_predictions_resume_after_kill(tmp_path):
    full = tmp_path / "full.jsonl"
    predict(EXAMPLES, fake_generate([]), full, batch_size=3, model="m", modalities="av", progress=False)

    out = tmp_path / "resumed.jsonl"
    calls = []

    def dies_after_one_batch(batch):
        if calls:
            raise KeyboardInterrupt("killed")
        return fake_generate(calls)(batch)

    with pytest.raises(KeyboardInterrupt):
        predict(EXAMPLES, dies_after_one_batch, out, batch_size=3, model="m", modalities="av", progress=False)
    assert len(read_predictions(out)) == 3
    # a torn last line (kill in the middle of a write) is dropped and recomputed
    with out.open("a") as fh:
        fh.write('{"id": "c3", "lab')
    calls2 = []
    rows = predict(EXAMPLES, fake_generate(calls2), out, batch_size=3, model="m", modalities="av", progress=False)
    assert calls2 == [["c3", "c4", "c5"], ["c6"]]  # only what was missing
    assert out.read_text() == full.read_text()
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert ids == [e["id"] for e in EXAMPLES] and len(set(ids)) == len(ids)
    assert [r["answer"] for r in rows[:2]] == [None, "happy"]
    assert rows[1]["rewards"] == {"format": 1.0, "accuracy": 0.0, "grounding": 1.0}
    assert rows[1]["split"] == "test" and rows[1]["completion_tokens"] == 5


def test_predictions_of_another_model_or_checkpoint_are_not_mixed(tmp_path):
    out = tmp_path / "p.jsonl"
    predict(
        EXAMPLES[:2],
        fake_generate([]),
        out,
        batch_size=2,
        model="m",
        modalities="av",
        settings={"checkpoint": "aaa"},
        progress=False,
    )
    with pytest.raises(ValueError, match="use another out_path"):
        predict(
            EXAMPLES,
            fake_generate([]),
            out,
            batch_size=2,
            model="m",
            modalities="v",
            on_mismatch="error",
            settings={"checkpoint": "aaa"},
            progress=False,
        )
    calls = []
    with pytest.warns(UserWarning, match="decoding afresh"):  # retrained checkpoint: start over
        rows = predict(
            EXAMPLES,
            fake_generate(calls),
            out,
            batch_size=4,
            model="m",
            modalities="av",
            settings={"checkpoint": "bbb"},
            progress=False,
        )
    assert len(calls) == 2 and {r["settings"]["checkpoint"] for r in read_predictions(out)} == {"bbb"}
    assert len(rows) == len(EXAMPLES)


def test_select_examples_is_seeded_subset_in_order():
    picked = ev.select_examples(EXAMPLES, 4, seed=0)
    assert len(picked) == 4 and picked == sorted(picked, key=lambda e: int(e["id"][1:]))
    assert picked == ev.select_examples(EXAMPLES, 4, seed=0)
    assert ev.select_examples(EXAMPLES, None) == EXAMPLES


# ----------------------------------------------------------------------------- tables


def test_compare_models_has_separate_paper_rows():
    m = {"war": 0.5, "uar": 0.25, "war_ci": [0.4, 0.6], "uar_ci": [0.2, 0.3]}
    table = compare_models({"cold_start": {"test": m}, "rlvr": {"test": m, "ood": m}}, with_ci=True)
    assert table.loc["rlvr", ("test", "WAR")] == 50.0 and table.loc["rlvr", ("test", "UAR")] == 25.0
    assert np.isnan(table.loc["cold_start", ("ood", "WAR")])
    paper = table.loc["paper: R1-Omni (RLVR)"]
    assert paper[("DFEW", "WAR")] == 65.83 and paper[("RAVDESS", "UAR")] == 44.69
    assert paper[("", "source")].startswith("paper (real data")
    assert np.isnan(paper[("test", "WAR")]) and np.isnan(table.loc["rlvr", ("DFEW", "WAR")])
    assert table.loc["rlvr", ("test", "WAR 95% CI")] == "[40.0, 60.0]"
    assert "paper: HumanOmni-0.5B" not in compare_models({"rlvr": {"test": m}}, include_paper=False).index


def test_resolve_model_dirs_errors_on_missing(tmp_path):
    (tmp_path / "02_cold_start_sft" / "model").mkdir(parents=True)
    assert runs.resolve_model_dirs(tmp_path, ["cold_start"])["cold_start"].name == "model"
    with pytest.raises(FileNotFoundError, match="rlvr"):
        runs.resolve_model_dirs(tmp_path, ["cold_start", "rlvr"])
    with pytest.raises(ValueError, match="unknown model"):
        runs.resolve_model_dirs(tmp_path, ["gpt"])


# ----------------------------------------------------------------------------- with the tiny model


def write_fixture_manifest(
    root, pairs=(("happy", "happy"), ("sad", "sad"), ("fear", "angry"), ("angry", "fear")), seed=0
):
    """A few random-noise clips as a SynthEmo-like manifest (face/voice labels, cues); the ids do
    not depend on ``seed``, the clips do (as in SynthEmo)."""
    from r1omni.data.manifest import make_record, write_manifest
    from r1omni.data.media import write_clip

    rng = np.random.default_rng(seed)
    records = []
    for i, (face, voice) in enumerate(pairs):
        frames = rng.integers(0, 255, (8, 32, 32, 3), dtype=np.uint8)
        write_clip(root / "clips" / f"c{i}.mp4", frames, (0.1 * rng.standard_normal(16000)).astype(np.float32), fps=8)
        records.append(
            make_record(
                id=f"c{i}",
                video=f"clips/c{i}.mp4",
                label=face,
                split="test",
                cues={"present": ["smile"]},
                face_label=face,
                voice_label=voice,
                domain="synth",
            )
        )
    return write_manifest(root / "test.jsonl", records)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from r1omni.model import load_preset, save_policy

    root = tmp_path_factory.mktemp("eval")
    model, processor = load_preset("tiny", seed=0)
    save_policy(root / "model", model, processor)
    return root, write_fixture_manifest(root), model, processor


def test_evaluate_split_end_to_end_and_resume(tiny, monkeypatch):
    root, manifest, model, processor = tiny
    cfg = ev.EvalConfig(batch_size=2, max_new_tokens=6, n_boot=20)
    full = ev.evaluate_split(root / "model", manifest, root / "full.jsonl", cfg)  # loads the saved policy
    assert full["n"] == 4 and full["modalities"] == "av"
    assert full["unparseable_rate"] == 1.0 and full["war"] == 0.0  # random weights never write <answer>
    assert all(0 < r["completion_tokens"] <= 6 for r in read_predictions(root / "full.jsonl"))

    calls = []
    real_generate = model.generate

    def killed_on_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(model, "generate", killed_on_second_batch)
    out = root / "resumed.jsonl"
    name = (root / "model").as_posix()
    with pytest.raises(KeyboardInterrupt):
        ev.evaluate_split(root / "model", manifest, out, cfg, model=model, processor=processor, name=name)
    assert len(read_predictions(out)) == 2
    monkeypatch.setattr(model, "generate", real_generate)
    resumed = ev.evaluate_split(root / "model", manifest, out, cfg, model=model, processor=processor, name=name)
    assert out.read_text() == (root / "full.jsonl").read_text()
    assert resumed["confusion"] == full["confusion"]
    examples = ev.select_examples(load_manifest(manifest), cfg.max_examples, cfg.seed)
    assert read_predictions(out)[0]["settings"] == ev.decoding_settings(root / "model", cfg, examples)
    assert ev.checkpoint_fingerprint(root / "model") != "unsaved" and ev.checkpoint_fingerprint(root) == "unsaved"


#: (grey level of the clip's frames, true label, what the scripted policy answers for that level)
SCRIPT = [
    (0, "happy", "<think>a smile</think><answer>happy</answer>"),
    (50, "happy", "<think>a smile</think><answer>happy</answer>"),
    (100, "sad", "<think>a smile</think><answer>happy</answer>"),
    (150, "sad", "<think>tears</think><answer>sad</answer>"),
    (200, "fear", "I think fear"),  # no tags: unparseable, format 0
    (250, "angry", "<think>a loud voice</think><answer>angry</answer>"),
]


class ScriptedPolicy:
    """A stand-in for the model that answers from what it sees: the grey level of the clip's frames
    (read from the processor's pixel values) picks the answer of :data:`SCRIPT`."""

    def __init__(self, processor):
        self.processor = processor

    def to(self, device):
        return self

    def eval(self):
        return self

    def generate(self, inputs, max_new_tokens, do_sample):
        import torch

        tok = self.processor.tokenizer
        levels = ((inputs["pixel_values"].flatten(1).mean(1) + 1) * 127.5 / 50).round().long().tolist()  # (B,)
        rows = [
            tok(SCRIPT[k][2], add_special_tokens=False)["input_ids"][:max_new_tokens] + [tok.eos_token_id]
            for k in levels
        ]
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        return types.SimpleNamespace(completion_ids=ids, completion_mask=mask)


def test_evaluate_split_scores_parseable_partly_right_answers(tiny, tmp_path):
    """Real clips through load_clip, the processor, decoding, parsing and scoring; a policy whose
    answers are right on 4 of 6 clips, wrong on one and unparseable on one."""
    from r1omni.data.manifest import make_record, write_manifest
    from r1omni.data.media import write_clip

    processor = tiny[3]
    records = []
    for i, (grey, label, _) in enumerate(SCRIPT):
        frames = np.full((8, 32, 32, 3), grey, np.uint8)
        write_clip(tmp_path / "clips" / f"g{i}.mp4", frames, 0.1 * np.ones(16000, np.float32), fps=8)
        records.append(make_record(id=f"g{i}", video=f"clips/g{i}.mp4", label=label, split="test"))
    manifest = write_manifest(tmp_path / "test.jsonl", records)
    cfg = ev.EvalConfig(batch_size=4, max_new_tokens=32, n_boot=50)
    s = ev.evaluate_split(
        tmp_path / "m", manifest, tmp_path / "p.jsonl", cfg, model=ScriptedPolicy(processor), processor=processor
    )
    rows = read_predictions(tmp_path / "p.jsonl")
    assert [r["answer"] for r in rows] == ["happy", "happy", "happy", "sad", None, "angry"]
    assert [r["completion"] for r in rows] == [text for _, _, text in SCRIPT]
    # WAR 4/6; recalls happy 2/2, sad 1/2, fear 0/1, angry 1/1 -> UAR 2.5/4
    assert s["war"] == pytest.approx(4 / 6) and s["uar"] == pytest.approx(2.5 / 4)
    assert s["per_class_recall"]["sad"] == 0.5 and s["per_class_recall"]["fear"] == 0.0
    assert np.isnan(s["per_class_recall"]["surprise"])  # in the label set, not in the split
    assert s["confusion"]["sad"]["happy"] == 1 and s["confusion"]["sad"]["sad"] == 1
    assert s["confusion"]["fear"][UNPARSEABLE] == 1 and s["confusion"]["happy"]["happy"] == 2
    assert s["unparseable_rate"] == pytest.approx(1 / 6)
    assert s["format_rate"] == pytest.approx(5 / 6) and s["accuracy_reward"] == pytest.approx(4 / 6)
    assert s["war_ci"][0] < 4 / 6 < s["war_ci"][1]
    assert s["mean_completion_tokens"] == pytest.approx(np.mean([r["completion_tokens"] for r in rows]))
    assert (
        rows[4]["completion_tokens"]
        == len(processor.tokenizer("I think fear", add_special_tokens=False)["input_ids"]) + 1
    )


def test_predictions_of_other_data_under_the_same_ids_are_decoded_anew(tiny, tmp_path, monkeypatch):
    """Evaluating the same checkpoint on a set made with another seed (same ids, other clips) must
    decode again, never score the old predictions."""
    root, manifest, model, processor = tiny
    other = write_fixture_manifest(tmp_path / "seed1", seed=1)
    cfg = ev.EvalConfig(batch_size=4, max_new_tokens=4, n_boot=10)
    out = tmp_path / "predictions.jsonl"
    calls = []
    real_generate = model.generate
    monkeypatch.setattr(model, "generate", lambda *a, **k: calls.append(1) or real_generate(*a, **k))
    first = ev.predict_split(root / "model", manifest, out, cfg, model=model, processor=processor)
    assert calls == [1]
    ev.predict_split(root / "model", manifest, out, cfg, model=model, processor=processor)
    assert calls == [1]  # same data: resumed from the file, nothing decoded
    with pytest.warns(UserWarning, match="discarding them and decoding afresh"):
        second = ev.predict_split(root / "model", other, out, cfg, model=model, processor=processor)
    assert calls == [1, 1]  # other clips under the same ids: decoded anew
    assert [r["id"] for r in first] == [r["id"] for r in second]
    assert first[0]["settings"]["data"] != second[0]["settings"]["data"]
    assert {r["settings"]["data"] for r in read_predictions(out)} == {second[0]["settings"]["data"]}


def test_evaluate_split_missing_model_dir(tiny, tmp_path):
    _, manifest, _, _ = tiny
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ev.evaluate_split(tmp_path / "nope", manifest, tmp_path / "p.jsonl")


def test_run_report_from_metrics_files(tmp_path):
    from r1omni.io import atomic_write_json
    from r1omni.workbook.report import run_report

    m = {"n": 4, "war": 0.5, "uar": 0.25, "war_ci": [0.4, 0.6], "uar_ci": [0.2, 0.3]}
    atomic_write_json(
        tmp_path / "04_evaluation" / "metrics.json",
        {"results": {"rlvr": {"test": m, "ood": m}}, "reading": "RLVR reading."},
    )
    text = run_report(tmp_path)
    header = next(line for line in text.splitlines() if line.startswith("|  |"))
    assert header.index("test WAR") < header.index("ood WAR") < header.index("DFEW WAR")
    assert "| rlvr | this run (SynthEmo) | 50.0 | 25.0 | 50.0 | 25.0 | — |" in text
    assert "| paper: R1-Omni (RLVR) | paper (real data, reference only) | — | — | — | — | 65.8 | 56.3 |" in text
    assert "RLVR reading." in text and "05_modality_attribution has not run" in text


# ----------------------------------------------------------------------------- pass@k
@given(st.integers(1, 9).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_equals_brute_force_enumeration(nck):
    """pass@k = the share of the C(n, k) subsets of the n samples that hold at least one right one."""
    import itertools

    n, c, k = nck
    samples = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    brute = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
    assert ev.pass_at_k(n, c, k) == pytest.approx(brute, abs=1e-12)


def test_pass_at_k_bounds_and_ks():
    with pytest.raises(ValueError, match="0 <= c <= n"):
        ev.pass_at_k(4, 5, 1)
    with pytest.raises(ValueError, match="1 <= k <= n"):
        ev.pass_at_k(4, 1, 5)
    assert ev.pass_at_k_ks(16) == [1, 2, 4, 8, 16] and ev.pass_at_k_ks(1) == [1]


def _sampled(correct_per_clip, n):
    return [
        {"id": f"c{i}#{j}", "clip_id": f"c{i}", "rewards": {"accuracy": float(j < c)}}
        for i, c in enumerate(correct_per_clip)
        for j in range(n)
    ]


def test_pass_at_k_summary_and_the_sharpening_reading():
    cold = ev.pass_at_k_summary(_sampled([1, 1, 0, 0] * 10, 4), n_boot=200)
    assert cold["n"] == 4 and cold["clips"] == 40
    assert cold["pass_at_k"]["1"] == pytest.approx(0.5 * 0.25) and cold["pass_at_k"]["4"] == pytest.approx(0.5)
    sharpened = ev.pass_at_k_summary(_sampled([4, 4, 0, 0] * 10, 4), n_boot=200)  # same clips solved, every time
    text = ev.pass_at_k_reading({"cold_start": {"test": cold}, "rlvr": {"test": sharpened}}, splits=["test"])
    assert "raised pass@1 only, with pass@n level: sharpening" in text
    wider = ev.pass_at_k_summary(_sampled([4, 4, 4, 0] * 10, 4), n_boot=200)  # a clip it never solved, now solved
    text = ev.pass_at_k_reading({"cold_start": {"test": cold}, "rlvr": {"test": wider}}, splits=["test"])
    assert "new capability" in text
    narrowed = ev.pass_at_k_summary(_sampled([4, 0, 0, 0] * 10, 4), n_boot=200)  # one clip every time, one lost
    text = ev.pass_at_k_reading({"cold_start": {"test": cold}, "rlvr": {"test": narrowed}}, splits=["test"])
    assert "raised pass@1 while pass@n fell: sharpening that narrowed" in text and "pass@n level" not in text
    lost = ev.pass_at_k_summary(_sampled([1, 0, 0, 0] * 10, 4), n_boot=200)  # pass@1 down too
    text = ev.pass_at_k_reading({"cold_start": {"test": cold}, "rlvr": {"test": lost}}, splits=["test"])
    assert "pass@1 and pass@n both fell beyond resampling noise" in text
    narrower = ev.pass_at_k_summary(_sampled([2, 0, 0, 0] * 10, 4), n_boot=200)  # pass@1 level, pass@4 down
    text = ev.pass_at_k_reading({"cold_start": {"test": cold}, "rlvr": {"test": narrower}}, splits=["test"])
    assert "pass@1 did not move beyond resampling noise and pass@n fell" in text
    text = ev.pass_at_k_reading({"cold_start": {"test": cold}, "rlvr": {"test": cold}}, splits=["test"])
    assert "neither pass@1 nor pass@n moved beyond resampling noise" in text
    with pytest.raises(ValueError, match="same number of samples"):
        ev.pass_at_k_summary(_sampled([1], 2) + [{"id": "c9#0", "clip_id": "c9", "rewards": {"accuracy": 1.0}}])


def test_sampling_is_seeded_resumable_and_keyed(tiny, tmp_path):
    root, manifest, model, processor = tiny
    cfg = ev.EvalConfig(batch_size=3, max_new_tokens=5, n_boot=10)
    out = tmp_path / "samples.jsonl"
    rows = ev.sample_split(root / "model", manifest, out, cfg, num_samples=3, model=model, processor=processor)
    assert len(rows) == 12 and {r["clip_id"] for r in rows} == {"c0", "c1", "c2", "c3"}
    assert len({r["completion"] for r in rows if r["clip_id"] == "c0"}) > 1  # sampled, not greedy
    again = ev.sample_split(
        root / "model", manifest, tmp_path / "again.jsonl", cfg, num_samples=3, model=model, processor=processor
    )
    assert [r["completion"] for r in again] == [r["completion"] for r in rows]  # seeded
    summary = ev.pass_at_k_summary(rows)
    assert summary["n"] == 3 and set(summary["pass_at_k"]) == {"1", "2", "3"}


@pytest.mark.parametrize("nck", [(8, 0, 2), (8, 3, 2), (8, 5, 4), (6, 6, 3), (5, 2, 5), (4, 1, 1)])
def test_all_agree_at_k_equals_brute_force_enumeration(nck):
    """The share of the C(n, k) subsets of the n samples whose rewards are all equal."""
    import itertools

    n, c, k = nck
    samples = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    brute = sum(len({samples[i] for i in s}) == 1 for s in subsets) / len(subsets)
    assert ev.all_agree_at_k(n, c, k) == pytest.approx(brute, abs=1e-12)
    with pytest.raises(ValueError, match="0 <= c <= n"):
        ev.all_agree_at_k(n, n + 1, 1)


def test_one_global_success_rate_underestimates_wasted_groups():
    """Convexity: clips of mixed difficulty waste more groups than one mean p predicts (the
    oracle-rendering case of notebook 03's exercise 3), and equal difficulty matches it."""
    mixed = ev.wasted_groups(_sampled([8, 8, 8, 0, 0, 4], 8))  # three easy, two hopeless, one coin flip
    assert mixed["mean_p"] == pytest.approx(28 / 48)
    assert mixed["global_p"]["2"] == pytest.approx(ev.all_agree_rate(28 / 48, 2))
    expected = (5 * 1.0 + ev.all_agree_at_k(8, 4, 2)) / 6
    assert mixed["per_clip"]["2"] == pytest.approx(expected)
    for k in ("2", "4", "8"):
        assert mixed["per_clip"][k] > mixed["global_p"][k] + 0.2
    rng = np.random.default_rng(0)
    same = ev.wasted_groups(_sampled(list(rng.binomial(64, 0.5, size=400)), 64))
    assert same["per_clip"]["2"] == pytest.approx(same["global_p"]["2"], abs=0.01)


def test_war_interval_widths_shrink_like_one_over_sqrt_n_and_never_shrink_the_split_silently():
    rng = np.random.default_rng(0)
    records = [{"label": "happy", "answer": "happy" if rng.random() < 0.6 else "sad"} for _ in range(3200)]
    widths = ev.war_interval_widths(records, [50, 400, 3200], n_boot=2000)
    assert widths[50] / widths[400] == pytest.approx(np.sqrt(8), rel=0.25)
    assert widths[400] / widths[3200] == pytest.approx(np.sqrt(8), rel=0.25)
    with pytest.raises(ValueError, match="holds only 3200 clips"):
        ev.war_interval_widths(records, [4000])


def test_seeds_to_separate_two_settings():
    """n > 8 s^2 / d^2 (issue 15: the old solution said 9 for s = 0.03, d = 0.02)."""
    assert ev.seeds_to_separate(0.02, 0.03) == 19
    gap, sd = 0.02, 0.025  # 8 s^2 / d^2 = 12.5
    n = ev.seeds_to_separate(gap, sd)
    assert n == 13 and gap > 2 * sd * np.sqrt(2 / n) and not gap > 2 * sd * np.sqrt(2 / (n - 1))
    with pytest.raises(ValueError, match="gap > 0"):
        ev.seeds_to_separate(0.0, 0.1)
