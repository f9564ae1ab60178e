"""Cold-start SFT: the completion-only loss, the data plan, training, resume and save/load."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import torch
from test_dataset import write_tiny_manifest

from r1omni.model import load_initial_policy
from r1omni.sft import SFTConfig, completion_loss, completion_nll, config_from_params, train_sft
from r1omni.train.loop import batch_plan

#: A fast config for the tiny model: 4 clips, batch 4, big learning rate, no progress bar.
FAST = SFTConfig.from_preset(
    "course",
    per_device_train_batch_size=4,
    gradient_accumulation_steps=1,
    max_steps=4,
    learning_rate=3e-3,
    warmup_ratio=0.0,
    lr_scheduler_type="constant",
    show_progress=False,
    save_total_limit=0,
)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    return write_tiny_manifest(tmp_path_factory.mktemp("sft_data"))


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module, atol: float = 0.0) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], atol=atol, rtol=0 if atol == 0 else 1e-5, msg=key)


# --------------------------------------------------------------------------- the loss


def test_completion_loss_equals_hand_computation():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 11)
    labels = torch.tensor([[-100, -100, -100, 4, 7, 1], [-100, -100, -100, -100, 3, -100]])
    terms = []
    for b in range(2):
        for t in range(5):  # logits at t predict the label at t + 1
            if labels[b, t + 1] != -100:
                terms.append(-torch.log_softmax(logits[b, t], dim=-1)[labels[b, t + 1]])
    expected = torch.stack(terms).mean()
    torch.testing.assert_close(completion_loss(logits, labels), expected)
    nll, count = completion_nll(logits, labels)
    assert count.item() == 4
    torch.testing.assert_close(nll, torch.stack(terms).sum())
    with pytest.raises(ValueError, match="no completion tokens"):
        completion_loss(logits, torch.full_like(labels, -100))


def test_prompt_positions_do_not_change_loss():
    torch.manual_seed(1)
    logits = torch.randn(1, 8, 13)
    labels = torch.tensor([[-100, -100, -100, -100, -100, 2, 5, 9]])
    changed = logits.clone()
    changed[:, :4] = torch.randn(1, 4, 13) * 10  # positions that predict prompt tokens
    changed[:, -1] = 99.0  # the last position predicts nothing
    assert completion_loss(changed, labels).item() == pytest.approx(completion_loss(logits, labels).item(), abs=0)
    other = logits.clone()
    other[:, 5, 5] += 3.0  # a position that predicts a completion token
    assert completion_loss(other, labels).item() != pytest.approx(completion_loss(logits, labels).item())


def test_model_loss_covers_only_the_completion(manifest):
    from r1omni.data.dataset import ManifestDataset, OmniCollator
    from r1omni.model import OmniModel, OmniProcessor

    model, processor = OmniModel.from_preset("tiny", seed=0).eval(), OmniProcessor.from_preset("tiny")
    ds = ManifestDataset(manifest)
    batch = OmniCollator(processor)([ds[0], ds[1]])
    labels = batch["labels"]
    with torch.no_grad():
        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    terms = []
    for b in range(2):
        target_ids = processor.tokenizer(ds[b]["target"], add_special_tokens=False)["input_ids"]
        positions = (labels[b] != -100).nonzero().flatten().tolist()
        assert batch["input_ids"][b, positions[: len(target_ids)]].tolist() == target_ids
        terms += [-torch.log_softmax(logits[b, p - 1], -1)[batch["input_ids"][b, p]] for p in positions]
    torch.testing.assert_close(completion_loss(logits, labels), torch.stack(terms).mean())


# --------------------------------------------------------------------------- config and data order


def test_presets_follow_the_paper():
    cold = SFTConfig.from_preset("r1omni")
    assert (cold.num_train_epochs, cold.per_device_train_batch_size * cold.gradient_accumulation_steps) == (5, 16)
    assert (cold.learning_rate, cold.lr_scheduler_type, cold.warmup_ratio) == (2e-5, "cosine", 0.03)
    label = SFTConfig.from_preset("label_only")
    assert (label.num_train_epochs, label.per_device_train_batch_size * label.gradient_accumulation_steps) == (1, 128)
    assert label.target == "answer_only"
    assert SFTConfig.from_preset("course", seed=3).seed == 3
    with pytest.raises(ValueError, match="unknown SFT preset"):
        SFTConfig.from_preset("nope")
    with pytest.raises(ValueError, match="per_device_train_batch_size"):
        SFTConfig(per_device_train_batch_size=0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            train_sft(SFTConfig(device="cuda"), "tiny", "unused.jsonl", "unused")
    smoke = config_from_params("course", learning_rate=1e-3, smoke=True)
    assert smoke.max_steps == 2 and smoke.learning_rate == 1e-3 and smoke.limit == 8


def test_batch_plan_is_a_seeded_permutation_per_epoch():
    plan = batch_plan(6, 3, num_train_epochs=2, max_steps=0, seed=0)
    assert len(plan) == 4
    assert sorted(plan[0] + plan[1]) == list(range(6)) and sorted(plan[2] + plan[3]) == list(range(6))
    assert plan == batch_plan(6, 3, num_train_epochs=2, max_steps=0, seed=0)
    assert plan != batch_plan(6, 3, num_train_epochs=2, max_steps=0, seed=1)
    assert len(batch_plan(6, 3, num_train_epochs=1, max_steps=5, seed=0)) == 5
    with pytest.raises(ValueError, match="less than one global batch"):
        batch_plan(2, 4, num_train_epochs=1, max_steps=0, seed=0)


# --------------------------------------------------------------------------- training


def test_a_few_steps_reduce_the_loss_and_write_outputs(manifest, tmp_path):
    from r1omni.train.metrics_log import read_metrics

    config = dataclasses.replace(FAST, max_steps=8)
    result = train_sft(config, "tiny", manifest, tmp_path / "run")
    assert result.steps == 8 and len(result.losses) == 8
    assert result.losses[-1] < 0.8 * result.losses[0]  # 6.7 -> 4.7 nats/token in 8 steps
    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert rows[-1]["loss"] == pytest.approx(result.final_loss)
    assert {"learning_rate", "grad_norm", "num_tokens", "epoch", "step_time"} <= rows[0].keys()
    assert (tmp_path / "run" / "tb").is_dir() and (tmp_path / "run" / "checkpoints" / "step-8").is_dir()
    # model/ is the trained policy: it loads, and it fits the 4 clips better than the initial one did
    from r1omni.data.dataset import ManifestDataset, OmniCollator
    from r1omni.model import load_policy

    trained, processor = load_policy(result.model_dir)
    initial, _ = load_initial_policy("tiny", seed=config.seed)
    ds = ManifestDataset(manifest)
    batch = OmniCollator(processor)([ds[i] for i in range(len(ds))])  # the whole set: one batch of FAST
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        before = completion_loss(initial.eval()(**inputs).logits, batch["labels"]).item()
        after = completion_loss(trained.eval()(**inputs).logits, batch["labels"]).item()
    assert before == pytest.approx(result.losses[0], rel=1e-4)  # step 1's loss is the initial policy's
    assert after < result.losses[-1] < before  # the saved weights are the ones after the last update


def test_gradient_accumulation_matches_one_big_batch(manifest, tmp_path):
    one = train_sft(dataclasses.replace(FAST, max_steps=1), "tiny", manifest, tmp_path / "one")
    two = train_sft(
        dataclasses.replace(FAST, max_steps=1, per_device_train_batch_size=2, gradient_accumulation_steps=2),
        "tiny",
        manifest,
        tmp_path / "two",
    )
    assert one.final_loss == pytest.approx(two.final_loss, rel=1e-5)
    from r1omni.model import load_policy

    # atol 1e-5 = 0.3 % of one Adam step at lr 3e-3: summation order differs, and Adam turns a
    # gradient near its eps into a full-size step, so a few elements move by ~3e-6.
    _assert_same_weights(load_policy(one.model_dir)[0], load_policy(two.model_dir)[0], atol=1e-5)


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(manifest, tmp_path):
    from r1omni.model import load_policy
    from r1omni.train.metrics_log import read_metrics

    config = dataclasses.replace(FAST, max_steps=4, save_steps=2, per_device_train_batch_size=2)
    full = train_sft(config, "tiny", manifest, tmp_path / "full")
    # A run "killed" after step 2: only its step-2 checkpoint (and metrics up to then, plus a
    # row of step 3 that was logged before the kill) survive.
    cut = tmp_path / "cut"
    (cut / "checkpoints").mkdir(parents=True)
    shutil.copytree(tmp_path / "full" / "checkpoints" / "step-2", cut / "checkpoints" / "step-2")
    rows = read_metrics(tmp_path / "full")
    (cut / "metrics.jsonl").write_text("".join(__import__("json").dumps(r) + "\n" for r in rows[:3]))
    resumed = train_sft(config, "tiny", manifest, cut)
    assert resumed.resumed_from.endswith("step-2") and len(resumed.losses) == 2
    assert resumed.losses == pytest.approx(full.losses[2:], rel=1e-6)
    _assert_same_weights(load_policy(full.model_dir)[0], load_policy(resumed.model_dir)[0], atol=1e-7)
    assert [r["step"] for r in read_metrics(cut)] == [1, 2, 3, 4]

    other = dataclasses.replace(config, seed=5)  # another data order must not silently resume
    with pytest.raises(ValueError, match="config.seed: 0 saved, 5 now"):
        train_sft(other, "tiny", manifest, cut)
    fresh = train_sft(
        dataclasses.replace(other, resume_from_checkpoint="never"), "tiny", manifest, cut
    )  # starts afresh
    assert fresh.resumed_from is None and len(fresh.losses) == 4
    assert [r["step"] for r in read_metrics(cut)] == [1, 2, 3, 4]


def test_saved_policy_reloads_with_identical_outputs(manifest, tmp_path):
    from r1omni.data.dataset import ManifestDataset, OmniCollator
    from r1omni.model import load_policy

    model, processor = load_initial_policy("tiny", seed=0)
    before = _state(model)
    result = train_sft(dataclasses.replace(FAST, max_steps=2), (model, processor), manifest, tmp_path / "run")
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())  # trained in place
    loaded, loaded_processor = load_policy(result.model_dir)
    _assert_same_weights(model, loaded)
    batch = OmniCollator(loaded_processor, with_targets=False)([ManifestDataset(manifest, target="none")[0]])
    model.eval(), loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(**batch).logits, loaded(**batch).logits)


def test_feature_cache_changes_nothing_but_runs_each_tower_once(manifest, tmp_path):
    config = dataclasses.replace(FAST, max_steps=3, per_device_train_batch_size=2)  # 1.5 epochs over 4 clips
    cached = train_sft(config, "tiny", manifest, tmp_path / "on")
    plain = train_sft(dataclasses.replace(config, use_feature_cache=False), "tiny", manifest, tmp_path / "off")
    assert cached.losses == pytest.approx(plain.losses, rel=1e-5)
    stored = sorted(p.parent.name for p in (tmp_path / "on" / "feature_cache").rglob("*.safetensors"))
    assert stored == ["audio"] * 4 + ["video"] * 4  # one entry per clip and tower, not per step


def test_resolve_data_dir_reads_notebook_00s_record(tmp_path):
    from r1omni.io import atomic_write_json
    from r1omni.runs import resolve_data_dir

    run = tmp_path / "run"
    with pytest.raises(FileNotFoundError, match="00_data_prep"):
        resolve_data_dir(run)
    (tmp_path / "data").mkdir()
    atomic_write_json(run / "00_data_prep" / "config.json", {"data_dir": str(tmp_path / "data")})
    assert resolve_data_dir(run) == tmp_path / "data"
    assert resolve_data_dir(run, str(tmp_path)) == tmp_path  # an explicit folder wins
    with pytest.raises(FileNotFoundError, match="not a directory"):
        resolve_data_dir(run, str(tmp_path / "nope"))


@pytest.mark.slow
def test_two_processes_match_one_process(manifest, tmp_path):
    """accelerate launch with 2 CPU processes x 2 clips == 1 process x 4 clips (same global batch)."""
    import json
    import os
    import socket
    import subprocess
    import sys

    from r1omni.model import load_policy

    overrides = {
        "max_steps": 2,
        "learning_rate": 3e-3,
        "warmup_ratio": 0.0,
        "lr_scheduler_type": "constant",
        "show_progress": False,
        "use_feature_cache": False,
    }
    one = train_sft(
        SFTConfig.from_preset("course", per_device_train_batch_size=4, **overrides), "tiny", manifest, tmp_path / "one"
    )
    repo = Path(__file__).resolve().parents[1]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(repo / "configs" / "accelerate" / "multi_cpu_2proc.yaml"),
        "--main_process_port",
        str(port),
        "-m",
        "r1omni.sft",
        "--preset",
        "course",
        "--set",
        json.dumps({**overrides, "per_device_train_batch_size": 2}),
        "--policy",
        "tiny",
        "--manifest",
        str(manifest),
        "--output",
        str(tmp_path / "two"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(repo)}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in rows] == pytest.approx(one.losses, rel=1e-5)
    first_one = json.loads((tmp_path / "one" / "metrics.jsonl").read_text().splitlines()[0])
    assert rows[0]["num_tokens"] == first_one["num_tokens"]  # N counts the tokens of both processes
    _assert_same_weights(load_policy(one.model_dir)[0], load_policy(tmp_path / "two" / "model")[0], atol=1e-5)
    ckpt = tmp_path / "two" / "checkpoints" / "step-2"
    assert (ckpt / "rng_state_0.json").is_file() and (ckpt / "rng_state_1.json").is_file()


def test_prompt_loss_check_counts_the_prompt_only_in_the_all_token_loss(manifest, tmp_path):
    """Notebook 02's exercise 3: the all-token loss is the token-weighted mean of the completion and
    prompt losses, and a model trained with the mask has learnt its completions, not its prompt."""
    from r1omni.sft import all_token_labels, prompt_loss_check

    ids, mask = torch.tensor([[0, 0, 7, 8, 9]]), torch.tensor([[0, 0, 1, 1, 1]])
    assert all_token_labels(ids, mask).tolist() == [[-100, -100, 7, 8, 9]]
    result = train_sft(dataclasses.replace(FAST, max_steps=8), "tiny", manifest, tmp_path / "run")
    check = prompt_loss_check(result.model_dir, manifest, num_examples=4)
    n_c, n_p = check["completion_tokens"], check["prompt_tokens"]
    assert n_c > 0 and n_p > 0
    weighted = (check["completion_loss"] * n_c + check["prompt_loss"] * n_p) / (n_c + n_p)
    assert check["all_token_loss"] == pytest.approx(weighted, rel=1e-5)
    assert check["completion_loss"] == pytest.approx(result.final_loss, rel=0.3)
    assert check["prompt_loss"] > check["completion_loss"]  # the masked prompt was never learnt
    with pytest.raises(ValueError, match="limit=99"):
        prompt_loss_check(result.model_dir, manifest, num_examples=99)
