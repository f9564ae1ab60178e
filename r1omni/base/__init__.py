"""The base model stage (notebook 01): towers pretrained to perceive faces and voices, a model aligned
to describe them, and the linear probe that measures what the towers carry.

- :mod:`r1omni.base.towers`: tower pretraining (regressing a clip's true face and voice parameters),
  with its targets (:mod:`r1omni.base.targets`) and frame augmentation (:mod:`r1omni.base.augment`).
- :mod:`r1omni.base.probe`: tower inputs of a manifest, and the linear probe on emotion
  (``probe.probe``; not re-exported, so that ``r1omni.base.probe`` stays the module).
- :mod:`r1omni.base.stage`: :func:`build_base`, the whole stage (or the random base), shareable.
"""

from r1omni.base.probe import probe_data, tower_inputs
from r1omni.base.stage import (
    BASES,
    BaseConfig,
    BaseResult,
    base_stage_metrics,
    build_base,
    probe_report,
    split_perception,
)
from r1omni.base.towers import TowerPretrainConfig, pretrain_towers

__all__ = [
    "BASES",
    "BaseConfig",
    "BaseResult",
    "TowerPretrainConfig",
    "base_stage_metrics",
    "build_base",
    "pretrain_towers",
    "probe_data",
    "probe_report",
    "split_perception",
    "tower_inputs",
]
