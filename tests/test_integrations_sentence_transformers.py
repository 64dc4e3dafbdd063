"""sentence-transformers with hf_sched: its Trainer through the one mechanism, and legacy ``model.fit``.

Real runs on a tiny SentenceTransformer (a random BERT, hidden 32, 2 layers, saved with the
MiniLM tokenizer, + mean pooling) with ``MultipleNegativesRankingLoss`` on made-up
(anchor, positive) pairs: 48 pairs, batch 4, one epoch = 12 optimizer steps.
"""

from __future__ import annotations

import inspect
import re

import pytest
from optional import require
import torch

require("sentence_transformers")

from datasets import Dataset  # noqa: E402
from sentence_transformers import InputExample, SentenceTransformer, losses, models  # noqa: E402
from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator  # noqa: E402
from transformers import PrinterCallback, ProgressCallback, TrainerCallback  # noqa: E402

import lr_closed_forms as cf  # noqa: E402
from hf_sched.integrations.sentence_transformers import (  # noqa: E402
    SchedSentenceTransformerTrainer,
    SchedSentenceTransformerTrainingArguments,
    fit_with_schedule,
)

pytestmark = pytest.mark.usefixtures("frozen_gc", "in_tmp_dir")


@pytest.fixture
def in_tmp_dir(tmp_path, monkeypatch):
    """Each test runs in its own directory: legacy ``fit`` without a checkpoint path writes its logs under
    ``checkpoints/model`` in the working directory (sentence-transformers 5.0)."""
    monkeypatch.chdir(tmp_path)

PEAK = 1e-3
N = 48


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from transformers import AutoTokenizer, BertConfig, BertModel

    from hf_sched.finetune.model import default_model_path

    path = tmp_path_factory.mktemp("tiny_st_bert")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    BertModel(config).save_pretrained(path)
    AutoTokenizer.from_pretrained(default_model_path()).save_pretrained(path)
    return str(path)


def make_model(model_dir) -> SentenceTransformer:
    torch.manual_seed(0)
    return SentenceTransformer(modules=[models.Transformer(model_dir, max_seq_length=16), models.Pooling(32)],
                               device="cpu")


def pairs(n: int = N) -> Dataset:
    return Dataset.from_dict({
        "anchor": [f"question {i} about topic {i % 7}" for i in range(n)],
        "positive": [f"an answer {i} on topic {i % 7}" for i in range(n)],
    })


def make_args(out, **overrides):
    kw = dict(output_dir=str(out), learning_rate=PEAK, per_device_train_batch_size=4, num_train_epochs=1,
              logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, seed=0, save_lr_curve=False,
              disable_tqdm=True)
    kw.update(overrides)
    return SchedSentenceTransformerTrainingArguments(**kw)


def make_trainer(model_dir, args, **kwargs):
    model = make_model(model_dir)
    trainer = SchedSentenceTransformerTrainer(model=model, args=args, train_dataset=pairs(),
                                              loss=losses.MultipleNegativesRankingLoss(model), **kwargs)
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


def logged(trainer):
    return [(h["step"], h["learning_rate"]) for h in trainer.state.log_history if "learning_rate" in h]


def evaluator():
    return EmbeddingSimilarityEvaluator(
        [f"question {i} about topic {i % 7}" for i in range(8)],
        [f"an answer {i} on topic {i % 7}" for i in range(8)],
        [1.0 if i % 2 else 0.0 for i in range(8)],
        name="toy",
    )


# ---------------------------------------------------------------------------- the Trainer


def test_warmupcosine_default_warmup_every_step_with_evaluator_and_model_card(tmp_path, model_dir):
    args = make_args(tmp_path, lr_scheduler_type="warmupcosine", eval_strategy="steps", eval_steps=6)
    trainer = make_trainer(model_dir, args, evaluator=evaluator())
    trainer.train()
    total, warmup = 12, cf.default_warmup(12)
    sched = trainer.lr_scheduler
    assert (sched.schedules[0].num_training_steps, sched.schedules[0].num_warmup_steps) == (total, warmup)
    f = cf.warmupcosine(total, warmup)
    got = logged(trainer)
    assert [s for s, _ in got] == list(range(1, total + 1))
    assert [lr for _, lr in got] == pytest.approx([PEAK * f(k) for k in range(total)], rel=1e-12, abs=1e-18)
    # sentence-transformers' own evaluator ran and logged
    assert any("eval_toy_spearman_cosine" in h for h in trainer.state.log_history)
    # its model card reads the arguments (lr_scheduler_type as a plain str) and its saved args round-trip
    trainer.save_model(str(tmp_path / "saved"))
    card = (tmp_path / "saved" / "README.md").read_text()
    assert "- `lr_scheduler_type`: warmupcosine" in card
    back = torch.load(tmp_path / "saved" / "training_args.bin", weights_only=False)
    assert back.lr_scheduler_type.value == "warmupcosine" and back.warmup_ratio == 0.1


def test_hard_restarts_with_kwargs_every_step(tmp_path, model_dir):
    args = make_args(tmp_path, lr_scheduler_type="hard-restarts", lr_scheduler_kwargs={"num_cycles": 2})
    trainer = make_trainer(model_dir, args)
    trainer.train()
    f = cf.hard_restarts(12, 2, num_cycles=2)
    got = [lr for _, lr in logged(trainer)]
    assert got == pytest.approx([PEAK * f(k) for k in range(12)], rel=1e-12, abs=1e-18)
    assert any(b > a for a, b in zip(got[3:], got[4:]))  # the restart


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, model_dir):
    out = tmp_path_factory.mktemp("st_full")
    trainer = make_trainer(model_dir, make_args(out, lr_scheduler_type="warmupcosine", save_strategy="steps",
                                                save_steps=6))
    trainer.train()
    return out, trainer


def test_resume_from_a_mid_run_checkpoint_is_exact(tmp_path, model_dir, uninterrupted):
    out, full = uninterrupted
    resumed = make_trainer(model_dir, make_args(tmp_path, lr_scheduler_type="warmupcosine"))
    resumed.train(resume_from_checkpoint=str(out / "checkpoint-6"))
    assert resumed.state.global_step == 12
    assert logged(resumed)[6:] == logged(full)[6:]
    full_weights = full.model.state_dict()
    for name, value in resumed.model.state_dict().items():
        assert torch.allclose(value, full_weights[name], rtol=1e-5, atol=1e-6), name


def test_a_changed_batch_size_is_refused_with_the_trainer_flag(tmp_path, model_dir, uninterrupted):
    out, _ = uninterrupted
    trainer = make_trainer(model_dir, make_args(tmp_path, lr_scheduler_type="warmupcosine",
                                                per_device_train_batch_size=8))
    with pytest.raises(ValueError) as err:
        trainer.train(resume_from_checkpoint=str(out / "checkpoint-6"))
    msg = str(err.value)
    assert msg.startswith("cannot resume: the LR schedule of this run differs from the one in")
    assert "num_training_steps: 12 -> 6" in msg
    assert "per_device_train_batch_size" in msg
    assert "--lr_scheduler_resume checkpoint (the checkpoint's schedule" in msg and "--lr_scheduler_resume rescale" in msg


def test_stock_arguments_refuse_the_name_ours_take_it():
    from sentence_transformers import SentenceTransformerTrainingArguments

    with pytest.raises(ValueError, match="warmupcosine"):
        SentenceTransformerTrainingArguments(output_dir="unused_out", lr_scheduler_type="warmupcosine")
    args = SchedSentenceTransformerTrainingArguments(output_dir="unused_out", lr_scheduler_type="noam",
                                                     warmup_steps=0.2, report_to=[])
    assert args.get_warmup_steps(30) == 6  # transformers 5.x's ratio
    assert args.warmup_ratio == 0.1  # not moved into warmup_steps by sentence-transformers' own __post_init__


# ---------------------------------------------------------------------------- legacy model.fit


@pytest.fixture
def lrs_used():
    """The LR of param group 0 at every optimizer step (a global step pre-hook)."""
    seen: list[float] = []
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    handle = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: seen.append(float(opt.param_groups[0]["lr"])))
    yield seen
    handle.remove()


def loader(batch_size: int = 4):
    examples = [InputExample(texts=[f"question {i} about topic {i % 7}", f"an answer {i} on topic {i % 7}"])
                for i in range(N)]
    return torch.utils.data.DataLoader(examples, batch_size=batch_size, shuffle=False)


def test_fit_takes_any_name_with_kwargs_and_leaves_nothing_patched(model_dir, lrs_used):
    model = make_model(model_dir)
    original = inspect.getattr_static(SentenceTransformer, "_get_scheduler")
    sched = fit_with_schedule(
        model, [(loader(), losses.MultipleNegativesRankingLoss(model))], scheduler="hard-restarts",
        scheduler_kwargs={"num_cycles": 2}, epochs=1, optimizer_params={"lr": PEAK}, show_progress_bar=False,
    )
    total = N // 4  # fit's t_total: epochs * len(dataset) // batch_size
    assert (sched.schedules[0].num_training_steps, sched.schedules[0].num_warmup_steps) == (total, 2)
    assert sched.optimizer_step == total
    f = cf.hard_restarts(total, 2, num_cycles=2)
    assert lrs_used == pytest.approx([PEAK * f(k) for k in range(total)], rel=1e-12, abs=1e-18)
    assert "_get_scheduler" not in vars(model)
    assert inspect.getattr_static(SentenceTransformer, "_get_scheduler") is original
    with pytest.raises(ValueError, match="Unknown scheduler noam"):  # model.fit itself is as before
        model.fit([(loader(), losses.MultipleNegativesRankingLoss(model))], scheduler="noam", show_progress_bar=False)


def test_fit_with_a_remainder_batch_schedules_the_steps_the_trainer_takes(model_dir, lrs_used, caplog):
    # 50 pairs, batch 16: fit's own t_total is 2 * (50 // 16) = 6, its Trainer takes 2 * ceil(50 / 16) = 8 steps
    examples = [InputExample(texts=[f"question {i}", f"an answer {i}"]) for i in range(50)]
    model = make_model(model_dir)
    with caplog.at_level("WARNING", logger="hf_sched"):
        sched = fit_with_schedule(model, [(torch.utils.data.DataLoader(examples, batch_size=16),
                                           losses.MultipleNegativesRankingLoss(model))],
                                  scheduler="warmuplinear", epochs=2, optimizer_params={"lr": PEAK},
                                  show_progress_bar=False)
    assert any("computes t_total=6" in r.getMessage() and "takes 8 optimizer steps" in r.getMessage()
               for r in caplog.records)
    assert sched.schedules[0].num_training_steps == sched.optimizer_step == len(lrs_used) == 8
    assert lrs_used == pytest.approx([PEAK * min(k, (8 - k) / 7) for k in range(8)], rel=1e-12, abs=1e-18)
    assert lrs_used[-1] > 0  # no step past the schedule's end


def test_fit_errors_name_the_argument_and_unpatch(model_dir):
    model = make_model(model_dir)
    objectives = [(loader(), losses.MultipleNegativesRankingLoss(model))]
    with pytest.raises(ValueError, match=r"scheduler='warmupcosin' is invalid: .*Did you mean 'warmupcosine'\?"):
        fit_with_schedule(model, objectives, scheduler="warmupcosin")
    with pytest.raises(ValueError, match=r"scheduler_kwargs=\{'cycles': 2\} is invalid: .*'cycles'"):
        fit_with_schedule(model, objectives, scheduler="warmupcosine", scheduler_kwargs={"cycles": 2})
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):  # raised inside model.fit
        fit_with_schedule(model, objectives, scheduler="noam", warmup_steps=2, bogus=1)
    assert "_get_scheduler" not in vars(model)
    with pytest.raises(TypeError, match="model must be a sentence_transformers SentenceTransformer"):
        fit_with_schedule(torch.nn.Linear(2, 2), objectives)


def test_fit_resume_with_a_changed_batch_size_is_refused_in_fits_words(tmp_path, model_dir, caplog):
    ckpt = tmp_path / "ckpt"
    model = make_model(model_dir)
    fit_with_schedule(model, [(loader(), losses.MultipleNegativesRankingLoss(model))], scheduler="warmupcosine",
                      epochs=1, max_grad_norm=1.0, checkpoint_path=str(ckpt), checkpoint_save_steps=6,
                      show_progress_bar=False)
    assert (ckpt / "checkpoint-6" / "scheduler.pt").is_file()
    model = make_model(model_dir)
    with pytest.raises(ValueError) as err:
        fit_with_schedule(model, [(loader(8), losses.MultipleNegativesRankingLoss(model))], scheduler="warmupcosine",
                          epochs=1, checkpoint_path=str(ckpt), checkpoint_save_steps=6, resume_from_checkpoint=True,
                          show_progress_bar=False)
    msg = str(err.value)
    assert "num_training_steps: 12 -> 6" in msg and f"checkpoint_path={str(ckpt)!r}" in msg
    assert 'resume="rescale" in fit_with_schedule() (' in msg and 'resume="checkpoint" in fit_with_schedule()' in msg
    assert "_get_scheduler" not in vars(model)
    # opted out: the checkpoint's schedule continues (T = 12), with one warning in fit's words
    with caplog.at_level("WARNING", logger="hf_sched"):
        sched = fit_with_schedule(model, [(loader(8), losses.MultipleNegativesRankingLoss(model))],
                                  scheduler="warmupcosine", epochs=1, checkpoint_path=str(ckpt),
                                  checkpoint_save_steps=6, resume_from_checkpoint=True, strict_resume=False,
                                  show_progress_bar=False)
    assert sched.schedules[0].num_training_steps == 12
    said = [r.getMessage() for r in caplog.records if "resuming anyway" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("resuming anyway (strict_resume=False): the LR schedule of this run")
    assert said[0].endswith("continuing with the checkpoint's schedule from step 12")


# ---------------------------------------------------------------------------- LR rules (hf_sched.optim.param_groups)


def test_learning_rate_mapping_is_read_as_lr_mapping_and_composes_with_layer_decay(tmp_path, model_dir):
    """sentence-transformers' own map, hf_sched's layer decay: one rule for both, every group at every step."""
    d = 0.5
    args = make_args(tmp_path, lr_scheduler_type="warmupcosine", layer_decay=d,
                     learning_rate_mapping='{"encoder\\\\.layer\\\\.1\\\\.": 1e-2}')
    trainer = make_trainer(model_dir, args)
    seen = []
    trainer.add_callback(type("GroupLRs", (TrainerCallback,), {
        "on_step_begin": lambda self, a, s, c, optimizer=None, **kw: seen.append([g["lr"] for g in optimizer.param_groups])
    })())
    trainer.train()
    names = {id(p): n for n, p in trainer.loss.named_parameters()}
    peaks = []
    for g in trainer.optimizer.param_groups:
        depths = set()
        for p in g["params"]:
            n = names[id(p)]
            assert n.startswith("model.0."), n  # the loss module's names, as sentence-transformers'
            m = re.search(r"\.encoder\.layer\.(\d+)\.", n)
            depths.add(int(m.group(1)) + 1 if m else 0 if ".embeddings." in n else 3)
        (k,) = depths
        peaks.append((1e-2 if k == 2 else PEAK) * d ** (3 - k))
    assert sorted(set(peaks)) == pytest.approx(sorted({PEAK * d**3, PEAK * d**2, 1e-2 * d, PEAK}))
    assert [g["lr"] for g in trainer.optimizer.param_groups] == pytest.approx([0.0] * len(peaks), abs=1e-18)  # end of cosine
    f = cf.warmupcosine(12, cf.default_warmup(12))
    assert len(seen) == 12
    for s, lrs in enumerate(seen):
        assert lrs == pytest.approx([p * f(s) for p in peaks], rel=1e-12, abs=1e-18), s


def test_both_maps_are_refused(tmp_path):
    with pytest.raises(ValueError) as exc:
        make_args(tmp_path, lr_mapping={"pooler": 1e-2}, learning_rate_mapping={"pooler": 1e-3})
    assert str(exc.value) == (
        "give the regex map once: lr_mapping={'pooler': 0.01} and sentence-transformers' learning_rate_mapping="
        "{'pooler': 0.001} are both set; hf_sched reads learning_rate_mapping as lr_mapping (same meaning: "
        "regex -> LR), so keep one of them"
    )
    with pytest.raises(ValueError, match=r"^learning_rate_mapping\['pooler'\]=0 is invalid: it must be an LR > 0"):
        make_args(tmp_path, learning_rate_mapping={"pooler": 0})


def test_fit_rescale_and_replan_on_resume_use_the_same_mode_names(tmp_path, model_dir, capsys):
    """A 12-step fit (batch 4) stopped at step 6, resumed with batch 8 over 3 epochs (18 steps): rescale warps the
    checkpoint's curve from fit's step 6 to end at its final value; replan takes this run's; a typo is refused."""
    import shutil

    ckpt = tmp_path / "ckpt"
    model = make_model(model_dir)
    fit_with_schedule(model, [(loader(), losses.MultipleNegativesRankingLoss(model))], scheduler="warmupcosine",
                      epochs=1, checkpoint_path=str(ckpt), checkpoint_save_steps=6, show_progress_bar=False)
    shutil.rmtree(ckpt / "checkpoint-12")  # the run stopped after step 6
    f_old = cf.warmupcosine(12, 2)

    def resumed(mode):
        model, where = make_model(model_dir), tmp_path / mode
        shutil.copytree(ckpt, where)
        return fit_with_schedule(model, [(loader(8), losses.MultipleNegativesRankingLoss(model))],
                                 scheduler="warmupcosine", epochs=3, checkpoint_path=str(where),
                                 checkpoint_save_steps=100, resume_from_checkpoint=True, show_progress_bar=False,
                                 resume=mode)

    sched = resumed("rescale")
    warped = sched.schedules[0]
    assert (warped.kind, warped.num_training_steps, warped.resumed_from, warped.resumed_at) == ("rescaled", 18, 6, 6)
    assert [warped(s) for s in (6, 12, 18)] == pytest.approx([f_old(6), f_old(9), 0.0], abs=1e-15)
    assert sched.optimizer_step == 18 and sched.get_last_lr()[0] == pytest.approx(0.0, abs=1e-18)
    assert "continues over this run's 18 steps from step 6 (where the caller resumes)" in capsys.readouterr().err

    sched = resumed("replan")
    f_new = cf.warmupcosine(18, 2)
    assert sched.resume_note == f"LR {2e-5 * f_old(6):.3g} -> {2e-5 * f_new(6):.3g} at step 6"
    with pytest.raises(ValueError, match=r"^resume='rescal' is not a resume mode; allowed: "):
        fit_with_schedule(make_model(model_dir), [], resume="rescal")
