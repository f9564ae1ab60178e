"""Plots and the clip browser for notebook 00 (data preparation).

Every ``plot_*`` function returns its matplotlib figure; the tables are pandas DataFrames.
Records are manifest lines as returned by :func:`r1omni.data.manifest.load_manifest` (with
``video_path``); ``records`` arguments are ``{split: [record, ...]}`` or a plain list.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from r1omni.data.media import Clip, load_clip, log_mel, sample_frame_indices
from r1omni.settings import SAMPLE_RATE

Records = Mapping[str, Sequence[dict]] | Sequence[dict]


def _flat(records: Records) -> list[dict]:
    if isinstance(records, Mapping):
        return [r for rows in records.values() for r in rows]
    return list(records)


def gpt_text(record: dict) -> str:
    """The target (gpt turn) of a record, or "" if it has none."""
    turns = [t.get("value", "") for t in record.get("conversations", []) if t.get("from") == "gpt"]
    return turns[0] if turns else ""


# ----------------------------------------------------------------------------- tables


#: The label column of the perception split's clips, which have none.
UNLABELLED = "(no label: perception)"


def split_label_table(records: Mapping[str, Sequence[dict]]) -> pd.DataFrame:
    """Clips per label (rows) and split (columns), with a ``total`` row."""
    rows = [{"split": split, "label": r.get("label", UNLABELLED)} for split, recs in records.items() for r in recs]
    table = pd.crosstab(pd.DataFrame(rows)["label"], pd.DataFrame(rows)["split"])
    table = table[[s for s in records if s in table.columns]]
    table.loc["total"] = table.sum()
    return table


def cue_presence_table(records: Records) -> pd.DataFrame:
    """Fraction of clips of each label (rows) in which each cue (columns) is present
    (SynthEmo's ``cues["present"]``); empty when the records carry no such cues."""
    rows = [{"label": r["label"], "cue": cue} for r in _flat(records) for cue in r.get("cues", {}).get("present", [])]
    if not rows:
        return pd.DataFrame()
    counts = pd.crosstab(pd.DataFrame(rows)["label"], pd.DataFrame(rows)["cue"])
    per_label = pd.Series([r["label"] for r in _flat(records)]).value_counts()
    return counts.div(per_label.reindex(counts.index), axis=0).round(2)


def cue_parameter_frame(records: Records, part: str = "voice") -> pd.DataFrame:
    """Long table (label, parameter, value) of SynthEmo's numeric generating parameters
    ``cues[part]`` (``part`` = ``"face"`` or ``"voice"``)."""
    rows = [
        {"label": r["label"], "parameter": k, "value": float(v)}
        for r in _flat(records)
        for k, v in r.get("cues", {}).get(part, {}).items()
        if isinstance(v, (int, float))
    ]
    return pd.DataFrame(rows, columns=["label", "parameter", "value"])


# ----------------------------------------------------------------------------- plots


def plot_label_distribution(records: Mapping[str, Sequence[dict]], labels: Sequence[str] | None = None):
    """Bar chart: clips per label, one bar colour per split."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    df = pd.DataFrame([{"split": s, "label": r["label"]} for s, recs in records.items() for r in recs if "label" in r])
    order = list(labels) if labels else sorted(df["label"].unique())
    fig, ax = plt.subplots(figsize=(9, 3.2))
    sns.countplot(data=df, x="label", hue="split", order=[lab for lab in order if lab in set(df["label"])], ax=ax)
    ax.set(title="clips per label and split", xlabel="", ylabel="clips")
    ax.legend(ncol=min(6, df["split"].nunique()), fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def pick_examples(records: Sequence[dict], labels: Sequence[str], per_label: int = 1, seed: int = 0) -> list[dict]:
    """``per_label`` records of each label (seeded choice), in label order."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in labels:
        pool = [r for r in records if r["label"] == label]
        if pool:
            chosen += [pool[i] for i in sorted(rng.choice(len(pool), min(per_label, len(pool)), replace=False))]
    return chosen


def plot_frame_grid(records: Sequence[dict], labels: Sequence[str], *, num_frames: int = 4, seed: int = 0):
    """One row per label (a seeded example clip), ``num_frames`` frames sampled at segment
    midpoints exactly as the model sees them (:func:`load_clip`)."""
    import matplotlib.pyplot as plt

    examples = pick_examples(records, labels, 1, seed)
    if not examples:
        raise ValueError("no records to show")
    fig, axes = plt.subplots(len(examples), num_frames, figsize=(1.6 * num_frames, 1.6 * len(examples)), squeeze=False)
    for r, (row, record) in enumerate(zip(axes, examples)):
        clip = load_clip(record["video_path"], num_frames=num_frames, allow_missing_audio=True)
        for i, ax in enumerate(row):
            ax.imshow(clip.frames[i])
            ax.set_xticks([]), ax.set_yticks([])
        row[0].set_ylabel(record["label"], rotation=0, ha="right", va="center", fontsize=10)
        if r == 0:  # which frames of the (first) video were taken
            for ax, idx in zip(row, sample_frame_indices(max(1, round(clip.duration * clip.fps)), num_frames)):
                ax.set_title(f"frame {idx}", fontsize=8)
    fig.suptitle(f"{num_frames} midpoint-sampled frames per emotion", fontsize=10)
    fig.tight_layout()
    return fig


def plot_audio(clip: Clip, title: str = "", n_mels: int = 80):
    """Waveform (top) and Whisper-style log-mel spectrogram (bottom) of one clip."""
    import matplotlib.pyplot as plt

    if clip.audio is None:
        raise ValueError(f"{clip.path}: clip has no audio track")
    t = np.arange(len(clip.audio)) / clip.sample_rate
    mel = log_mel(clip.audio, clip.sample_rate, n_mels=n_mels, padding="longest")  # (n_mels, frames)
    fig, (ax_w, ax_m) = plt.subplots(2, 1, figsize=(9, 4.2), sharex=True, gridspec_kw={"height_ratios": [1, 1.6]})
    ax_w.plot(t, clip.audio, lw=0.5)
    ax_w.set(ylabel="amplitude", title=title or os.path.basename(clip.path))
    image = ax_m.imshow(
        mel, origin="lower", aspect="auto", cmap="magma", extent=(0, mel.shape[1] * 160 / clip.sample_rate, 0, n_mels)
    )
    ax_m.set(xlabel="time (s)", ylabel="mel bin")
    fig.colorbar(image, ax=ax_m, label="Whisper log-mel", pad=0.01)
    fig.tight_layout()
    return fig


def plot_cue_presence(records: Records):
    """Heat map of :func:`cue_presence_table`: which cues each emotion shows, how often."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    table = cue_presence_table(records)
    if table.empty:
        raise ValueError("these records carry no cues['present'] (not a SynthEmo manifest?)")
    fig, ax = plt.subplots(figsize=(min(16, 0.45 * table.shape[1] + 2), 0.4 * table.shape[0] + 1.5))
    sns.heatmap(table, annot=False, cmap="viridis", vmin=0, vmax=1, cbar_kws={"label": "fraction of clips"}, ax=ax)
    ax.set(title="cues present per emotion", xlabel="", ylabel="")
    fig.tight_layout()
    return fig


def plot_cue_parameters(records: Records, part: str = "voice", labels: Sequence[str] | None = None):
    """Box plots of the numeric generating parameters of the face or the voice, per label."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    df = cue_parameter_frame(records, part)
    if df.empty:
        raise ValueError(f"these records carry no numeric cues[{part!r}]")
    params = sorted(df["parameter"].unique())
    cols = 4
    rows = -(-len(params) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    order = [lab for lab in (labels or sorted(df["label"].unique())) if lab in set(df["label"])]
    for ax, name in zip(axes.flat, params):
        sns.boxplot(data=df[df["parameter"] == name], x="label", y="value", order=order, ax=ax, fliersize=1)
        ax.set(title=name, xlabel="", ylabel="")
        ax.tick_params(axis="x", rotation=60, labelsize=7)
    for ax in list(axes.flat)[len(params) :]:
        ax.set_visible(False)
    fig.suptitle(f"{part} parameters per emotion", fontsize=10)
    fig.tight_layout()
    return fig


def separability_tables(data_dir: str | os.PathLike, records: Mapping[str, Sequence[dict]], seed: int = 0):
    """``(overall, pairs)`` from :mod:`r1omni.data.synth.separability` for a SynthEmo folder, or
    ``(None, None)`` when the records carry no generating parameters (real data sets)."""
    from r1omni.data.synth.separability import pair_separability, separability

    train = records.get("train", [])
    if not train or "face" not in train[0].get("cues", {}):
        return None, None
    return separability(data_dir, seed=seed), pair_separability(data_dir, seed=seed)


def plot_separability(overall: pd.DataFrame, pairs: pd.DataFrame | None = None):
    """Bars: accuracy of a classifier on the face cues, the voice cues and both (left), and
    on each designed hard pair (right)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    ncols = 2 if pairs is not None and len(pairs) else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5 + 5 * (ncols - 1), 3.4), squeeze=False)
    long = overall.melt(id_vars="inputs", value_vars=["accuracy", "uar"], var_name="metric")
    sns.barplot(data=long, x="inputs", y="value", hue="metric", ax=axes[0, 0])
    axes[0, 0].set(ylim=(0, 1), title="all classes", xlabel="classifier inputs", ylabel="")
    for bar in axes[0, 0].containers:
        axes[0, 0].bar_label(bar, fmt="%.2f", fontsize=7)
    if ncols == 2:
        lp = pairs.melt(
            id_vars=["pair", "hard_from"],
            value_vars=["visual", "audio", "both"],
            var_name="inputs",
            value_name="accuracy",
        )
        sns.barplot(data=lp, x="pair", y="accuracy", hue="inputs", ax=axes[0, 1])
        axes[0, 1].set(ylim=(0, 1), title="designed hard pairs (2-class accuracy)", xlabel="")
        axes[0, 1].tick_params(axis="x", rotation=30, labelsize=7)
        # the legend beside the panel, not over the bars (they reach 1.0)
        axes[0, 1].legend(title="inputs", fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- clip browser


def wav_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A mono float waveform as the bytes of a 16-bit WAV file (for an audio player)."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def describe_record(record: dict, clip: Clip | None = None) -> str:
    """HTML summary of one clip: label(s), subtitle, cues present, the target text, media flags."""
    from html import escape

    cues = record.get("cues", {})
    lines = [
        f"<b>{escape(record['id'])}</b> &middot; split <code>{escape(record['split'])}</code> &middot; "
        + (f"label <b>{escape(record['label'])}</b>" if "label" in record else "no label (a perception clip)")
    ]
    if "face_label" in record:
        lines.append(
            f"face label <b>{escape(record['face_label'])}</b>, voice label <b>{escape(record['voice_label'])}</b>"
        )
    lines.append(f"subtitle: <i>{escape(record.get('subtitle') or '(none)')}</i>")
    if cues.get("present"):
        lines.append("cues present: " + ", ".join(f"<code>{escape(c)}</code>" for c in cues["present"]))
    lines.append(f"target: <code>{escape(gpt_text(record))}</code>")
    if clip is not None:
        lines.append(
            f"{clip.duration:.2f} s at {clip.fps:g} fps, frames {clip.frames.shape[2]}x{clip.frames.shape[1]}"
            + (", <b>no audio track</b>" if clip.audio_missing else "")
            + (", <b>silent audio</b>" if clip.audio_silent else "")
        )
    return "<br>".join(lines)


def clip_browser(records: Mapping[str, Sequence[dict]], *, num_frames: int = 8):
    """An ipywidgets browser: pick a split and a clip; shows its sampled frames, an audio
    player, the cues present, the subtitle and the target. Returns the widget."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    splits = [s for s, recs in records.items() if recs]
    if not splits:
        raise ValueError("no records to browse")
    split_box = widgets.Dropdown(options=splits, value=splits[0], description="split")
    index = widgets.IntSlider(min=0, max=len(records[splits[0]]) - 1, value=0, description="clip")
    # Frames go into an Image widget (PNG bytes), not an Output widget: nbclient routes a
    # cell's messages through an Output widget's capture hook, which can leave headless
    # papermill runs waiting forever (jupyter/nbclient#312).
    info, frames_view = widgets.HTML(), widgets.Image(format="png")
    player = widgets.Audio(value=b"", format="wav", autoplay=False, loop=False)

    def show(*_: Any) -> None:
        record = records[split_box.value][index.value]
        clip = load_clip(record["video_path"], num_frames=num_frames, allow_missing_audio=True)
        info.value = describe_record(record, clip)
        player.value = wav_bytes(clip.audio, clip.sample_rate) if clip.audio is not None else b""
        fig, axes = plt.subplots(1, num_frames, figsize=(1.5 * num_frames, 1.6))
        for ax, frame in zip(np.atleast_1d(axes), clip.frames):
            ax.imshow(frame)
            ax.axis("off")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        frames_view.value = buffer.getvalue()

    def change_split(*_: Any) -> None:
        index.max = len(records[split_box.value]) - 1
        index.value = 0
        show()

    split_box.observe(change_split, names="value")
    index.observe(show, names="value")
    show()
    return widgets.VBox([widgets.HBox([split_box, index]), frames_view, player, info])
