"""training/tables.yaml against the protocols the pipeline defines: every protocol in exactly one place, every row's
folds real, every published number on a metric we compute, and run names that expand as docs/results.md says."""
from __future__ import annotations

import pytest

from pipeline.cross import load_cross
from pipeline.datasets import DATASETS
from pipeline.errors import UsageError
from pipeline.protocols import load_spec
from training.aggregate import METRICS
from training.tables import RunName, load_tables


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_protocol_is_a_fold_of_one_row_or_stands_alone(dataset):
    table = load_tables().dataset(dataset)
    defined = set(load_spec(dataset).protocols)
    assert sorted(table.protocols) == sorted(defined)  # each exactly once (tables.py refuses a fold in two rows)
    for row in table.rows:
        assert row.has_folds or row.protocol in defined, row


def test_published_numbers_are_on_metrics_we_compute_and_cite_a_source():
    tables = load_tables()
    assert set(tables.datasets) >= set(DATASETS)
    for table in tables.datasets.values():
        assert set(table.columns) <= set(METRICS), table.name
        for result in table.published:
            assert result.source in tables.sources
            for cells in result.values.values():
                assert set(cells) <= set(METRICS), (table.name, result.method)
    for source in tables.sources.values():
        assert {"cite", "reported", "checked"} <= set(source)


@pytest.mark.parametrize("name, folds", [
    ("oulu-3", ["3_1", "3_2", "3_3", "3_4", "3_5", "3_6"]),
    ("oulu-3_2", ["3_2"]),
    ("oulu-all", ["all"]),  # defined, but no row of the papers' table: it stands alone
    ("cefa-5", ["5"]),
    ("siw", ["1", "2_1", "2_2", "2_3", "2_4", "3_1", "3_2"]),  # a dataset alone: every row of its table
])
def test_run_names_stand_for_the_folds_of_a_row(name, folds):
    assert RunName.parse(name).folds() == folds
    assert str(RunName.parse(name)) == name


@pytest.mark.parametrize("name, message", [
    ("olu-3", "unknown dataset 'olu'; did you mean oulu?"),
    ("oulu-3_7", "oulu has no protocol '3_7'"),
    ("oulu-", "expected <dataset>-<protocol>"),
])
def test_unknown_run_names_are_refused(name, message):
    with pytest.raises(UsageError, match=message):
        RunName.parse(name).folds()


def test_the_cross_dataset_table_has_a_row_for_each_cross_protocol():
    assert [row.protocol for row in load_tables().dataset("cross").rows] == list(load_cross())
