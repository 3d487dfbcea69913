"""The paper's claims (evalkit.book.claims, verdicts, intervals): the rules and intervals, every claim on hand-made
per-repetition tables, confounded and too-small designs, and a calibration test on simulated runs with known truth
that today's rule fails and the new one passes. No test requires a particular verdict on the published tables."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from evalkit.book.claims import CLAIMS, check_claims
from evalkit.book.intervals import Interval, file_bootstrap_interval, holm, max_t_intervals, random_task_interval, resampled_t_interval
from evalkit.book.verdicts import Finding, Rule, confounds, family_verdicts
from evalkit.config import EvalkitError

TASKS = ["D1", "D2", "D3", "D4"]
ROLES = {"embedding": "emb", "classifier": "svm"}
DOMAINS = {"emb": "music", "env": "environmental sound", "emb2": "music", "mfcc": None}


def rows(label, classifier, accuracies, *, fusion="late", kind="embedding", frames_per_file=3, fit_seconds=1.0,
         tasks=None):
    """Results rows (one per task × repetition) of one configuration: ``accuracies[t][r]`` of task t, repetition r."""
    tasks = tasks or TASKS
    name = {"svm": "SVM", "d128": "D128", "d512": "D512"}.get(classifier, classifier.upper())
    row = "baseline CNN" if kind == "baseline" else f"{label} · {name}" + (" · early" if fusion == "early" else "")
    return [{"task": tasks[t], "repetition": r, "accuracy": float(a), "label": label, "classifier": classifier,
             "classifier_name": classifier, "fusion": fusion, "kind": kind, "row": row, "n_train_files": 40,
             "n_test_files": 10, "n_train_frames": 40 * frames_per_file, "fit_seconds": fit_seconds}
            for t, per_task in enumerate(accuracies) for r, a in enumerate(per_task)]


def table(*configurations) -> pd.DataFrame:
    return pd.DataFrame([r for configuration in configurations for r in configuration])


def base(accuracies):
    return rows("baseline", "cnn", accuracies, kind="baseline")


def shifted(reference, shift, noise=0.0, seed=0):
    """``reference`` (tasks × repetitions) plus ``shift`` points, with optional per-run noise."""
    ref = np.asarray(reference, dtype=float)
    return (ref + shift + noise * np.random.default_rng(seed).standard_normal(ref.shape)).tolist()


REF = [[70, 72, 74, 71, 73], [60, 61, 62, 63, 59], [80, 82, 81, 79, 83], [66, 68, 67, 65, 69]]  # 4 tasks × 5 reps


def found(claim_id, tables, *, roles=ROLES, descriptors=None):
    result = check_claims(tables, DOMAINS, roles=roles, descriptors=descriptors).set_index("claim").loc[claim_id]
    assert result["this profile"], "every verdict comes with its evidence or reason"
    return result


def verdict(claim_id, tables, **kwargs):
    return found(claim_id, tables, **kwargs)["holds here"]


# ------------------------------------------------------------------------------------------------
# Rules and intervals


@pytest.mark.parametrize("rule, estimate, se, holds, p_below_5_percent", [
    (Rule("equivalent", 2.0), 0.2, 0.5, True, True), (Rule("equivalent", 2.0), 1.5, 0.5, True, False),
    (Rule("equivalent", 2.0), 4.0, 0.5, False, True), (Rule("non-inferior", 2.0), -1.0, 2.0, True, False),
    (Rule("greater"), 3.0, 1.0, True, True), (Rule("greater"), -3.0, 1.0, False, True),
    (Rule("greater"), 0.5, 1.0, True, False),
])
def test_a_rules_p_value_is_that_of_its_nearest_boundary(rule, estimate, se, holds, p_below_5_percent):
    interval = Interval(estimate, estimate - 2 * se, estimate + 2 * se, se, 20)
    assert rule.satisfied(estimate) == holds
    assert (rule.p_value(interval) < 0.05) == p_below_5_percent
    assert math.isnan(rule.p_value(Interval(estimate)))  # no interval, no test


def test_a_difference_of_exactly_the_margin_is_judged_by_the_wording_not_by_float_rounding():
    assert not Rule("equivalent", 2.0).satisfied(64.4 - 62.4)  # 2.0000000000000057: not "below 2"
    assert Rule("non-inferior", 2.0).satisfied(62.5 - 64.4)


def test_the_corrected_resampled_t_widens_by_the_split_overlap_and_needs_repetitions():
    differences = pd.DataFrame({"task": ["a"] * 3 + ["b"] * 3, "repetition": [0, 1, 2] * 2,
                                "difference": [1.0, 2.0, 3.0, 4.0, 5.0, 9.0], "test_train_ratio": 0.25})
    corrected = resampled_t_interval(differences)
    plain = resampled_t_interval(differences.assign(test_train_ratio=0.0))
    pooled = (2.0 + 14.0) / 4  # squared deviations from each task's mean over T(R - 1) = 4 degrees of freedom
    assert corrected.estimate == pytest.approx(4.0) and corrected.df == 4
    assert corrected.se == pytest.approx(math.sqrt(2 * (1 / 3 + 0.25) * pooled / 4))
    assert plain.high - plain.low < corrected.high - corrected.low
    single = resampled_t_interval(differences.drop_duplicates("task"))
    assert not single.exists and single.estimate == pytest.approx(2.5) and math.isnan(single.low)
    over_tasks = random_task_interval(differences)
    assert over_tasks.df == 1 and over_tasks.low < 4.0 < over_tasks.high


def test_the_file_bootstrap_resamples_test_files_within_classes_for_both_sides_at_once():
    labels = ["x", "x", "y", "y", "y"]
    right = {"task": "a", "labels": labels, "a": labels, "b": ["y", "x", "x", "x", "y"]}  # B: recall 1/2 and 1/3
    check = file_bootstrap_interval([right], resamples=200, seed=1)
    assert check.estimate == pytest.approx(100 - 100 * (0.5 + 1 / 3) / 2)
    assert check.low < check.estimate < check.high
    same = file_bootstrap_interval([{**right, "b": labels}], resamples=200)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)  # paired: the same files for A and B
    assert file_bootstrap_interval([right], seed=1).low == file_bootstrap_interval([right], seed=1).low
    with pytest.raises(EvalkitError, match="resamples"):
        file_bootstrap_interval([right], resamples=5)


def test_the_max_t_interval_of_a_best_of_several_is_wider_than_its_own():
    rng = np.random.default_rng(4)
    candidates = {k: pd.DataFrame({"task": np.repeat(np.arange(6), 3), "repetition": np.tile(np.arange(3), 6),
                                   "difference": rng.normal(0, 3, 18), "test_train_ratio": 0.25}) for k in range(12)}
    together, alone = max_t_intervals(candidates, seed=1), resampled_t_interval(candidates[0])
    assert together[0].estimate == pytest.approx(alone.estimate)
    assert together[0].high - together[0].low > 1.5 * (alone.high - alone.low)
    assert max_t_intervals(candidates, seed=1)[0].low == together[0].low


def test_holm_steps_down_and_ignores_claims_without_a_test():
    assert holm([0.01, 0.04, math.nan, 0.03]) == [True, False, False, False]  # 0.01 ≤ 0.05/3; 0.03 > 0.05/2
    assert holm([0.01, 0.02, 0.024]) == [True, True, True]  # 0.01 ≤ 0.05/3, 0.02 ≤ 0.05/2, 0.024 ≤ 0.05
    with pytest.raises(EvalkitError, match="family_error"):
        holm([0.1], family_error=0)


def test_the_claims_share_their_error_rate_so_two_claims_at_p_3_percent_stay_inconclusive():
    def pending(p, estimate=1.0):
        return Finding("pending", "e", estimate, p=p)
    rules = [Rule("greater")] * 3
    alone = family_verdicts([pending(0.03), Finding("not testable", "r"), Finding("no verdict", "r")], rules)
    assert [f.verdict for f in alone] == ["holds", "not testable", "no verdict"]
    together = family_verdicts([pending(0.03), pending(0.03), pending(0.001, -2.0)], rules)
    assert [f.verdict for f in together] == ["inconclusive", "inconclusive", "does not hold"]


# ------------------------------------------------------------------------------------------------
# Each claim on hand-made tables


def test_every_claim_quotes_the_authors_and_states_its_rule():
    claims = check_claims({})
    source = open("data/reference/claims_source.md", encoding="utf-8").read()
    assert len(CLAIMS) == 7 and claims["rule"].str.contains("points").all()
    for claim in CLAIMS:
        assert claim.quote in source and claim.source
    assert (claims["holds here"] == "not testable").all()


@pytest.mark.parametrize("shift, noise, expected", [
    (0.2, 0.3, "holds"), (6.0, 0.3, "does not hold"), (-6.0, 0.3, "does not hold"), (1.5, 4.0, "inconclusive"),
])
def test_comparable_is_equivalence_not_non_inferiority(shift, noise, expected):
    tables = {"I": table(base(REF), rows("emb", "svm", shifted(REF, shift, noise)))}
    assert verdict("comparable to the baseline with 80 % data", tables) == expected


def test_the_named_configuration_is_compared_not_the_best():
    tables = {"II": table(base(REF), rows("emb", "svm", shifted(REF, -5, 0.3)), rows("emb2", "svm", shifted(REF, 9)))}
    result = found("better than the baseline with 10 % data", tables)
    assert result["holds here"] == "does not hold" and result["estimate"] < 0 and "emb · SVM" in result["this profile"]
    assert "chosen after looking: the best of 2 pre-trained configurations, emb2 · SVM" in result["this profile"]
    assert verdict("better than the baseline with 10 % data", tables, roles={}) == "not testable"


def test_stored_per_file_predictions_add_the_test_file_check():
    def with_predictions(frame_rows, wrong):
        files = [{"file": f"f{i}", "label": "xy"[i % 2]} for i in range(10)]
        return [{**r, "predictions": [{**f, "predicted": "yx"[i % 2] if i < wrong else f["label"]}
                                      for i, f in enumerate(files)]} for r in frame_rows]
    tables = {"I": table(with_predictions(base(REF), 3), with_predictions(rows("emb", "svm", shifted(REF, 0.5, 0.3)), 2))}
    evidence = found("comparable to the baseline with 80 % data", tables)["this profile"]
    assert "test files alone move it within [" in evidence


def test_one_repetition_gives_no_verdict_whatever_the_difference():
    one = [[70], [60]]
    tables = {"I": table(base(one), rows("emb", "svm", shifted(one, 0))),
              "II": table(base(one), rows("emb", "svm", shifted(one, 25)))}
    claims = check_claims(tables, DOMAINS, roles=ROLES).set_index("claim")
    assert set(claims.loc[["comparable to the baseline with 80 % data", "better than the baseline with 10 % data"],
                          "holds here"]) == {"no verdict"}
    assert "no interval" in claims.loc["better than the baseline with 10 % data", "this profile"]


def test_better_than_every_other_embedding_needs_each_comparison():
    tables = {"I": table(rows("emb", "svm", shifted(REF, 5)), rows("emb2", "svm", shifted(REF, 1, 0.3)),
                         rows("mfcc", "svm", shifted(REF, 30)))}  # handcrafted MFCC is no "other embedding"
    assert verdict("better than the other embeddings", tables) == "holds"
    tables["I"] = table(rows("emb", "svm", shifted(REF, 5)), rows("emb2", "svm", shifted(REF, 9, 0.3)))
    assert verdict("better than the other embeddings", tables) == "does not hold"


def test_svm_best_compares_the_named_embedding_with_each_dense_network():
    tables = {"I": table(rows("emb", "svm", shifted(REF, 3)), rows("emb", "d128", shifted(REF, 0, 0.3)),
                         rows("emb", "d512", shifted(REF, 1, 0.3, 1)))}
    assert verdict("best with a linear SVM", tables) == "holds"
    assert verdict("best with a linear SVM", {"I": table(rows("emb", "svm", REF))}) == "not testable"


def test_late_vs_early_averages_over_every_configuration_and_leaves_out_task_6():
    tasks, ref = TASKS + ["D6"], REF + [[50, 51, 52, 53, 54]]
    late = [rows("emb", "svm", shifted(ref, 3, 0.3, 1), tasks=tasks),
            rows("emb", "d128", shifted(ref, 3, 0.3, 2), tasks=tasks),
            rows("emb2", "svm", shifted(ref, 2, 0.3, 3)[:4] + [[95] * 5], tasks=tasks)]
    early = [rows(label, c, ref, fusion="early", tasks=tasks) for label, c in [("emb", "svm"), ("emb", "d128"),
                                                                               ("emb2", "svm")]]
    result = found("late beats early fusion", {"III": table(*late, *early)})
    assert result["holds here"] == "holds" and "all 3" in result["this profile"]
    assert result["estimate"] == pytest.approx((3 + 3 + 2) / 3, abs=0.3)  # D6's +43 of emb2 is left out
    one_frame = [rows("emb", "svm", shifted(REF, 3), frames_per_file=1),
                 rows("emb", "svm", REF, fusion="early", frames_per_file=1)]
    assert verdict("late beats early fusion", {"III": table(*one_frame)}) == "not testable"


def test_training_content_is_directional_and_oriented_by_domain_not_by_order():
    env_first = {"IV": table(rows("env", "svm", shifted(REF, -4, 0.3)), rows("emb", "svm", REF))}
    result = found("music beats environmental training", env_first)
    assert result["holds here"] == "holds" and result["estimate"] == pytest.approx(4, abs=0.5)
    same = {"IV": table(rows("emb", "svm", REF), rows("emb2", "svm", shifted(REF, -1)))}
    assert verdict("music beats environmental training", same) == "not testable"


def test_a_pair_that_differs_in_more_than_the_claims_factor_is_not_testable():
    musicnn = {"network": "musicnn", "sample rate": 16000, "window": 1.0, "dim": 200, "model": "MTT", "layer": "p"}
    birdnet = {"network": "birdnet", "sample rate": 48000, "window": 3.0, "dim": 1024}
    maxpool = {**musicnn, "dim": 753, "layer": "max_pool"}
    descriptors = {"emb": musicnn, "env": birdnet, "emb2": maxpool}
    content = {"IV": table(rows("emb", "svm", REF), rows("env", "svm", shifted(REF, -4, 0.3)))}
    result = found("music beats environmental training", content, descriptors=descriptors)
    assert result["holds here"] == "not testable" and "network (musicnn vs. birdnet)" in result["this profile"]
    size = {"V": table(rows("emb", "svm", REF), rows("emb2", "svm", shifted(REF, 4, 0.3)))}
    result = found("larger is better, at a cost", size, descriptors=descriptors)
    assert result["holds here"] == "not testable" and "layer (p vs. max_pool)" in result["this profile"]
    larger = {**descriptors, "emb2": {**musicnn, "dim": 800}}
    result = found("larger is better, at a cost", size, descriptors=larger)
    assert result["holds here"] == "holds" and "cost: extraction" in result["this profile"]
    task_1 = {"V": table(rows("emb", "svm", REF), rows("emb2", "svm", [[95] * 5] + shifted(REF, 4, 0.3)[1:]))}
    assert found("larger is better, at a cost", task_1, descriptors=larger)["estimate"] == pytest.approx(4, abs=0.5)
    assert confounds(musicnn, {**musicnn, "model": "MSD"}, factor={"model"}) == []


def test_the_size_claim_shows_the_gain_beside_the_measured_extraction_cost_of_both_embeddings():
    from evalkit.embed.costs import ExtractionCost

    musicnn = {"network": "musicnn", "sample rate": 16000, "window": 1.0, "dim": 200, "model": "MTT", "layer": "p"}
    larger = {"emb": musicnn, "emb2": {**musicnn, "dim": 800}}
    size = {"V": table(rows("emb", "svm", REF), rows("emb2", "svm", shifted(REF, 4, 0.3), fit_seconds=3.0))}
    costs = {"emb": ExtractionCost(seconds=2.0, audio_seconds=400.0, measured=40, files=40),
             "emb2": ExtractionCost(seconds=9.0, audio_seconds=300.0, measured=30, files=40)}
    result = check_claims(size, DOMAINS, roles=ROLES, descriptors=larger, costs=costs).set_index("claim").loc[
        "larger is better, at a cost"]
    line = result["this profile"]
    assert "A 0.03 s per audio-second (measured on 30 of 40 files), B 0.005 s per audio-second" in line
    assert "A/B = 6.00" in line and "classifier training 3.00 s (A) vs. 1.00 s (B) per run" in line
    assert f"difference {result['estimate']:+.1f} points" in line and result["estimate"] == pytest.approx(4, abs=0.5)
    assert line.index("A/B = 6.00") < line.index("difference")  # the cost beside the gain, in one line
    unmeasured = {"emb": ExtractionCost(0.0, 0.0, 0, 40)}  # cached before costs were recorded; emb2 not asked
    line = found("larger is better, at a cost", size, descriptors=larger)["this profile"]
    assert "A not measured, B not measured" in line and "A/B" not in line
    line = check_claims(size, DOMAINS, roles=ROLES, descriptors=larger, costs=unmeasured)["this profile"].iloc[-1]
    assert "A not measured, B not measured" in line
    layers = {"emb": musicnn, "emb2": {**musicnn, "dim": 800, "layer": "max_pool"}}
    result = check_claims(size, DOMAINS, roles=ROLES, descriptors=layers, costs=costs).set_index("claim").loc[
        "larger is better, at a cost"]
    assert result["holds here"] == "not testable" and "A/B = 6.00" in result["this profile"]


def test_the_published_side_shows_the_papers_numbers_against_each_sentence():
    claims = check_claims({}).set_index("claim")
    assert claims["paper"].str.contains("published means, no interval").all()
    assert "OSVM 91.3" in claims.loc["comparable to the baseline with 80 % data", "paper"]
    assert "(music) 91.3" in claims.loc["music beats environmental training", "paper"]
    assert "tasks other than task 1" in claims.loc["larger is better, at a cost", "paper"]


# ------------------------------------------------------------------------------------------------
# Calibration: simulated paired runs with known truth


def simulate_differences(rng, *, tasks=6, repetitions=3, configurations=12, sigma=3.0, heterogeneity=1.0,
                         test_share=0.2, train_share=0.8):
    """Paired differences (configuration − baseline) of ``configurations`` configurations that are all, on average
    over these tasks, exactly as good as the baseline: task effects that differ by task but sum to zero, and
    repetitions that share a split component (correlation n_test / (n_test + n_train), as Nadeau & Bengio model
    overlapping training sets)."""
    correlation = test_share / (test_share + train_share)
    effects = rng.normal(0, heterogeneity, (configurations, tasks))
    effects -= effects.mean(axis=1, keepdims=True)
    shared = rng.normal(0, sigma * math.sqrt(correlation), (configurations, tasks, 1))
    noise = rng.normal(0, sigma * math.sqrt(1 - correlation), (configurations, tasks, repetitions))
    return effects[:, :, None] + shared + noise, test_share / train_share


def bootstrap_low(d, rng, resamples=500):
    """The lower end of the two-stage bootstrap interval (tasks, then repetitions) of the rule before issue 23."""
    tasks, reps = d.shape
    inner = d[np.arange(tasks)[None, :, None], rng.integers(0, reps, (resamples, tasks, reps))].mean(axis=2)
    chosen = rng.integers(0, tasks, (resamples, tasks))
    return np.percentile(inner[np.arange(resamples)[:, None], chosen].mean(axis=1), 2.5)


def as_frame(d, ratio):
    tasks, reps = d.shape
    return pd.DataFrame({"task": np.repeat(np.arange(tasks), reps), "repetition": np.tile(np.arange(reps), tasks),
                         "difference": d.ravel(), "test_train_ratio": ratio})


def test_a_false_holds_happens_at_most_at_the_stated_rate_and_todays_rule_fails_this_test():
    """Under the null (every configuration as good as the baseline), "configuration − baseline > 0 holds" may be
    declared in at most 2.5 % of runs (one side of a 95 % interval). The rule before issue 23 (best of 12 chosen on
    the same runs, two-stage bootstrap) declares it far more often."""
    rng = np.random.default_rng(23)
    simulations = 1000
    old = new = 0
    for _ in range(simulations):
        d, ratio = simulate_differences(rng)
        best = int(np.argmax(d.mean(axis=(1, 2))))
        old += bootstrap_low(d[best], rng) > 0
        new += resampled_t_interval(as_frame(d[0], ratio)).low > 0  # the configuration named beforehand
    allowed = 0.025 + 3 * math.sqrt(0.025 * 0.975 / simulations)
    assert new / simulations <= allowed, f"false holds {new / simulations:.3f} > {allowed:.3f}"
    assert old / simulations > allowed, f"the old rule's false holds {old / simulations:.3f} passed"
    print(f"false holds: today's rule {old / simulations:.3f}, the new rule {new / simulations:.3f} (allowed {allowed:.3f})")


def test_a_profiles_extraction_costs_come_from_its_cache_entries_without_extracting(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from conftest import write_tone_task
    from evalkit.book.claims import extraction_costs
    from evalkit.data.tasks import FolderTask
    from evalkit.embed.cache import extract_embeddings
    from evalkit.embed.handcrafted import MFCCExtractor

    monkeypatch.setenv("EVALKIT_DATA", str(tmp_path / "data"))
    task = FolderTask.from_folder(write_tone_task(tmp_path / "task", groups=2, files_per_group=1, duration=1.5))
    extractors = {"small": MFCCExtractor(n_mfcc=13), "large": MFCCExtractor()}
    profile = SimpleNamespace(tasks=[str(task.root)], task=lambda _: task, extractor=extractors.__getitem__)
    extract_embeddings([f.path for f in task.files()], extractors["large"], progress=False)  # the default cache
    costs = extraction_costs(profile, ["small", "large"])
    assert (costs["large"].measured, costs["large"].files) == (6, 6)
    assert costs["large"].audio_seconds == pytest.approx(6 * 1.5) and costs["large"].per_audio_second > 0
    assert costs["small"].text() == "not measured"
    assert len(list((tmp_path / "data").rglob("*.npz"))) == 6  # nothing was extracted for the small one
    assert extraction_costs(profile, []) == {}
