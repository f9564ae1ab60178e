"""Test-wide settings: never touch a hub, keep torch small and deterministic."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import matplotlib  # noqa: E402

# In-process plots use Agg; notebook kernels started by tests keep their inline backend
# (an exported MPLBACKEND would strip every figure from the executed notebooks).
matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def smol_models():
    """The smol preset's parts in the repository's ``models/smol`` (where ``from_preset("smol")`` and
    notebook kernels look): installed from the packages of the ``smol`` extra on a fresh clone (about a
    minute), a no-op check of the manifest afterwards."""
    from r1omni.model.install import install_preset
    from r1omni.model.presets import models_root

    out = models_root() / "smol"
    install_preset("smol", out, log=lambda msg: None)
    return out
