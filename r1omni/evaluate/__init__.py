"""Evaluation of a policy on a manifest split: greedy decoding, WAR/UAR and the paper's table.

Metrics, as in R1-Omni's evaluation scripts:

- WAR (weighted average recall) = accuracy: ``WAR = (1/N) sum_i 1[yhat_i = y_i]``.
- UAR (unweighted average recall): ``UAR = (1/|C|) sum_{c in C} recall_c`` with
  ``recall_c = #{i: y_i = c, yhat_i = c} / #{i: y_i = c}`` and ``C`` the classes *present in
  the ground truth* (a class of the label set that never occurs is not averaged in).

An answer that cannot be parsed (:func:`r1omni.rewards.parse_answer` returns ``None``) counts as
wrong in WAR/UAR and is also counted on its own (``unparseable_rate``).

Prediction files are JSON lines, one per clip, appended one batch at a time so a run that is
killed resumes where it stopped (ids already in the file are skipped).

Modules: ``metrics`` (WAR, UAR, confusion, bootstrap, :func:`summarize_predictions`), ``decode``
(greedy, batched, resumable predictions: :func:`evaluate_split`, :func:`evaluate_models`, and the
quick :func:`preview_generations` of the training notebooks), ``paper`` (the paper's table with
its reference rows, its reading, the mean ± std table over seeds, Markdown for the README),
``sampling`` (pass@k from ``n`` sampled completions per clip: sharpening vs new capability),
``captions`` (what the base model perceives: captions scored against the true cues).
Everything public is re-exported here. ``python -m r1omni.evaluate runs/<id> [more runs]`` prints
the tables.
"""

from r1omni.evaluate.captions import caption_examples, caption_record, caption_split, caption_table
from r1omni.evaluate.decode import (
    PASSTHROUGH_FIELDS,
    EvalConfig,
    GenerateFn,
    checkpoint_fingerprint,
    decoding_settings,
    evaluate_models,
    evaluate_split,
    make_generate_fn,
    predict,
    predict_split,
    prediction_record,
    preview_generations,
    read_predictions,
    select_examples,
)
from r1omni.evaluate.intervals import interval_width_reading, war_interval_widths
from r1omni.evaluate.metrics import (
    OTHER,
    UNPARSEABLE,
    all_agree_at_k,
    all_agree_rate,
    bootstrap_ci,
    confusion_matrix,
    pass_at_k,
    per_class_recall,
    seeds_to_separate,
    summarize_predictions,
    uar,
    war,
)
from r1omni.evaluate.paper import (
    PAPER_DATASETS,
    PAPER_RESULTS,
    RECORDED_KEYS,
    SPLIT_ORDER,
    compare_models,
    evaluation_metrics,
    evaluation_reading,
    evaluation_report,
    markdown_table,
    ordered_splits,
    pass_at_k_seed_table,
    seed_gains,
    seed_table,
    seeds_report,
)
from r1omni.evaluate.sampling import (
    correct_counts,
    paired_difference_ci,
    pass_at_k_ks,
    pass_at_k_metrics,
    pass_at_k_reading,
    pass_at_k_summary,
    pass_at_k_table,
    sample_models,
    sample_split,
    wasted_groups,
)

__all__ = [
    "caption_examples",
    "caption_record",
    "caption_split",
    "caption_table",
    "pass_at_k",
    "pass_at_k_ks",
    "pass_at_k_metrics",
    "pass_at_k_table",
    "pass_at_k_reading",
    "pass_at_k_summary",
    "paired_difference_ci",
    "sample_models",
    "sample_split",
    "OTHER",
    "PAPER_DATASETS",
    "PAPER_RESULTS",
    "PASSTHROUGH_FIELDS",
    "RECORDED_KEYS",
    "SPLIT_ORDER",
    "UNPARSEABLE",
    "EvalConfig",
    "GenerateFn",
    "bootstrap_ci",
    "checkpoint_fingerprint",
    "compare_models",
    "confusion_matrix",
    "decoding_settings",
    "evaluate_models",
    "evaluate_split",
    "evaluation_metrics",
    "evaluation_reading",
    "evaluation_report",
    "make_generate_fn",
    "markdown_table",
    "ordered_splits",
    "per_class_recall",
    "predict",
    "predict_split",
    "prediction_record",
    "preview_generations",
    "read_predictions",
    "seed_table",
    "seeds_report",
    "select_examples",
    "summarize_predictions",
    "uar",
    "war",
    "all_agree_at_k",
    "all_agree_rate",
    "correct_counts",
    "wasted_groups",
    "seeds_to_separate",
    "war_interval_widths",
    "interval_width_reading",
    "pass_at_k_seed_table",
    "seed_gains",
]
