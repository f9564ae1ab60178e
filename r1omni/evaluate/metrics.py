"""WAR, UAR, per-class recall, confusion matrix, bootstrap intervals and the summary of a predictions file."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

#: Column name in the confusion matrix for answers that could not be parsed.
UNPARSEABLE = "(unparseable)"
#: Column name for parsed answers outside the label set.
OTHER = "(other)"


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem from ``n`` samples of which ``c`` are correct (Chen et al. 2021):

        pass@k = 1 - C(n - c, k) / C(n, k)

    the probability that at least one of ``k`` samples drawn without replacement from the ``n`` is
    correct; computed as ``1 - prod_{i = n - c + 1}^{n} (1 - k / i)`` (no huge binomials).

    >>> pass_at_k(8, 0, 4), pass_at_k(8, 8, 1), round(pass_at_k(8, 2, 1), 4), round(pass_at_k(4, 1, 2), 4)
    (0.0, 1.0, 0.25, 0.5)
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def all_agree_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate, from ``n`` samples of which ``c`` are right, of the probability that ``k``
    fresh samples all agree (all right or all wrong): a GRPO group of size ``k`` whose accuracy
    rewards are all equal has zero advantage and teaches nothing.

        P(all agree) = [C(c, k) + C(n - c, k)] / C(n, k)

    (drawn without replacement from the ``n``, as :func:`pass_at_k`). With one success rate ``p``
    for every clip it tends to :func:`all_agree_rate`.

    >>> all_agree_at_k(8, 0, 2), all_agree_at_k(8, 8, 8), round(all_agree_at_k(4, 2, 2), 4)
    (1.0, 1.0, 0.3333)
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"all_agree_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    return float((math.comb(c, k) + math.comb(n - c, k)) / math.comb(n, k))


def all_agree_rate(p: float, k: int) -> float:
    """``p^k + (1 - p)^k``: the chance that ``k`` independent samples, each right with probability
    ``p``, all agree. Over clips of different difficulty the mean of ``all_agree_rate(p_i, k)`` is
    at least ``all_agree_rate(mean p_i, k)`` (the function is convex in ``p``), so one global ``p``
    underestimates the wasted groups.

    >>> all_agree_rate(0.5, 2), all_agree_rate(1.0, 8), round(all_agree_rate(0.2, 3), 3)
    (0.5, 1.0, 0.52)
    """
    if not 0.0 <= p <= 1.0 or k < 1:
        raise ValueError(f"all_agree_rate needs 0 <= p <= 1 and k >= 1, got p={p}, k={k}")
    return float(p**k + (1.0 - p) ** k)


def seeds_to_separate(gap: float, sd: float) -> int:
    """Seeds per setting before a gap ``gap`` between two settings' mean metrics exceeds two standard
    errors of their difference, when each run has standard deviation ``sd``.

    The difference of two ``n``-seed means has standard error ``sd * sqrt(2 / n)``, so
    ``gap > 2 * sd * sqrt(2 / n)`` needs ``n > 8 sd^2 / gap^2``: the smallest such integer.

    >>> seeds_to_separate(0.02, 0.03)  # 8 * 0.0009 / 0.0004 = 18, and n must exceed it
    19
    >>> seeds_to_separate(0.1, 0.01)
    1
    """
    if gap <= 0 or sd < 0:
        raise ValueError(f"seeds_to_separate needs gap > 0 and sd >= 0, got gap={gap}, sd={sd}")
    return max(1, math.floor(8 * sd**2 / gap**2 + 1e-12) + 1)


def _check_pair(y_true: Sequence, y_pred: Sequence) -> tuple[list, list]:
    y_true, y_pred = list(y_true), list(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items but y_pred has {len(y_pred)}")
    if not y_true:
        raise ValueError("cannot score an empty set of predictions")
    return y_true, y_pred


def war(y_true: Sequence[str], y_pred: Sequence[str | None]) -> float:
    """Weighted average recall = accuracy, ``(1/N) sum_i 1[yhat_i = y_i]``; ``None`` is wrong.

    >>> war(["happy", "sad", "sad", "fear"], ["happy", "sad", None, "sad"])
    0.5
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    return float(np.mean([t == p for t, p in zip(y_true, y_pred)]))


def per_class_recall(
    y_true: Sequence[str], y_pred: Sequence[str | None], labels: Sequence[str] | None = None
) -> dict[str, float]:
    """``recall_c`` for every class in ``labels`` (default: classes present in ``y_true``, sorted).

    A class of ``labels`` absent from ``y_true`` gets ``nan`` (its recall is undefined).

    >>> per_class_recall(["a", "a", "b"], ["a", "b", "b"])
    {'a': 0.5, 'b': 1.0}
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    classes = sorted(set(y_true)) if labels is None else list(labels)
    out = {}
    for c in classes:
        idx = [i for i, t in enumerate(y_true) if t == c]
        out[c] = float(np.mean([y_pred[i] == c for i in idx])) if idx else float("nan")
    return out


def uar(y_true: Sequence[str], y_pred: Sequence[str | None]) -> float:
    """Unweighted average recall: mean of ``recall_c`` over the classes present in ``y_true``.

    >>> uar(["a", "a", "a", "b"], ["a", "a", "a", "a"])  # recall a = 1, b = 0
    0.5
    """
    recalls = per_class_recall(y_true, y_pred)
    return float(np.mean(list(recalls.values())))


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str | None], labels: Sequence[str]) -> pd.DataFrame:
    """Counts, rows = true label (``labels`` order), columns = ``labels`` + :data:`OTHER` +
    :data:`UNPARSEABLE` (``None`` answers). A true label outside ``labels`` raises."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    labels = list(labels)
    unknown = sorted(set(y_true) - set(labels))
    if unknown:
        raise ValueError(f"true labels {unknown} are not in the label set {labels}")
    cols = labels + [OTHER, UNPARSEABLE]
    mat = pd.DataFrame(0, index=pd.Index(labels, name="true"), columns=pd.Index(cols, name="predicted"))
    for t, p in zip(y_true, y_pred):
        col = UNPARSEABLE if p is None else (p if p in labels else OTHER)
        mat.loc[t, col] += 1
    return mat


def _codes(y_true: Sequence[str], y_pred: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray, int]:
    classes = sorted(set(y_true))
    index = {c: i for i, c in enumerate(classes)}
    t = np.array([index[c] for c in y_true], dtype=np.int64)
    correct = np.array([a == b for a, b in zip(y_true, y_pred)], dtype=np.float64)
    return t, correct, len(classes)


def bootstrap_ci(
    y_true: Sequence[str],
    y_pred: Sequence[str | None],
    metric: str | Callable[[list, list], float] = "war",
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` ("war", "uar" or a callable).

    Draws ``n_boot`` resamples of the N clips with replacement (``numpy`` generator seeded with
    ``seed``), scores each, and returns the ``(1-confidence)/2`` and ``(1+confidence)/2``
    quantiles. For UAR a resample is scored over the classes present in that resample.
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    n = len(y_true)
    idx = rng.integers(0, n, size=(n_boot, n))  # (B, N)
    if metric == "war":
        _, correct, _ = _codes(y_true, y_pred)
        stats = correct[idx].mean(axis=1)  # (B,)
    elif metric == "uar":
        t, correct, k = _codes(y_true, y_pred)
        flat = (t[idx] + k * np.arange(n_boot)[:, None]).ravel()  # (B*N,) class id per resample
        counts = np.bincount(flat, minlength=k * n_boot).reshape(n_boot, k)  # (B, K)
        hits = np.bincount(flat, weights=correct[idx].ravel(), minlength=k * n_boot).reshape(n_boot, k)
        with np.errstate(invalid="ignore", divide="ignore"):
            stats = np.nanmean(np.where(counts > 0, hits / np.maximum(counts, 1), np.nan), axis=1)
    elif callable(metric):
        stats = np.array([metric([y_true[i] for i in row], [y_pred[i] for i in row]) for row in idx])
    else:
        raise ValueError(f"metric must be 'war', 'uar' or a callable, got {metric!r}")
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def summarize_predictions(
    records: Sequence[dict], labels: Sequence[str] | None = None, *, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Every metric of a list of prediction records (see :func:`prediction_record`).

    Returns a JSON-ready dict: n, war, uar, war_ci, uar_ci (95%), per_class_recall,
    confusion (nested dict true -> predicted -> count), unparseable_rate, format_rate
    (mean format reward), accuracy_reward (mean), mean_completion_tokens.
    """
    if not records:
        raise ValueError("no prediction records to summarise")
    y_true = [r["label"] for r in records]
    y_pred = [r["answer"] for r in records]
    if labels is None:
        labels = sorted(set(y_true))
    conf = confusion_matrix(y_true, y_pred, labels)
    return {
        "n": len(records),
        "war": war(y_true, y_pred),
        "uar": uar(y_true, y_pred),
        "war_ci": list(bootstrap_ci(y_true, y_pred, "war", n_boot=n_boot, seed=seed)),
        "uar_ci": list(bootstrap_ci(y_true, y_pred, "uar", n_boot=n_boot, seed=seed)),
        "per_class_recall": per_class_recall(y_true, y_pred, labels),
        "confusion": {t: {p: int(v) for p, v in row.items()} for t, row in conf.iterrows()},
        "unparseable_rate": float(np.mean([p is None for p in y_pred])),
        "format_rate": float(np.mean([r["rewards"]["format"] for r in records])),
        "accuracy_reward": float(np.mean([r["rewards"]["accuracy"] for r in records])),
        "mean_completion_tokens": float(np.mean([r["completion_tokens"] for r in records])),
    }
