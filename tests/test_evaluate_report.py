"""Across-seed evaluation table (python -m r1omni.evaluate runs/a runs/b ...)."""

import pytest

from r1omni.evaluate import seed_table
from r1omni.evaluate.__main__ import main
from r1omni.io import atomic_write_json


def _results(war, uar):
    return {
        "cold_start": {"ood": {"war": war / 2, "uar": uar / 2}, "test": {"war": war, "uar": uar}},
        "rlvr": {"ood": {"war": war, "uar": uar}, "test": {"war": war + 0.1, "uar": uar + 0.1}},
    }


def test_seed_table_mean_and_std_in_split_order():
    table = seed_table([_results(0.2, 0.1), _results(0.4, 0.3)])
    assert [c[0] for c in table.columns] == ["test", "test", "ood", "ood"]
    assert table.loc["cold_start", ("test", "WAR")] == "30.0 ± 14.1"
    assert table.loc["rlvr", ("test", "UAR")] == "30.0 ± 14.1"


def test_seed_table_refuses_runs_that_are_not_comparable():
    other = _results(0.2, 0.1)
    del other["rlvr"]["test"]
    with pytest.raises(ValueError, match="rlvr/test/war"):
        seed_table([_results(0.2, 0.1), other])


def test_cli_over_several_runs(tmp_path, capsys):
    dirs = []
    for i, war in enumerate((0.2, 0.4, 0.6)):
        rdir = tmp_path / f"run{i}"
        atomic_write_json(rdir / "04_evaluation" / "metrics.json", {"results": _results(war, war)})
        dirs.append(str(rdir))
    assert main(dirs) == 0
    out = capsys.readouterr().out
    assert "over 3 runs" in out and "| cold_start | 40.0 ± 20.0 |" in out


def test_cli_reports_the_rlvr_gain_per_seed_and_the_pass_at_k_table(tmp_path, capsys):
    dirs = []
    for i, war in enumerate((0.2, 0.4)):
        rdir = tmp_path / f"run{i}"
        passk = {m: {"test": {"pass_at_k": {"1": war, "8": 2 * war}}} for m in ("cold_start", "rlvr")}
        atomic_write_json(rdir / "04_evaluation" / "metrics.json", {"results": _results(war, war), "pass_at_k": passk})
        dirs.append(str(rdir))
    assert main(dirs) == 0
    out = capsys.readouterr().out
    assert "- rlvr - cold_start, UAR on test: +10.0 ± 0.0 points (+10.0, +10.0)" in out
    assert "- rlvr - cold_start, UAR on ood: +15.0 ± 7.1 points (+10.0, +20.0)" in out
    assert "pass@k in %" in out and "| 60.0 ± 28.3 |" in out
