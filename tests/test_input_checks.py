"""hf_sched.finetune.input_checks: the checks both recipes share, each with its one line."""

from __future__ import annotations

import math
import os

import pytest

from hf_sched.finetune import input_checks as checks


@pytest.mark.parametrize("call,expected", [
    (lambda: checks.check_positive_number("--learning_rate", math.nan), "argument --learning_rate: got nan; it must be a finite number > 0"),
    (lambda: checks.check_positive_number("--learning_rate", 0.0), "argument --learning_rate: got 0.0; it must be a finite number > 0"),
    (lambda: checks.check_non_negative_number("--weight_decay", -0.1), "argument --weight_decay: got -0.1; it must be a finite number >= 0"),
    (lambda: checks.check_count("--max_train_samples", 0, unset="all examples"),
     "argument --max_train_samples: got 0; it must be a whole number >= 1 (or leave it out: all examples)"),
    (lambda: checks.check_count("--max_length", 4, 8), "argument --max_length: got 4; it must be a whole number >= 8"),
    (lambda: checks.check_fraction("--validation_split", 1.0), "argument --validation_split: got 1.0; it must be strictly between 0 and 1"),
    (lambda: checks.check_text_columns("--text_columns", []), "argument --text_columns: got 0 columns []; give one (single texts) or two (text pairs)"),
    (lambda: checks.check_model("--model", "./no/such/model"),
     "argument --model: './no/such/model' does not exist; give a local model directory (with config.json) or a Hub id like 'bert-base-uncased'"),
    (lambda: checks.check_resume_path("--resume_from_checkpoint", "nowhere", latest=False),
     "argument --resume_from_checkpoint: 'nowhere' is not a directory; give a checkpoint folder"),
    (lambda: checks.check_auto_warmup_optimizer("auto", "adafactor"),
     "argument --warmup: 'auto' is 2 / (1 - beta2) steps of an Adam-family optimizer, but --optim adafactor has no beta2; "
     "give the warmup in steps (100), a ratio (0.1) or a percentage ('10%'), or an AdamW --optim"),
    (lambda: checks.check_mixed_precision("--mixed_precision", "fp8", has_gpu=False),
     "argument --mixed_precision: got 'fp8', which needs a GPU with fp8 support (and transformer-engine or torchao); this machine has none: use bf16 or no"),
    (lambda: checks.check_planned_steps(checks.MAX_STEPS_PLANNED + 1, "--num_epochs 1e9"),
     "--num_epochs 1e9 gives 1,000,000,001 optimizer steps, more than the 1,000,000,000 this recipe plans (years of training); give fewer epochs or --max_steps"),
])
def test_each_check_refuses_in_one_line(call, expected):
    with pytest.raises(ValueError) as refused:
        call()
    assert str(refused.value) == expected


def test_good_values_pass():
    checks.check_positive_number("--learning_rate", 5e-5)
    checks.check_count("--max_train_samples", None, unset="all examples")
    checks.check_text_columns("--text_columns", ["question", "answer"])
    checks.check_model("--model", "bert-base-uncased")  # a Hub id is not checked here
    checks.check_resume_path("--resume_from_checkpoint", "latest")
    checks.check_auto_warmup_optimizer("auto", "adamw_torch_fused")
    checks.check_mixed_precision("--mixed_precision", "bf16", has_gpu=False)
    checks.check_planned_steps(checks.MAX_STEPS_PLANNED, "--max_steps")


def test_the_output_dir_is_checked_for_what_the_run_will_do(tmp_path):
    checks.check_output_dir("--output_dir", str(tmp_path / "new" / "deeper"))  # made by the run
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"argument --output_dir: '.*file' is a file; give a directory"):
        checks.check_output_dir("--output_dir", str(tmp_path / "file"))
    if os.geteuid() != 0:  # root writes anywhere: the read-only case needs another user
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        with pytest.raises(ValueError, match=r"cannot write to '.*locked/out' \(its parent '.*locked' is read-only"):
            checks.check_output_dir("--output_dir", str(locked / "out"))


def test_an_arguments_file_is_read_as_json_or_yaml_and_must_hold_an_object(tmp_path):
    (tmp_path / "a.json").write_text('{"max_steps": 5}')
    (tmp_path / "a.yml").write_text("max_steps: 5\n")
    assert checks.read_args_file(str(tmp_path / "a.json")) == checks.read_args_file(str(tmp_path / "a.yml")) == {"max_steps": 5}
    (tmp_path / "bad.yaml").write_text("a: [1\n")
    with pytest.raises(ValueError, match=r"bad.yaml is not valid YAML: "):
        checks.read_args_file(str(tmp_path / "bad.yaml"))
    (tmp_path / "n.json").write_text("5")
    with pytest.raises(ValueError, match=r"n.json holds a JSON int; it must hold one object of arguments"):
        checks.read_args_file(str(tmp_path / "n.json"))
