"""The GRPO loop: kill + resume equals an uninterrupted run, metrics glossary, 2 processes, presets."""

import json
import os
import subprocess
import sys
import textwrap
import warnings
from collections import Counter
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from r1omni.grpo import (
    GRPO_METRIC_KEYS,
    GRPOConfig,
    grpo_stage_metrics,
    make_tiny_text_policy,
    reward_metric_keys,
    train_grpo,
)
from r1omni.grpo.metrics import TRUNCATION_WARNING, warn_if_truncating
from r1omni.io import read_json, read_jsonl
from r1omni.train.checkpoint import latest_checkpoint
from r1omni.train.loop import data_order

TEXTS = [
    "say a few words",
    "count the letter a in banana",
    "the cat sat on a mat",
    "hello there",
    "aaa bbb ccc",
    "a quiet morning",
    "name a fruit",
    "what is two plus two",
]


def count_a(completions, **kwargs):
    """Toy verifiable reward: how many letters 'a' (varies across samples, so advantages are non-zero)."""
    return [c.count("a") / 10 for c in completions]


def has_label(completions, label, **kwargs):
    """Checks that manifest columns reach the reward functions as keyword arguments."""
    assert len(label) == len(completions)
    return [float(lab in c) for c, lab in zip(completions, label)]


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory):
    return str(make_tiny_text_policy(tmp_path_factory.mktemp("policy") / "p", TEXTS * 10, hidden_size=32))


@pytest.fixture(scope="module")
def records():
    return [{"id": f"p{i}", "prompt": t, "label": "a"} for i, t in enumerate(TEXTS)]


def _config(**overrides):
    values = dict(
        num_generations=4,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,
        max_completion_length=8,
        max_steps=4,
        learning_rate=5e-3,
        beta=0.05,
        num_iterations=2,
        lr_scheduler_type="linear",
        warmup_ratio=0.25,
        reward_funcs=[count_a, has_label],
        reward_weights=[1.0, 0.5],
        save_steps=1,
        save_total_limit=0,
        sample_log_steps=2,
        show_progress=False,
        use_feature_cache=False,
        device="cpu",
        seed=3,
    )
    values.update(overrides)
    return GRPOConfig.from_preset("course", **values)


class Kill(RuntimeError):
    pass


def _recorder(log, kill_after=None):
    def cb(step, info):
        log.append((step, info["prompt_ids"]))
        if kill_after is not None and step == kill_after:
            raise Kill(f"killed after step {step}")

    return cb


def test_killed_run_resumes_like_an_uninterrupted_one(tmp_path, policy_dir, records):
    full_log, part_log = [], []
    full = train_grpo(_config(), policy_dir, records, tmp_path / "full", callbacks=[_recorder(full_log)])

    with pytest.raises(Kill):
        train_grpo(_config(), policy_dir, records, tmp_path / "part", callbacks=[_recorder(part_log, kill_after=2)])
    assert latest_checkpoint(tmp_path / "part" / "checkpoints").name == "step-2"
    assert not (tmp_path / "part" / "model").exists()
    resumed = train_grpo(_config(), policy_dir, records, tmp_path / "part", callbacks=[_recorder(part_log)])

    assert resumed.resumed_from.endswith("step-2")
    assert [s for s, _ in part_log] == [1, 2, 3, 4] == [s for s, _ in full_log]
    assert part_log == full_log  # same prompts at every step: nothing lost or repeated
    # 4 steps x 4 prompts over 8 prompts = 2 epochs, each a permutation of all prompts.
    seen = [p for _, ids in full_log for p in ids]
    assert Counter(seen[:8]) == Counter(seen[8:]) == Counter(r["id"] for r in records)

    a = load_file(Path(full.model_dir) / "model.safetensors")
    b = load_file(Path(resumed.model_dir) / "model.safetensors")
    init = load_file(Path(policy_dir) / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)  # bit-identical final weights
    assert any(not torch.equal(a[k], init[k]) for k in a)  # and training did change them
    assert full.rank_checksums == resumed.rank_checksums
    steps = [r["step"] for r in read_jsonl(tmp_path / "part" / "metrics.jsonl")]
    assert steps == [1, 2, 3, 4]  # each step logged once across the kill
    full_rows = read_jsonl(tmp_path / "full" / "metrics.jsonl")
    part_rows = read_jsonl(tmp_path / "part" / "metrics.jsonl")
    assert [r["reward"] for r in full_rows] == [r["reward"] for r in part_rows]
    assert [r["step"] for r in resumed.history] == [1, 2, 3, 4]  # the whole run, not only after the resume
    again = train_grpo(_config(), policy_dir, records, tmp_path / "part")  # finished: resumes at the end
    assert again.resumed_from.endswith("step-4") and [r["step"] for r in again.history] == [1, 2, 3, 4]
    # Notebook 02's metrics.json from such a rerun (it used to fail with IndexError at history[0]).
    summary = grpo_stage_metrics(
        again, {"format_rate": 0.5, "war": 0.25, "n": 2}, {"format_rate": 1.0, "war": 0.5, "n": 2}
    )
    assert summary["reward_first"] == part_rows[0]["reward"] and summary["reward_last"] == part_rows[-1]["reward"]
    assert summary["train_time_s"] == pytest.approx(sum(r["step_time"] for r in part_rows))
    assert summary["steps"] == 4 and summary["preview_format_rate_after"] == 1.0
    assert read_jsonl(tmp_path / "part" / "metrics.jsonl") == part_rows  # the rerun logged nothing new
    (tmp_path / "part" / "metrics.jsonl").write_text("")  # a finished stage whose log was emptied
    with pytest.raises(ValueError, match="metrics.jsonl: no logged GRPO step"):
        grpo_stage_metrics(train_grpo(_config(), policy_dir, records, tmp_path / "part"))


def test_warns_when_most_completions_are_truncated(tmp_path, policy_dir, records):
    # The random tiny LM almost never samples eos within 2 tokens: every answer would be cut.
    with pytest.warns(RuntimeWarning, match="max_completion_length=2 without eos"):
        res = train_grpo(_config(max_steps=1, save_steps=0, max_completion_length=2), policy_dir, records, tmp_path)
    assert res.history[0]["completions/clipped_ratio"] > TRUNCATION_WARNING
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_truncating(TRUNCATION_WARNING, _config().max_completion_length)  # at most half cut: no warning


def test_metrics_have_the_glossary_keys(tmp_path, policy_dir, records):
    res = train_grpo(_config(max_steps=2, save_steps=0), policy_dir, records, tmp_path)
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    expected = set(GRPO_METRIC_KEYS) | set(reward_metric_keys(["count_a", "has_label"]))
    assert [r["step"] for r in rows] == [1, 2]
    for row in rows:
        assert expected <= set(row), expected - set(row)
        assert 0 <= row["frac_reward_zero_std"] <= 1
        assert 1 <= row["completions/min_length"] <= row["completions/mean_length"] <= 8
        assert row["kl"] >= 0 and row["entropy"] > 0
    assert rows[0]["kl"] == 0.0  # first rollout: policy == reference
    assert rows[1]["kl"] > 0.0
    # reward = weighted sum of the per-function means
    r = rows[0]
    assert r["reward"] == pytest.approx(r["rewards/count_a/mean"] + 0.5 * r["rewards/has_label/mean"], abs=1e-5)
    samples = read_jsonl(tmp_path / "samples.jsonl")
    assert samples and {"step", "prompt_id", "completion", "count_a", "has_label", "advantage"} <= set(samples[0])
    assert (tmp_path / "tb").is_dir() and any((tmp_path / "tb").iterdir())
    assert res.steps == 2 and read_json(tmp_path / "result.json")["steps"] == 2
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-2"]  # save_steps=0: only the end

    from r1omni.viz.training import plot_grpo, reward_frame, samples_table

    fig = plot_grpo({"a": tmp_path, "b": tmp_path / "metrics.jsonl"}, smooth=2)
    assert len(fig.axes) >= 6
    assert set(reward_frame({"a": tmp_path})["function"]) == {"count_a", "has_label", "total"}
    last = samples_table(tmp_path, step="last")
    assert set(last["step"]) == {2} and len(last) == 4
    with pytest.raises(ValueError, match="no samples at step 7"):
        samples_table(tmp_path, step=7)


def test_beta_zero_has_no_reference_and_loss_type_variants(tmp_path, policy_dir, records):
    for loss_type in ("dapo", "dr_grpo"):
        res = train_grpo(
            _config(max_steps=2, save_steps=0, beta=0.0, loss_type=loss_type, num_iterations=1),
            policy_dir,
            records,
            tmp_path / loss_type,
        )
        assert all(r["kl"] == 0.0 and r["clip_ratio"] == 0.0 for r in res.history)
    tracked = train_grpo(
        _config(max_steps=2, save_steps=0, beta=0.0, track_kl=True, num_iterations=1, warmup_ratio=0.0),
        policy_dir,
        records,
        tmp_path / "tracked",
    )
    assert tracked.history[0]["kl"] == 0.0 < tracked.history[1]["kl"]  # reference kept only for the logs


def test_too_long_prompt_raises(tmp_path, policy_dir, records):
    with pytest.raises(ValueError, match="max_prompt_length=2"):
        train_grpo(_config(max_prompt_length=2, max_steps=1), policy_dir, records, tmp_path)


def test_resume_with_other_batch_size_is_refused(tmp_path, policy_dir, records):
    train_grpo(_config(max_steps=1), policy_dir, records, tmp_path)
    with pytest.raises(ValueError, match="per_device_train_batch_size"):
        train_grpo(_config(max_steps=2, per_device_train_batch_size=1), policy_dir, records, tmp_path)


@pytest.mark.parametrize(
    "change,field",
    [
        (dict(beta=0.3), "config.beta: 0.05 saved, 0.3 now"),
        (dict(learning_rate=1e-3), "config.learning_rate"),
        (dict(reward_funcs=[has_label, count_a]), "config.reward_funcs"),
        (dict(max_steps=3), "config.max_steps: 2 saved, 3 now"),
        (dict(loss_type="dapo"), "config.loss_type"),
    ],
)
def test_resume_refuses_any_setting_that_decides_the_result(tmp_path, policy_dir, records, change, field):
    train_grpo(_config(max_steps=2, save_steps=1), policy_dir, records, tmp_path)
    with pytest.raises(ValueError, match=rf"cannot resume, the run would change: .*{field}"):
        train_grpo(_config(**{"max_steps": 2, "save_steps": 1, **change}), policy_dir, records, tmp_path)
    # what cannot change the result may change: logging, progress, the checkpoint cadence
    again = train_grpo(
        _config(max_steps=2, save_steps=1, logging_steps=2, show_progress=False), policy_dir, records, tmp_path
    )
    assert again.resumed_from.endswith("step-2")


def test_resume_refuses_other_data_or_another_starting_policy(tmp_path, policy_dir, records):
    train_grpo(_config(max_steps=2), policy_dir, records, tmp_path)
    other_text = [dict(r, prompt=r["prompt"] + "!") for r in records]  # same ids, other content
    with pytest.raises(ValueError, match="data: .* saved, .* now"):
        train_grpo(_config(max_steps=2), policy_dir, other_text, tmp_path)
    other_policy = make_tiny_text_policy(tmp_path / "other", TEXTS * 10, hidden_size=32, seed=1)
    with pytest.raises(ValueError, match="policy: .* saved, .* now"):
        train_grpo(_config(max_steps=2), other_policy, records, tmp_path)
    fresh = train_grpo(_config(max_steps=2, resume_from_checkpoint="never"), other_policy, records, tmp_path)
    assert fresh.resumed_from is None


def test_data_order_is_a_permutation_per_epoch():
    stream = data_order(7, seed=5, start=0, count=21)
    for e in range(3):
        assert sorted(stream[7 * e : 7 * e + 7]) == list(range(7))
    assert data_order(7, 5, 9, 6) == stream[9:15]  # any window of the stream, from any start
    assert stream[:7] != data_order(7, 6, 0, 7)


def test_presets():
    paper = GRPOConfig.from_preset("r1omni")
    assert (paper.num_generations, paper.beta, paper.temperature, paper.learning_rate) == (8, 0.04, 1.0, 1e-6)
    assert (paper.max_prompt_length, paper.max_completion_length, paper.loss_type) == (512, 512, "grpo")
    assert (paper.scale_rewards, paper.lr_scheduler_type, paper.num_iterations) == ("group", "linear", 1)
    assert paper.reward_funcs == ["accuracy", "format"]
    course = GRPOConfig.from_preset("course", max_steps=3)
    assert course.max_steps == 3 and course.device == "cpu" and course.preset == "course"
    assert GRPOConfig.from_dict(course.to_dict()) == course
    with pytest.raises(ValueError, match="unknown GRPO preset"):
        GRPOConfig.from_preset("huge")
    with pytest.raises(ValueError, match="GRPOConfig.loss_type"):
        GRPOConfig(loss_type="ppo")
    with pytest.raises(ValueError, match="GRPOConfig.num_generations"):
        GRPOConfig(num_generations=1)


TWO_PROC = """
import json, sys
from r1omni.grpo import GRPOConfig, train_grpo

def count_a(completions, **kwargs):
    return [c.count("a") / 10 for c in completions]

policy, data, out = sys.argv[1:4]
records = [json.loads(l) for l in open(data)]
seen = []
cfg = GRPOConfig.from_preset("course", num_generations=4, per_device_train_batch_size=2,
    gradient_accumulation_steps=1, max_completion_length=8, max_steps=2, learning_rate=5e-3, beta=0.05,
    reward_funcs=[count_a], save_steps=1, show_progress=False, use_feature_cache=False, device="cpu")
res = train_grpo(cfg, policy, records, out, callbacks=[lambda step, info: seen.append(info["prompt_ids"])])
from accelerate import PartialState
json.dump({"checksums": res.rank_checksums, "seen": seen},
          open(f"{out}/rank{PartialState().process_index}.json", "w"))
"""


@pytest.mark.slow
def test_two_processes_agree_on_weights(tmp_path, policy_dir, records):
    script = tmp_path / "two_proc.py"
    script.write_text(textwrap.dedent(TWO_PROC))
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    config = Path(__file__).resolve().parents[1] / "configs" / "accelerate" / "multi_cpu_2proc.yaml"
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(config),
        str(script),
        policy_dir,
        str(data),
        str(out),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (json.loads((out / f"rank{i}.json").read_text()) for i in (0, 1))
    assert len(r0["checksums"]) == 2 and r0["checksums"][0] == r0["checksums"][1] == r1["checksums"][1]
    init = load_file(Path(policy_dir) / "model.safetensors")
    final = load_file(out / "model" / "model.safetensors")
    assert any(not torch.equal(init[k], final[k]) for k in init)
    # both ranks see the same global order: 2 processes x 2 prompts per step, all distinct
    assert r0["seen"] == r1["seen"] and all(len(set(ids)) == 4 for ids in r0["seen"])
    assert sorted(p for ids in r0["seen"] for p in ids) == sorted(r["id"] for r in records)
    assert latest_checkpoint(out / "checkpoints").name == "step-2"
    assert {p.name for p in latest_checkpoint(out / "checkpoints").iterdir()} >= {
        "rng_state_0.json",
        "rng_state_1.json",
    }
    assert [r["step"] for r in read_jsonl(out / "metrics.jsonl")] == [1, 2]


@pytest.fixture(scope="module")
def omni_data(tmp_path_factory):
    from test_dataset import write_tiny_manifest

    return write_tiny_manifest(tmp_path_factory.mktemp("grpo_omni"), n=4, think=False, name="train.jsonl")


def test_omni_policy_trains_with_paper_rewards_and_feature_cache(tmp_path, omni_data):
    """The tiny omni model on clips, R1-Omni's rewards; the feature cache changes no number."""
    cfg = dict(
        num_generations=2,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=1,
        max_completion_length=6,
        max_steps=2,
        save_steps=0,
        show_progress=False,
        device="cpu",
        reward_funcs=["accuracy", "format"],
        modalities="av",
        seed=1,
    )
    off = train_grpo(
        GRPOConfig.from_preset("course", use_feature_cache=False, **cfg), "tiny", omni_data.parent, tmp_path / "off"
    )
    on = train_grpo(
        GRPOConfig.from_preset("course", use_feature_cache=True, **cfg), "tiny", omni_data.parent, tmp_path / "on"
    )
    assert any((tmp_path / "on" / "feature_cache").rglob("*.safetensors"))
    for a, b in zip(off.history, on.history):
        assert a["completions/mean_length"] == b["completions/mean_length"]
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5)
        assert a["kl"] == pytest.approx(b["kl"], abs=1e-6)
    assert {"rewards/accuracy/mean", "rewards/format/mean"} <= set(on.history[0])
    from r1omni.model import load_policy

    model, processor = load_policy(on.model_dir)  # the final model is a loadable omni policy
    assert processor.tokenizer.eos_token_id is not None


def test_a_sharded_config_that_accelerate_does_not_honour_is_refused(tmp_path):
    """accelerate 1.15 turns an FSDP config on CPU processes into plain DDP without a word; the
    trainers refuse to train unsharded when sharding was asked for."""
    code = "from r1omni.train.loop import make_accelerator; make_accelerator('cpu', False)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "ACCELERATE_USE_FSDP": "true"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "asks for FSDP (ACCELERATE_USE_FSDP=true), but accelerate runs this as NO" in proc.stderr


# ----------------------------------------------------------------------------- what each setting does
# One rollout step, read back from what the trainer logged. With beta = 0 and num_iterations = 1 the
# first update is on-policy (ratio exactly 1), so every loss token is -A_i and the logged loss is
# predictable from the logged advantages and lengths.
def n_chars(completions, **kwargs):
    """Toy reward that varies with the completion's length (not collinear with count_a)."""
    return [len(c) / 10 for c in completions]


def _eos_policy(policy_dir, eos_logit=2.0):
    """The tiny text policy with a bias on the eos logit, so that completions end at many lengths
    and some are cut at max_completion_length (the plain random LM almost never samples eos)."""
    from r1omni.grpo.policy import TextPolicy

    pol = TextPolicy.load(policy_dir)
    head = pol.model.lm_head
    biased = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    with torch.no_grad():
        biased.weight.copy_(head.weight)
        biased.bias.zero_()
        biased.bias[pol.eos_token_id] = eos_logit
    pol.model.lm_head = biased
    pol.model.config.tie_word_embeddings = False
    return pol


WEIGHTS = [1.0, 0.5]


def _one_step(out, policy_dir, records, **overrides):
    """(samples rows of every completion, metrics row) of one on-policy step."""
    values = dict(
        max_steps=1,
        save_steps=0,
        beta=0.0,
        num_iterations=1,
        sample_log_steps=1,
        num_samples_logged=64,
        reward_funcs=[n_chars, count_a],
        reward_weights=WEIGHTS,
    )
    values.update(overrides)
    config = _config(**values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # most completions may be cut: intended here
        res = train_grpo(config, _eos_policy(policy_dir), records, out)
    rows = read_jsonl(Path(out) / "samples.jsonl")
    G = config.num_generations
    assert len(rows) == 4 * G  # 2 x 2 prompts x G: every completion of the step
    return rows, res.history[0]


def _advantages_by_hand(total, G, scale, eps=1e-4):
    """A_i = (r_i - mean_group) / (std + eps), std: the group's, the batch's or none (1)."""
    import numpy as np

    groups = np.asarray(total, dtype=np.float64).reshape(-1, G)
    centred = groups - groups.mean(1, keepdims=True)
    centred[np.ptp(groups, axis=1) == 0] = 0.0  # a group of equal rewards teaches nothing
    if scale == "group":
        centred = centred / (groups.std(1, ddof=1, keepdims=True) + eps)
    elif scale == "batch":
        centred = centred / (groups.std(ddof=1) + eps)
    return centred.reshape(-1)


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_advantages_follow_scale_rewards_and_the_reward_weights(tmp_path, policy_dir, records, scale):
    import numpy as np

    rows, _ = _one_step(tmp_path, policy_dir, records, scale_rewards=scale)
    rewards = np.array([[r["n_chars"], r["count_a"]] for r in rows])  # (N, F) unweighted
    logged = np.array([r["advantage"] for r in rows])
    expected = _advantages_by_hand(rewards @ np.array(WEIGHTS), 4, scale)
    np.testing.assert_allclose(logged, expected, rtol=1e-4, atol=1e-5)
    # the rollout tells the settings apart: another scale or unweighted rewards predict otherwise
    for other in {"group", "batch", "none"} - {scale}:
        assert np.abs(_advantages_by_hand(rewards @ np.array(WEIGHTS), 4, other) - expected).max() > 0.05, other
    assert np.abs(_advantages_by_hand(rewards.sum(1), 4, scale) - expected).max() > 0.05


def _loss_by_hand(rows, loss_type, mask_truncated, max_completion_length):
    """The on-policy loss: every kept token's loss is -A_i."""
    adv = [r["advantage"] for r in rows]
    keep = [0.0 if (mask_truncated and r["truncated"]) else 1.0 for r in rows]
    n = [r["completion_tokens"] * k for r, k in zip(rows, keep)]  # loss tokens per completion
    if loss_type == "grpo":  # token mean per sequence, then mean over sequences
        return -sum(a * k for a, k in zip(adv, keep)) / len(rows)
    total = -sum(a * t for a, t in zip(adv, n))
    if loss_type == "dapo":  # over every loss token of the step
        return total / max(sum(n), 1)
    return total / (len(rows) * max_completion_length)  # dr_grpo


@pytest.mark.parametrize("mask_truncated", [False, True])
@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "dr_grpo"])
def test_loss_follows_loss_type_and_the_truncation_mask(tmp_path, policy_dir, records, loss_type, mask_truncated):
    rows, metrics = _one_step(
        tmp_path, policy_dir, records, loss_type=loss_type, mask_truncated_completions=mask_truncated
    )
    lengths = {r["completion_tokens"] for r in rows}
    cut = [r["truncated"] for r in rows]
    assert len(lengths) > 2 and 0 < sum(cut) < len(cut)  # many lengths, some completions cut
    assert all(r["completion_tokens"] == 8 for r in rows if r["truncated"])
    expected = _loss_by_hand(rows, loss_type, mask_truncated, 8)
    assert metrics["loss"] == pytest.approx(expected, abs=1e-6)
    # every other aggregation predicts another loss for this very rollout
    for other in [(lt, m) for lt in ("grpo", "dapo", "dr_grpo") for m in (False, True)]:
        if other != (loss_type, mask_truncated):
            assert abs(_loss_by_hand(rows, *other, 8) - expected) > 1e-3, other


def test_several_iterations_update_against_the_sampling_policy(tmp_path, policy_dir, records):
    """num_iterations > 1: later updates see ratio = pi_theta / pi_old != 1, which the clip catches."""
    kw = dict(lr_scheduler_type="constant", warmup_ratio=0.0, learning_rate=5e-2)
    _, once = _one_step(tmp_path / "one", policy_dir, records, num_iterations=1, **kw)
    _, thrice = _one_step(tmp_path / "three", policy_dir, records, num_iterations=3, **kw)
    assert once["clip_ratio"] == 0.0  # on-policy: ratio exactly 1
    assert thrice["clip_ratio"] > 0.05
