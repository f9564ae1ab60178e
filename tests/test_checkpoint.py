"""Checkpoints: exact round trip (model, optimizer, scheduler, RNG) and atomicity."""

import pickle
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import get_scheduler

from r1omni.train import checkpoint as ckpt


def _objects(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = get_scheduler("linear", opt, num_warmup_steps=2, num_training_steps=10)
    return model, opt, sched


def _train(model, opt, sched, steps):
    for _ in range(steps):
        loss = model(torch.randn(3, 4)).pow(2).sum()
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()


def test_round_trip_continues_exactly(tmp_path):
    model, opt, sched = _objects()
    _train(model, opt, sched, 3)
    path = ckpt.save_checkpoint(
        tmp_path, 3, model=model, optimizer=opt, scheduler=sched, trainer_state={"prompts_seen": 12}
    )
    assert path == tmp_path / "step-3" and ckpt.is_complete_checkpoint(path)
    lr_at_save = sched.get_last_lr()
    after = (random.random(), np.random.rand(), torch.rand(2))
    _train(model, opt, sched, 2)
    expected = [p.detach().clone() for p in model.parameters()]

    model2, opt2, sched2 = _objects(seed=1)  # different init: everything must come from the checkpoint
    state = ckpt.load_checkpoint(path, model=model2, optimizer=opt2, scheduler=sched2)
    assert state == {"prompts_seen": 12, "step": 3}
    assert sched2.get_last_lr() == lr_at_save and sched2.last_epoch == 3
    assert (random.random(), np.random.rand()) == after[:2]
    assert torch.equal(torch.rand(2), after[2])
    _train(model2, opt2, sched2, 2)
    for a, b in zip(model2.parameters(), expected):
        assert torch.equal(a, b)


def test_temp_dir_of_a_crash_is_never_picked(tmp_path):
    model, opt, sched = _objects()
    ckpt.save_checkpoint(tmp_path, 3, model=model, optimizer=opt, scheduler=sched)
    # A crash mid-save leaves a temp dir, even one that already holds every file and the marker.
    crashed = ckpt.tmp_step_dir(tmp_path, 9)
    crashed.mkdir()
    (crashed / "model.safetensors").write_bytes(b"half")
    (crashed / ckpt.MARKER).write_text("step 9")
    # A step dir without the marker (e.g. copied by hand) is not a checkpoint either.
    (tmp_path / "step-7").mkdir()
    assert ckpt.latest_checkpoint(tmp_path) == tmp_path / "step-3"
    with pytest.raises(ValueError, match="not a complete checkpoint"):
        ckpt.load_checkpoint(tmp_path / "step-7", model=model)


def test_failure_during_save_leaves_previous_checkpoint(tmp_path, monkeypatch):
    model, opt, sched = _objects()
    ckpt.save_checkpoint(tmp_path, 1, model=model, optimizer=opt, scheduler=sched)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "atomic_write_bytes", boom)  # every tensor file of the checkpoint
    with pytest.raises(OSError, match="disk full"):
        ckpt.save_checkpoint(tmp_path, 2, model=model, optimizer=opt, scheduler=sched)
    assert ckpt.latest_checkpoint(tmp_path) == tmp_path / "step-1"
    assert not (tmp_path / "step-2").exists()


def test_keeps_last_k(tmp_path):
    model, opt, sched = _objects()
    for step in (1, 2, 3, 4):
        ckpt.save_checkpoint(tmp_path, step, model=model, optimizer=opt, scheduler=sched, save_total_limit=2)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["step-3", "step-4"]
    assert ckpt.latest_checkpoint(tmp_path / "missing") is None


def test_missing_rank_rng_is_a_clear_error(tmp_path):
    model, opt, sched = _objects()
    path = ckpt.save_checkpoint(tmp_path, 1, model=model)
    with pytest.raises(ValueError, match="rng_state_1.json missing"):
        ckpt.load_checkpoint(path, model=model, rank=1)
    with pytest.raises(ValueError, match="optimizer.safetensors: missing"):
        ckpt.load_checkpoint(path, model=model, optimizer=opt)


# ----------------------------------------------------------------------------- never unpickle
class _Evil:
    """Unpickling this runs code: it writes a sentinel file."""

    def __init__(self, sentinel):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (open, (self.sentinel, "w"))


def test_a_crafted_pickle_anywhere_in_a_checkpoint_never_runs(tmp_path):
    model, opt, sched = _objects()
    path = ckpt.save_checkpoint(tmp_path, 1, model=model, optimizer=opt, scheduler=sched)
    sentinel = tmp_path / "pwned"
    payload = pickle.dumps(_Evil(sentinel))
    # the old pickle file names, and every file the checkpoint really has, replaced by a pickle
    names = ["rng_state_0.pt", "optimizer.pt", "scheduler.pt"] + [
        p.name for p in path.iterdir() if p.name != ckpt.MARKER
    ]
    for name in names:
        victim = tmp_path / f"victim-{name}"
        victim.mkdir()
        copy = victim / "step-1"
        shutil.copytree(path, copy)
        (copy / name).write_bytes(payload)
        try:
            ckpt.load_checkpoint(copy, model=model, optimizer=opt, scheduler=sched)
        except (ValueError, KeyError, TypeError):
            pass  # a clear refusal is fine; running the payload is not
        assert not sentinel.exists(), f"a pickle in {name} ran code"


def test_the_library_never_unpickles():
    library = Path(__file__).resolve().parents[1] / "r1omni"
    culprits = [
        p.name
        for p in library.rglob("*.py")
        for bad in ("torch.load(", "pickle.load", "allow_pickle=True")
        if bad in p.read_text()
    ]
    assert not culprits


def test_truncated_checkpoint_files_are_named(tmp_path):
    model, opt, sched = _objects()
    path = ckpt.save_checkpoint(tmp_path, 1, model=model, optimizer=opt, scheduler=sched)
    for name in ("model.safetensors", "optimizer.safetensors"):
        broken = tmp_path / f"b-{name}" / "step-1"
        shutil.copytree(path, broken)
        data = (broken / name).read_bytes()
        (broken / name).write_bytes(data[: len(data) // 2])
        with pytest.raises(ValueError, match=rf"{name}: not a readable safetensors file"):
            ckpt.load_checkpoint(broken, model=model, optimizer=opt, scheduler=sched)


def test_files_are_durable_before_the_marker(tmp_path, monkeypatch):
    """fsync of model, optimizer, scheduler, state and the folder itself, all before COMPLETE."""
    events = []
    real_fsync, real_write_text = ckpt._fsync, ckpt.atomic_write_text
    monkeypatch.setattr(ckpt, "_fsync", lambda p: (events.append(("fsync", Path(p).name)), real_fsync(p)))

    def write_text(p, text):
        events.append(("write", Path(p).name))
        return real_write_text(p, text)

    monkeypatch.setattr(ckpt, "atomic_write_text", write_text)
    model, opt, sched = _objects()
    ckpt.save_checkpoint(tmp_path, 1, model=model, optimizer=opt, scheduler=sched)
    marker = events.index(("write", ckpt.MARKER))
    synced = {name for kind, name in events[:marker] if kind == "fsync"}
    assert {
        "model.safetensors",
        "optimizer.safetensors",
        "optimizer.json",
        "scheduler.json",
        "trainer_state.json",
        "rng_state_0.safetensors",
        ".tmp-step-1",
    } <= synced
