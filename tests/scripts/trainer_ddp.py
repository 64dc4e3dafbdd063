"""A tiny SchedTrainer run for the multi-process tests (and the one-process reference).

Run it under ``torchrun --nproc_per_node 2`` (CPU, gloo) or import :func:`run` in-process.
Every process trains the same tiny random BERT on the same synthetic tokens; the main
process writes ``lr_log.json`` to the output folder: the logged ``(step, learning_rate)``
pairs, the schedule's total and warmup steps, the world size and the final LR.

    torchrun --standalone --nproc_per_node 2 tests/scripts/trainer_ddp.py OUT_DIR \\
        --per_device_train_batch_size 4 --gradient_accumulation_steps 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

NUM_EXAMPLES = 40
VOCAB = 64
SEQ_LEN = 8


def make_data() -> list[dict]:
    import torch

    g = torch.Generator().manual_seed(1)
    return [
        {"input_ids": torch.randint(1, VOCAB, (SEQ_LEN,), generator=g), "labels": int(i % 2)}
        for i in range(NUM_EXAMPLES)
    ]


def make_model():
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, max_position_embeddings=32,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return BertForSequenceClassification(config)


def run(
    output_dir: str,
    *,
    per_device_train_batch_size: int,
    gradient_accumulation_steps: int = 1,
    num_train_epochs: float = 1.5,
    lr_scheduler_type: str = "warmupcosine",
) -> dict:
    """Train and return what ``lr_log.json`` holds (written by the main process)."""
    from transformers import PrinterCallback, ProgressCallback

    from hf_sched.integrations.transformers import SchedTrainer, SchedTrainingArguments

    args = SchedTrainingArguments(
        output_dir=output_dir,
        lr_scheduler_type=lr_scheduler_type,
        learning_rate=1e-3,
        per_device_train_batch_size=per_device_train_batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        num_train_epochs=num_train_epochs,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        ddp_backend="gloo" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
        ddp_find_unused_parameters=False,
        seed=0,
        save_lr_curve=False,
    )
    trainer = SchedTrainer(model=make_model(), args=args, train_dataset=make_data())
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.train()
    schedule = trainer.lr_scheduler.schedules[0]
    result = {
        "world_size": args.world_size,
        "num_training_steps": schedule.num_training_steps,
        "num_warmup_steps": schedule.num_warmup_steps,
        "max_steps": trainer.state.max_steps,
        "lrs": [[h["step"], h["learning_rate"]] for h in trainer.state.log_history if "learning_rate" in h],
        "final_lr": trainer.lr_scheduler.get_last_lr()[0],
    }
    if trainer.is_world_process_zero():
        with open(os.path.join(output_dir, "lr_log.json"), "w") as f:
            json.dump(result, f)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("output_dir")
    parser.add_argument("--per_device_train_batch_size", type=int, default=4)
    parser.add_argument("--gradient_accumulation_steps", type=int, default=1)
    parser.add_argument("--num_train_epochs", type=float, default=1.5)
    parser.add_argument("--lr_scheduler_type", default="warmupcosine")
    ns = parser.parse_args(argv)
    run(
        ns.output_dir,
        per_device_train_batch_size=ns.per_device_train_batch_size,
        gradient_accumulation_steps=ns.gradient_accumulation_steps,
        num_train_epochs=ns.num_train_epochs,
        lr_scheduler_type=ns.lr_scheduler_type,
    )
    _close_process_group()


def _close_process_group() -> None:
    """Free the DDP reducers, wait for every rank, destroy the process group, as ``recipes/finetune_trainer.py`` does.

    Left to interpreter shutdown, a gloo rank that finishes first can abort ("terminate called
    without an active exception", SIGABRT) while its peer still talks to it (about 1 run in 5
    under torchrun here), or hang in the group's destructor (hf_sched/finetune/process_group.py).
    Same call as the recipe, on the Trainer's Accelerate state (a singleton).
    """
    from accelerate import PartialState

    from hf_sched.finetune.process_group import end_process_group

    end_process_group(PartialState())


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    main()
