"""DeepSpeed's "scheduler" and "optimizer" blocks: one rule in SchedTrainingArguments and in the Accelerate recipe.

DeepSpeed is not installed here: the check reads the config only, and runs before transformers
imports DeepSpeed (so a refused config fails with hf_sched's line, and an accepted one goes on to
transformers, which then asks for the deepspeed package). The real ZeRO runs live in the
``[deepspeed]`` venv (tests/scripts/deepspeed_check.py).
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError

import pytest
from transformers import HfArgumentParser

from hf_sched.deepspeed_config import RECIPE_KEEP, deepspeed_problem, load_deepspeed_config
from hf_sched.integrations.transformers import SchedTrainingArguments

SCHEDULER = {"type": "WarmupDecayLR", "params": {"warmup_num_steps": "auto", "total_num_steps": "auto"}}
REFUSAL = (
    "the DeepSpeed config has a \"scheduler\" block (WarmupDecayLR) while lr_scheduler_type='warmupcosine' is set: "
    "DeepSpeed's WarmupDecayLR would schedule the LR and 'warmupcosine' would be ignored in silence. Remove the "
    "\"scheduler\" block to train on 'warmupcosine', or pass --deepspeed_scheduler true (deepspeed_scheduler=True) "
    "to let DeepSpeed's WarmupDecayLR schedule the LR"
)


def _args(**kw):
    return SchedTrainingArguments(output_dir="unused_out", report_to=[], **kw)


def test_trainer_refuses_a_scheduler_block_with_warmupcosine(tmp_path):
    config = tmp_path / "ds.json"
    config.write_text(json.dumps({"train_batch_size": "auto", "scheduler": SCHEDULER}))
    with pytest.raises(ValueError) as err:
        HfArgumentParser(SchedTrainingArguments).parse_args_into_dataclasses(
            ["--output_dir", str(tmp_path), "--report_to", "none", "--deepspeed", str(config),
             "--lr_scheduler_type", "warmupcosine", "--warmup_ratio", "0.1"])
    assert str(err.value) == REFUSAL
    with pytest.raises(ValueError, match="^" + REFUSAL.replace("(", r"\(").replace(")", r"\)") + "$"):
        _args(deepspeed={"scheduler": SCHEDULER}, lr_scheduler_type="warmupcosine")


def test_deepspeed_scheduler_true_lets_the_block_win():
    # accepted by hf_sched: transformers goes on and wants the deepspeed package, absent here
    with pytest.raises(PackageNotFoundError, match="deepspeed"):
        _args(deepspeed={"scheduler": SCHEDULER}, lr_scheduler_type="warmupcosine", deepspeed_scheduler=True)
    assert deepspeed_problem({"scheduler": SCHEDULER}, lr_scheduler_type="warmupcosine", learning_rate=1e-4,
                             deepspeed_scheduler=True) is None


def test_deepspeed_scheduler_true_without_a_block_is_refused():
    with pytest.raises(ValueError, match=r"^deepspeed_scheduler=True but the DeepSpeed config has no \"scheduler\" "
                                         r"block: nothing would schedule the LR"):
        _args(deepspeed={"train_batch_size": 8}, deepspeed_scheduler=True)
    with pytest.raises(ValueError, match=r"^deepspeed_scheduler=True needs a DeepSpeed config"):
        _args(deepspeed_scheduler=True)


def test_a_config_without_blocks_goes_on_to_transformers():
    with pytest.raises(PackageNotFoundError, match="deepspeed"):
        _args(deepspeed={"train_batch_size": "auto"}, lr_scheduler_type="warmupcosine")


@pytest.mark.parametrize("lr, refused", [("auto", False), (1e-4, False), (3e-5, True)])
def test_optimizer_block_lr_must_be_the_reported_peak(lr, refused):
    config = {"optimizer": {"type": "AdamW", "params": {"lr": lr}}}
    problem = deepspeed_problem(config, lr_scheduler_type="warmupcosine", learning_rate=1e-4)
    if not refused:
        assert problem is None
        return
    assert problem == (
        "the DeepSpeed config's \"optimizer\" block (AdamW) sets lr=3e-05 but learning_rate=0.0001: DeepSpeed would "
        "train at 3e-05 while 0.0001 is reported. Set the block's \"lr\" to \"auto\" (it then takes learning_rate) "
        "or give the same value to both")
    with pytest.raises(ValueError, match=r"sets lr=3e-05 but learning_rate=0.0001"):
        _args(deepspeed=config, learning_rate=1e-4, lr_scheduler_type="warmupcosine")


def test_recipe_rule_same_line_with_its_own_way_out():
    problem = deepspeed_problem({"scheduler": SCHEDULER}, lr_scheduler_type="noam", learning_rate=1e-4,
                                builds_optimizer=True, keep=RECIPE_KEEP)
    assert problem.startswith("the DeepSpeed config has a \"scheduler\" block (WarmupDecayLR) while "
                              "lr_scheduler_type='noam' is set")
    assert problem.endswith("Remove the \"scheduler\" block to train on 'noam', or train with SchedTrainer and "
                            "--deepspeed_scheduler true (this recipe always schedules the LR with hf_sched) to let "
                            "DeepSpeed's WarmupDecayLR schedule the LR")
    problem = deepspeed_problem({"optimizer": {"type": "AdamW", "params": {"lr": "auto"}}}, lr_scheduler_type="noam",
                                learning_rate=1e-4, builds_optimizer=True, keep=RECIPE_KEEP)
    assert problem == ("the DeepSpeed config has an \"optimizer\" block (AdamW), but this script builds its own "
                       "optimizer at --learning_rate 0.0001: remove the block (or use SchedTrainer, which can train "
                       "with it)")
    # the recipe's own configs carry neither block
    assert deepspeed_problem({"zero_optimization": {"stage": 2}}, lr_scheduler_type="noam", learning_rate=1e-4,
                             builds_optimizer=True, keep=RECIPE_KEEP) is None


def test_the_recipe_calls_the_rule():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "recipes" / "finetune_accelerate.py").read_text()
    assert "deepspeed_problem(deepspeed.deepspeed_config" in text and "keep=RECIPE_KEEP" in text


@pytest.mark.parametrize("bad", ["/no/such/file.json", "not json", 42])
def test_unreadable_configs_name_the_value(bad):
    with pytest.raises(ValueError, match=r"^deepspeed="):
        load_deepspeed_config(bad)


def test_config_forms(tmp_path):
    import base64

    d = {"scheduler": SCHEDULER}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(d))
    encoded = base64.urlsafe_b64encode(json.dumps(d).encode()).decode()
    assert load_deepspeed_config(path) == load_deepspeed_config(json.dumps(d)) == load_deepspeed_config(encoded) == d
