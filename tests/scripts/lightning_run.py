"""A tiny Lightning regression trained with an hf_sched schedule; records the LR of every optimizer step.

Used in-process by tests/test_integrations_lightning.py and, for two CPU processes (DDP over
gloo), as a script: ``python tests/scripts/lightning_run.py OUT_DIR [--devices 2] [--batch_size 2]``
writes ``OUT_DIR/lrs.json`` from rank 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Optional

import lightning as L
import torch
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from hf_sched import get_scheduler  # noqa: E402
from hf_sched.integrations.lightning import lr_scheduler_config  # noqa: E402

PEAK = 1e-2
N = 48


class Regressor(L.LightningModule):
    """``Linear(4, 1)`` on fixed random data; ``lrs`` holds ``(step, lr)`` of each optimizer step."""

    def __init__(self, name: str = "warmupcosine", *, scheduler_kwargs: Optional[dict] = None,
                 strict_resume: Optional[bool] = None, default_interval: bool = False,
                 resume: Optional[str] = None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(4, 1)
        self.name = name
        self.scheduler_kwargs = scheduler_kwargs
        self.strict_resume = strict_resume
        self.resume = resume
        self.default_interval = default_interval
        self.lrs: list[tuple[int, float]] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return F.mse_loss(self.layer(x), y)

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        self.lrs.append((self.trainer.global_step + 1, float(optimizer.param_groups[0]["lr"])))

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.parameters(), lr=PEAK)
        if self.default_interval:
            # Lightning's default: no "interval" key, so it calls scheduler.step() once per epoch
            total = self.trainer.estimated_stepping_batches
            return [optimizer], [get_scheduler(self.name, optimizer, num_training_steps=total)]
        config = lr_scheduler_config(self, optimizer, self.name, scheduler_kwargs=self.scheduler_kwargs,
                                     strict_resume=self.strict_resume, resume=self.resume)
        return {"optimizer": optimizer, "lr_scheduler": config}


def loader(batch_size: int) -> torch.utils.data.DataLoader:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N, 4, generator=g)
    y = x.sum(dim=1, keepdim=True) + 0.1 * torch.randn(N, 1, generator=g)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size, shuffle=False)


def make_trainer(out: str, *, max_epochs: int = 2, devices: int = 1, checkpoint_every_epoch: bool = False,
                 **kwargs: Any) -> L.Trainer:
    callbacks = []
    if checkpoint_every_epoch:
        callbacks.append(L.pytorch.callbacks.ModelCheckpoint(dirpath=out, every_n_epochs=1, save_top_k=-1,
                                                             filename="{epoch}-{step}"))
    return L.Trainer(
        default_root_dir=out, max_epochs=max_epochs, accelerator="cpu", devices=devices,
        strategy="ddp" if devices > 1 else "auto", logger=False, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=checkpoint_every_epoch, callbacks=callbacks,
        num_sanity_val_steps=0, **kwargs,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=2)
    parser.add_argument("--name", default="warmupcosine")
    ns = parser.parse_args()
    model = Regressor(ns.name)
    trainer = make_trainer(ns.out, devices=ns.devices)
    trainer.fit(model, train_dataloaders=loader(ns.batch_size))
    if trainer.is_global_zero:
        os.makedirs(ns.out, exist_ok=True)
        sched = trainer.lr_scheduler_configs[0].scheduler
        s = sched.schedules[0]
        with open(os.path.join(ns.out, "lrs.json"), "w") as fh:
            json.dump({"world_size": trainer.world_size, "num_training_steps": s.num_training_steps,
                       "num_warmup_steps": s.num_warmup_steps, "lrs": model.lrs, "global_step": trainer.global_step},
                      fh)


if __name__ == "__main__":
    main()
