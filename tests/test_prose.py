"""The sentences with numbers (evalkit.book.prose): written from a page's values, with or without a baseline."""
from __future__ import annotations

from evalkit.book import prose

NAN = float("nan")


def test_detailed_results_name_best_weakest_and_baseline():
    values = {"detailed_classifier": "SVM", "detailed_fraction": 80.0, "detailed_best": "musicnn-msd",
              "detailed_best_avg": 71.25, "detailed_worst": "mfcc", "detailed_worst_avg": 58.0,
              "detailed_baseline_avg": 60.04, "detailed10_best": "musicnn-mtt", "detailed10_best_avg": 55.0,
              "detailed10_baseline_avg": NAN}
    text = prose.detailed(values, repetitions=3)
    assert "best embedding on average is **musicnn-msd** with 71.2 %" in text["average"]
    assert "weakest is mfcc with 58.0 %" in text["average"] and "baseline CNN reaches 60.0 %" in text["average"]
    assert "over 3 repetitions" in text["average"]
    assert text["small"] == "Here the best embedding on average is **musicnn-mtt** with 55.0 %."  # no baseline: no word
    values.update(detailed_worst="musicnn-msd", detailed_baseline_avg=NAN)
    assert "the only embedding, **musicnn-msd**, reaches 71.2 %" in prose.detailed(values, 1)["average"]


def test_detailed_results_rank_pre_trained_embeddings_and_name_the_handcrafted_reference():
    values = {"detailed_classifier": "SVM", "detailed_fraction": 80.0, "detailed_kind": "pre-trained embedding",
              "detailed_best": "birdnet", "detailed_best_avg": 85.7, "detailed_worst": "speech",
              "detailed_worst_avg": 70.0, "detailed_baseline_avg": 83.9, "detailed10_fraction": 5.0,
              "detailed10_best": "musicnn", "detailed10_best_avg": 73.8, "detailed10_baseline_avg": 74.0}
    text = prose.detailed(values, repetitions=3, references={"mfcc": (80.1, 75.5)})
    assert "the best pre-trained embedding on average is **birdnet** with 85.7 %" in text["average"]
    assert "The handcrafted reference mfcc reaches 80.1 %." in text["average"]
    assert text["small"] == ("Here the best pre-trained embedding on average is **musicnn** with 73.8 %, and the "
                             "baseline reaches 74.0 %; the handcrafted reference mfcc reaches 75.5 %.")
    assert text["summary"] == ("With 80 % training data and a linear SVM, the best pre-trained embedding is "
                               "**birdnet**, at 85.7 % on average. The baseline CNN reaches 83.9 %. With 5 %, the best is "
                               "**musicnn**, at 73.8 %, and the baseline reaches 74.0 %.")
    values.update(detailed_classifier="D512", detailed_baseline_avg=NAN, detailed10_baseline_avg=NAN)
    summary = prose.detailed(values, repetitions=3)["summary"]
    assert summary.startswith("With 80 % training data and a network with one dense hidden layer of 512 units, the")
    assert "baseline" not in summary and "handcrafted" not in prose.detailed(values, 3)["average"]


def test_tables_say_when_a_table_is_not_defined_and_demo_wording_only_on_the_demo():
    values = {f"tab{t}_{k}": v for t in ("I", "II", "III", "IV", "V")
              for k, v in (("best", "–"), ("best_avg", NAN), ("baseline", NAN))}
    values.update(tabI_best="a · SVM", tabI_best_avg=80.0, tabI_baseline=70.0, tabIV_pair="x vs. y", tabV_pair="–")
    demo, own = prose.tables(values, is_demo=True), prose.tables(values, is_demo=False)
    assert demo["I"] == "The best row on average is **a · SVM** with 80.0 %, and the baseline reaches 70.0 %."
    assert demo["II"] == "This profile does not define this table." and own["V"] == "This profile does not define Table V."
    assert "demo profile" in demo["IV"] and "demo" not in own["IV"] and "**x vs. y**" in own["IV"]


def test_learning_curve_mentions_the_baseline_only_when_there_is_one():
    values = {"lc_fractions": "10, 40 and 80 %", "lc_smallest": 10.0, "lc_best_small": "mfcc",
              "lc_best_small_value": 40.0, "lc_baseline_small_value": NAN, "lc_gap_small": NAN,
              "lc_summary": "this profile's learning curve has no baseline"}
    text = prose.curve(values)
    assert "baseline CNN" not in text["shares"] and "against" not in text["average"]
    values.update(lc_baseline_small_value=30.0, lc_gap_small=10.0)
    assert "against 30.0 % for the baseline (a gap of 10.0 points)" in prose.curve(values)["average"]
    assert prose.curve(values)["shares"].startswith("Every embedding of the learning curve and the baseline CNN are "
                                                    "trained on 10, 40 and 80 % of the data")
    values.update(lc_best_small_handcrafted=1)  # MFCC is named as what it is, not as an embedding
    assert prose.curve(values)["average"].startswith("With only 10 % of the data, the best row is **mfcc**, "
                                                     "handcrafted features (not a pre-trained embedding), with 40.0 %")
    values.update(lc_baseline_fractions="10 and 80 %")  # the CNN at some shares only: the page says which
    shares = prose.curve(values)["shares"]
    assert shares.startswith("Every embedding of the learning curve is trained on 10, 40 and 80 %")
    assert "The baseline CNN is trained on 10 and 80 % only" in shares


def test_detailed_results_name_the_classifier_and_say_when_there_is_no_baseline():
    values = {"detailed_classifier": "D128", "detailed_fraction": 80.0, "detailed_best": "mfcc",
              "detailed_best_avg": 71.25, "detailed_worst": "mfcc", "detailed_worst_avg": 71.25,
              "detailed_baseline_avg": NAN, "detailed10_best": "mfcc", "detailed10_best_avg": 55.0,
              "detailed10_baseline_avg": NAN}
    setup = prose.detailed(values, repetitions=2)["setup"]
    assert setup.startswith("Here the classifier is a network with one dense hidden layer of 128 units (D128)")
    assert "mean over 2 repetitions" in setup and "trains no CNN baseline" in setup
    values.update(detailed_classifier="SVM", detailed_baseline_avg=60.0)
    setup = prose.detailed(values, repetitions=1)["setup"]
    assert "a linear SVM" in setup and "over 1 repetition." in setup and "dark bar is the CNN baseline" in setup


def test_learning_curve_says_which_shares_were_left_out_and_its_repetitions():
    values = {"lc_smallest": 10.0, "lc_fractions": "10, 40 and 80 %", "lc_best_small": "mfcc",
              "lc_best_small_value": 60.0, "lc_baseline_small_value": NAN, "lc_summary": "no baseline",
              "lc_gap_small": NAN, "lc_left_out": "5 %", "lc_reps": 2, "lc_table_reps": 3}
    shares = prose.curve(values)["shares"]
    assert "The shares of 5 % are left out: they leave some class" in shares
    assert "Each point is the mean over 2 repetitions (the results tables use 3" in shares
    values.update(lc_left_out="", lc_table_reps=2)
    shares = prose.curve(values)["shares"]
    assert "left out" not in shares and shares.endswith("Each point is the mean over 2 repetitions.")


def test_teaching_answer_on_less_data_with_and_without_the_cnn():
    values = {"teach_small": 10.0, "teach_small_ours": 70.0, "teach_small_cnn": 40.0}
    text = prose.teaching(values, label="SVM on musicnn", chance=25.0)["less_data"]
    assert "the SVM on musicnn reaches 70.0 % and the CNN trained from scratch 40.0 %; chance is 25.0 %" in text
    text = prose.teaching({**values, "teach_small_cnn": NAN}, label="SVM on mfcc", chance=25.0)["less_data"]
    assert "This run trains no CNN from scratch" in text and "nan" not in text


def test_teaching_answer_says_when_the_cnn_is_level_or_ahead():
    values = {"teach_small": 10.0, "teach_small_ours": 70.0, "teach_small_cnn": 40.0}
    assert "features learned from a large collection" in prose.teaching(values, label="SVM", chance=25.0)["less_data"]
    level = prose.teaching({**values, "teach_small_cnn": 70.5}, label="SVM", chance=25.0)["less_data"]
    behind = prose.teaching({**values, "teach_small_cnn": 80.0}, label="SVM", chance=25.0)["less_data"]
    assert "level with the CNN" in level and "behind the CNN" in behind
    assert "large collection" not in level + behind


def test_claims_summary_counts_agree_with_their_numbers_and_a_demo_says_what_its_verdicts_mean():
    counts = {"holds": 1, "does not hold": 0, "inconclusive": 2, "no verdict": 3, "not testable": 1}
    text = prose.claims_summary(counts)
    assert "1 holds, 0 do not hold, 2 are inconclusive, 3 get no verdict" in text and "1 cannot be tested" in text
    assert "Holm" in text and "neither evidence" not in text
    demo = prose.claims_summary({**counts, "no verdict": 0}, stand_ins="musicnn-mtt with svm")
    assert "no verdict" not in demo and "musicnn-mtt with svm" in demo and "neither evidence for nor against" in demo


def test_table_iii_names_the_embeddings_whose_late_and_early_fusion_coincide():
    import pandas as pd

    from evalkit.book.verdicts import one_frame_embeddings

    runs = pd.DataFrame({"label": ["birdnet", "birdnet", "musicnn", "musicnn", "baseline"],
                         "kind": ["embedding"] * 4 + ["baseline"], "n_train_files": [80, 80, 80, 80, 80],
                         "n_train_frames": [80, 80, 240, 80, 80]})
    assert one_frame_embeddings(runs) == ["birdnet"]  # musicnn has several frames in one run; the CNN is no embedding
    assert one_frame_embeddings(runs.drop(columns="n_train_frames")) == []  # results that do not say
    values = {f"tab{t}_{k}": v for t in ("I", "II", "III", "IV", "V")
              for k, v in (("best", "–"), ("best_avg", NAN), ("baseline", NAN))}
    values.update(tabIII_best="birdnet · SVM · early", tabIII_best_avg=87.0, tabIV_pair="–", tabV_pair="–",
                  tabIII_one_frame="birdnet")
    text = prose.tables(values, is_demo=True)["III"]
    assert "birdnet gives one frame per file here" in text and "same results" in text
    assert "one frame" not in prose.tables({**values, "tabIII_one_frame": ""}, is_demo=True)["III"]


def test_baseline_curves_say_how_each_run_ended():
    values = {"bl_n_configs": 2, "bl_epochs_mean": 41.0, "bl_epochs_max": 50.0, "bl_runs": 6, "bl_at_limit": 0,
              "bl_unvalidated": 0}
    assert "every run ended by early stopping" in prose.baseline(values)["curves"]
    text = prose.baseline({**values, "bl_at_limit": 2})["curves"]
    assert "2 of 6 runs ended at the epoch limit" in text and "4 of 6 runs ended by early stopping" in text
    text = prose.baseline({**values, "bl_unvalidated": 6})["curves"]  # a small data set: no validation set at all
    assert "6 of 6 runs had too few training recordings" in text and "early stopping" not in text


def test_the_teaching_page_says_how_its_cnn_run_ended():
    assert "too few of them to hold out validation" in prose.training_end(validated=False, at_limit=False, limit=50)
    assert "limit of 1 epoch, not by early stopping" in prose.training_end(validated=True, at_limit=True, limit=1)
    assert prose.training_end(validated=True, at_limit=False, limit=50).startswith("Training stopped early")
