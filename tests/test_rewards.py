"""Reward edge cases: the format, the accuracy hacking holes, totality, linear time, registry."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1omni.data.synth.cues import CUES
from r1omni.data.synth.explain import explain
from r1omni.rewards import (
    DEFAULT_REWARDS,
    KNOWN_LABELS,
    REWARD_FUNCS,
    SYNONYMS,
    accuracy_reward,
    format_reward,
    get_reward_funcs,
    grounding_reward,
    grounding_reward_parts,
    normalize_label,
    parse_answer,
    reward_parts,
)
from r1omni.settings import MAFW_LABELS, RAVDESS_LABELS

GOOD = "<think>The brows are lowered and the voice is loud.</think>\n<answer>angry</answer>"


def msg(text):
    return [{"role": "assistant", "content": text}]


# ----------------------------------------------------------------------------- format
@pytest.mark.parametrize(
    "text",
    [
        GOOD,
        "<think>x</think><answer>angry</answer>",
        "  \n<think>\nmulti\nline\n</think>  \n\t<answer> sad </answer>\n ",
        "<think>x</think><answer>not even a label</answer>",  # format does not judge the label
    ],
)
def test_format_accepts(text):
    assert format_reward([text]) == [1.0]
    assert format_reward([msg(text)]) == [1.0]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "angry",
        "<answer>angry</answer>",  # no think block
        "<think>x</think>",  # no answer block
        "<think>   </think><answer>angry</answer>",  # blank reasoning
        "<think>x</think><answer> \n </answer>",  # blank answer
        "<answer>angry</answer><think>x</think>",  # wrong order
        "<think>x</think>so<answer>angry</answer>",  # text between blocks
        "prefix <think>x</think><answer>angry</answer>",  # text before
        "<think>x</think><answer>angry</answer> suffix",  # text after
        "<think>x</think><answer>a</answer><answer>b</answer>",  # two answers
        "<think>a</think><think>b</think><answer>angry</answer>",  # two thinks
        "<think>x <answer>sad</answer></think><answer>angry</answer>",  # tag inside think
        "<think>x</think><answer>angry <think></answer>",  # tag inside answer
        "<think>x <ANSWER> </think><answer>angry</answer>",  # upper-case tag inside
        "<THINK>x</THINK><ANSWER>angry</ANSWER>",  # tags must be lowercase
        "<think>x</think><answer>angry",  # unclosed
        "<think>x<answer>angry</answer>",  # unclosed think
        "</think>x<think><answer>angry</answer>",
    ],
)
def test_format_rejects(text):
    assert format_reward([text]) == [0.0]


# ----------------------------------------------------------------------------- accuracy
@pytest.mark.parametrize(
    "answer, label",
    [
        ("angry", "angry"),
        ("Angry", "angry"),
        ("  ANGRY.  ", "angry"),
        ('"angry"!', "angry"),
        ("angry", "Angry"),  # the label column is normalised too
        ("fearful", "fear"),
        ("afraid", "fear"),
        ("surprised", "surprise"),
        ("happiness", "happy"),
        ("Joy", "happy"),
        ("anger", "angry"),
        ("sadness", "sad"),
        ("disgusted", "disgust"),
        ("contempt", "contemptuous"),
        ("anxiety", "anxious"),
        ("disappointment", "disappointed"),
        ("helplessness", "helpless"),
        ("calm", "calm"),
        ("fear", "fearful"),  # a raw RAVDESS label
        ("\u201cSad\u201d\u3002", "sad"),  # unicode quotes and full stop
    ],
)
def test_accuracy_accepts(answer, label):
    completion = f"<think>x</think><answer>{answer}</answer>"
    assert accuracy_reward([completion], label=[label]) == [1.0]
    assert accuracy_reward([msg(completion)], label=[label]) == [1.0]


@pytest.mark.parametrize(
    "completion, label",
    [
        ("angry", "angry"),  # no answer tags: no fallback to the whole text
        ("<think>angry</think>", "angry"),
        ("<answer>angry or sad</answer>", "angry"),
        ("<answer>angry, sad</answer>", "angry"),
        ("<answer>angry/sad</answer>", "angry"),
        ("<answer>the emotion is angry</answer>", "angry"),
        ("<answer>not angry</answer>", "angry"),
        ("<answer>angry</answer><answer>angry</answer>", "angry"),  # two blocks
        ("<answer>angry</answer><ANSWER>sad</ANSWER>", "angry"),  # two blocks, mixed case
        ("<answer>angry", "angry"),  # unclosed
        ("</answer>angry<answer>", "angry"),  # reversed
        ("<answer></answer>", "angry"),
        ("<answer>...</answer>", "angry"),
        ("<answer>sad</answer>", "angry"),  # wrong
        ("<answer>calm</answer>", "neutral"),  # calm stays calm
        ("<answer>neutral</answer>", "calm"),
        ("<answer>angryangry</answer>", "angry"),
        ("<answer>a n g r y</answer>", "angry"),
        ("<answer>angry</answer>", "bored"),  # unknown label never matches
        ("<answer>angry</answer>", None),
    ],
)
def test_accuracy_rejects(completion, label):
    assert accuracy_reward([completion], label=[label]) == [0.0]


def test_accuracy_is_independent_of_format():
    assert accuracy_reward(["<answer>happy</answer>"], label=["happy"]) == [1.0]
    assert format_reward(["<answer>happy</answer>"]) == [0.0]
    # Answer tags in another case still count for accuracy (not for format).
    assert accuracy_reward(["<Answer>happy</Answer>"], label=["happy"]) == [1.0]


def test_accuracy_is_aligned_per_completion_and_broadcasts_a_lone_label():
    completions = ["<answer>sad</answer>", "<answer>happy</answer>", "<answer>sad</answer>"]
    assert accuracy_reward(completions, label=["sad", "sad", "happy"]) == [1.0, 0.0, 0.0]
    assert accuracy_reward(completions, label="sad") == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("label", [None, ["sad"], 5])
def test_accuracy_bad_label_column_scores_zero_with_a_warning(label):
    with pytest.warns(UserWarning, match="column 'label'"):
        assert accuracy_reward(["<answer>sad</answer>"] * 2, label=label) == [0.0, 0.0]


def test_trl_style_call_with_extra_columns():
    kwargs = dict(prompts=["p", "p"], completion_ids=[[1], [2]], trainer_state=None, split=["train"] * 2)
    assert format_reward([GOOD, "x"], **kwargs) == [1.0, 0.0]
    assert accuracy_reward([GOOD, "x"], label=["angry", "angry"], **kwargs) == [1.0, 0.0]


# ----------------------------------------------------------------------------- normalisation
def test_every_label_and_synonym_normalises_to_a_known_label():
    for label in KNOWN_LABELS:
        assert normalize_label(label) == label
        assert normalize_label(f" {label.upper()}! ") == label
    for synonym, label in SYNONYMS.items():
        assert normalize_label(synonym) == label
        assert label in KNOWN_LABELS
    assert set(MAFW_LABELS) | set(RAVDESS_LABELS) <= KNOWN_LABELS


def test_parse_answer_is_none_when_unparseable():
    assert parse_answer("<think>x</think><answer>Surprised</answer>") == "surprise"
    for bad in ("surprise", "<answer>surprise or fear</answer>", None, 3, [{"role": "user"}]):
        assert parse_answer(bad) is None


# ----------------------------------------------------------------------------- totality
JUNK = [
    None,
    0,
    3.5,
    b"<answer>sad</answer>",
    ["<answer>sad</answer>", ["nested", ["deeper"]]],
    {"content": None},
    {"role": "assistant", "content": 7},
    [{"role": "assistant"}],
    [{"role": "assistant", "content": [{"type": "image"}, {"type": "text", "text": None}]}],
    [{"role": "user", "content": "<answer>sad</answer>"}],
    object(),
    "\x00<answer>\ud800</answer>",
]


@pytest.mark.parametrize("junk", JUNK, ids=range(len(JUNK)))
def test_rewards_never_raise_on_junk(junk):
    for name, func in REWARD_FUNCS.items():
        out = func([junk], label=["sad"], cues=[{"present": ["smile"]}])
        assert out == [0.0], name
    parts = reward_parts(junk, label="sad", cues={"present": []})
    assert {p["reward"] for p in parts.values()} == {0.0}


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.integers() | st.text() | st.booleans(),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["role", "content", "text", "type"]), inner, max_size=3)
        ),
        max_leaves=8,
    ),
    st.one_of(st.none(), st.text(), st.integers()),
)
def test_rewards_are_total_and_binary(completion, label):
    for func in (format_reward, accuracy_reward):
        out = func([completion], label=[label])
        assert len(out) == 1 and out[0] in (0.0, 1.0)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/thinkswera angrysd\n.!")), max_size=80))
def test_tag_soup_agrees_with_a_slow_reference(text):
    """format_reward against a direct restatement of the rule on random tag soup."""
    s = text.strip()
    low = s.lower()
    tags = ("<think>", "</think>", "<answer>", "</answer>")
    expected = 0.0
    if all(low.count(t) == 1 for t in tags) and s.startswith("<think>") and s.endswith("</answer>"):
        think, rest = s[len("<think>") :].split("</think>", 1) if "</think>" in s else ("", "x")
        if rest.strip().startswith("<answer>"):
            answer = rest.strip()[len("<answer>") : -len("</answer>")]
            expected = float(bool(think.strip()) and bool(answer.strip()))
    assert format_reward([text]) == [expected]


def test_megabytes_of_adversarial_text_return():
    """Linear time: these finish (no timing assertion; a backtracking regex would not)."""
    cases = [  # (text, format, accuracy)
        ("<think>" * 10**5, 0.0, 0.0),
        ("<think>" + "a" * 3 * 10**6 + "</think><answer>" + " " * 10**6 + "angry</answer>", 1.0, 1.0),
        ("<answer>" * 10**5 + "</answer>" * 10**5, 0.0, 0.0),
        ("<think>x</think><answer>" + "angry or " * 10**5 + "</answer>", 1.0, 0.0),
        ("<" * 2 * 10**6, 0.0, 0.0),
        ("<think>x</think><answer>" + "!" * 10**6 + "angry" + "!" * 10**6 + "</answer>", 1.0, 0.0),
    ]
    for text, fmt, acc in cases:
        assert format_reward([text]) == [fmt]
        assert accuracy_reward([text], label=["angry"]) == [acc]
        assert grounding_reward([text], cues=[{"present": ["smile"]}]) == [0.0]
    big = "<think>" + "a smile " * 10**5 + "</think><answer>happy</answer>"
    assert format_reward([big]) == [1.0]
    assert accuracy_reward([big], label=["happy"]) == [1.0]
    assert grounding_reward([big], cues=[{"present": ["smile"]}]) == [1.0]


# ----------------------------------------------------------------------------- grounding
def test_grounding_is_the_precision_of_named_cues():
    text = "<think>Wide open eyes, a dropped jaw and a trembling voice.</think><answer>fear</answer>"
    parts = grounding_reward_parts(text, {"present": ["wide_eyes", "open_mouth", "high_pitch"]})
    assert parts["mentioned"] == ["wide_eyes", "open_mouth", "trembling_voice"]
    assert parts["unsupported"] == ["trembling_voice"]
    assert parts["reward"] == pytest.approx(2 / 3)
    # Cues named only outside <think> do not count; no cues annotation scores 0.
    outside = "<think>hmm</think><answer>a smile</answer>"
    assert grounding_reward([outside], cues=[{"present": ["smile"]}]) == [0.0]
    assert grounding_reward([text], cues=[{"face": {}}]) == [0.0]


def test_grounding_divides_by_the_cues_named_not_the_cues_present():
    """Precision and recall differ here: naming one of three present cues is fully grounded."""
    present = {"present": ["smile", "raised_brows", "high_pitch"]}
    one_true = "<think>I see a smile.</think><answer>happy</answer>"
    assert grounding_reward([one_true], cues=[present]) == [1.0]  # recall would be 1/3
    one_of_two = "<think>A smile and a trembling voice.</think><answer>happy</answer>"
    assert grounding_reward([one_of_two], cues=[present]) == [0.5]  # recall 1/3
    assert grounding_reward_parts(one_of_two, present)["supported"] == ["smile"]


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(sorted(CUES))), st.sets(st.sampled_from(sorted(CUES))), st.integers(0, 2**32 - 1))
def test_grounding_is_supported_over_named_for_any_cue_sets(named, present, seed):
    """reward = |named & present| / |named| (0 when nothing is named), whatever the two sets are."""
    import numpy as np

    text = f"<think>{explain('happy', sorted(named), np.random.default_rng(seed))}</think><answer>happy</answer>"
    expected = len(named & present) / len(named) if named else 0.0
    assert grounding_reward([text], cues=[{"present": sorted(present)}]) == [pytest.approx(expected)]


def test_grounding_is_off_by_default():
    assert "grounding" not in DEFAULT_REWARDS
    assert get_reward_funcs() == [accuracy_reward, format_reward]


# ----------------------------------------------------------------------------- registry
def test_registry():
    assert get_reward_funcs(["format", "grounding"]) == [format_reward, grounding_reward]
    assert get_reward_funcs(" accuracy , format ") == [accuracy_reward, format_reward]
    with pytest.raises(ValueError, match="unknown reward 'acc'.*accuracy"):
        get_reward_funcs(["acc"])


def test_reward_parts_explain_the_rewards():
    parts = reward_parts("<think>x</think><answer>angry or sad</answer>", label="angry")
    assert parts["format_reward"]["reward"] == 1.0
    assert parts["accuracy_reward"] == {
        "is_text": True,
        "answer_blocks": 1,
        "answer_text": "angry or sad",
        "predicted": None,
        "label": "angry",
        "reward": 0.0,
    }
    assert "grounding_reward" not in parts


# ----------------------------------------------------------------------------- playground
def test_reward_table_rows_and_total():
    from r1omni.viz.rewards import EXAMPLES, reward_table

    table = reward_table(EXAMPLES["two labels"], "angry", cues_present=["lowered_brows"])
    rewards = table[table.part == "reward"].set_index("reward").value.to_dict()
    assert rewards == {
        "format_reward": 1.0,
        "accuracy_reward": 0.0,
        "grounding_reward": 0.0,
        "total (accuracy + format)": 1.0,
    }
    acc = table[table.reward == "accuracy_reward"].set_index("part").value
    assert acc["answer_text"] == "angry or sad" and acc["predicted"] is None
    assert list(table.reward.drop_duplicates()) == ["format_reward", "accuracy_reward", "grounding_reward",
                                                    "total (accuracy + format)"]  # fmt: skip


def test_reward_playground_widget_updates_on_input():
    from r1omni.viz.rewards import EXAMPLES, reward_playground

    box = reward_playground()
    example, text, row, out = box.children
    label_box, cues_box = row.children
    assert "<td>total (accuracy + format)</td><td>reward</td><td>2</td>" in out.value
    example.value = "negation"
    assert text.value == EXAMPLES["negation"]
    assert "<td>total (accuracy + format)</td><td>reward</td><td>1</td>" in out.value
    text.value = "<think>x</think><answer>sad</answer>"
    label_box.value = "sadness"
    assert "<td>total (accuracy + format)</td><td>reward</td><td>2</td>" in out.value
    assert "grounding_reward" not in out.value
    cues_box.value = "smile"
    assert "grounding_reward" in out.value
