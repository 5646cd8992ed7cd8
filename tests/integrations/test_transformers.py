"""GenphaseTrainerCallback with the real Hugging Face Trainer: metrics, report_to, stop_on_phase3, resuming."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from transformers import DataCollatorWithPadding, Trainer, TrainingArguments  # noqa: E402

from genphase import Tracker  # noqa: E402
from genphase.errors import InputError  # noqa: E402
from genphase.integrations.transformers import STATE_FILE, GenphaseTrainerCallback  # noqa: E402
from genphase.maskers import ImagePatchMasker  # noqa: E402
from genphase.models import bert_from_scratch, train_wordpiece_tokenizer  # noqa: E402
from genphase.tracker import Verdict  # noqa: E402

N = 3
_WORDS = ["movie", "plot", "actor", "scene", "story", "music", "ending", "camera", "script", "cast"]


def _corpus(m: int, seed: int):
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(m):
        lab = i % 2
        words = list(rng.choice(_WORDS, size=4)) + ["good" if lab else "bad"]
        rng.shuffle(words)
        texts.append("the " + " ".join(words))
        labels.append(lab)
    return texts, np.array(labels)


@pytest.fixture(scope="module")
def tok():
    texts, _ = _corpus(200, 0)
    return train_wordpiece_tokenizer(texts, vocab_size=200, min_frequency=1, model_max_length=32)


def _model(tok):
    return bert_from_scratch(tok, 2, hidden=16, layers=1, heads=2, max_position=32, dropout=0.0, seed=0).model


def _encode(tok, texts, labels):
    enc = tok(texts, truncation=True, max_length=32)
    return [{**{k: enc[k][i] for k in enc}, "labels": int(labels[i])} for i in range(len(texts))]


def _tracker(tok, run_dir, **kw):
    tr_x, tr_y = _corpus(40, 1)
    te_x, te_y = _corpus(40, 2)
    ref = torch.utils.data.DataLoader(_encode(tok, te_x, te_y), batch_size=8, collate_fn=DataCollatorWithPadding(tok))
    opts = dict(n=N, model_factory=lambda: _model(tok), reference_data=ref, k=1, baseline_epochs=2,
                baseline_optimizer="adamw")
    opts.update(kw)
    return Tracker((tr_x[:8], tr_y[:8]), (te_x[:8], te_y[:8]), run_dir=run_dir, **opts)


def _trainer(tok, out, epochs, **kw):
    tr_x, tr_y = _corpus(40, 1)
    te_x, te_y = _corpus(40, 2)
    args = TrainingArguments(output_dir=str(out), num_train_epochs=epochs, per_device_train_batch_size=8,
                             learning_rate=1e-3, eval_strategy="epoch", save_strategy="epoch", logging_strategy="epoch",
                             use_cpu=True, seed=0, disable_tqdm=True, **kw)
    return Trainer(model=_model(tok), args=args, train_dataset=_encode(tok, tr_x, tr_y),
                   eval_dataset=_encode(tok, te_x, te_y), data_collator=DataCollatorWithPadding(tok), processing_class=tok)


def _stop_after(m):
    def rule(training, h_bar, order_strengths):
        steps = sorted(h_bar["checkpoint"].unique())
        return Verdict(3 if len(steps) >= m else 1, len(steps) >= m, steps[-1] if len(steps) >= m else None, "planted")

    return rule


def test_text_model_equal_to_its_baseline_generalizes_fully(tok, tmp_path):
    """Word-level masking with the model's own embedding; planted truth: model == baseline gives H-bar 1."""
    model = _model(tok)
    tr_x, tr_y = _corpus(10, 1)
    tracker = Tracker((tr_x[:4], tr_y[:4]), (tr_x[4:8], tr_y[4:8]), run_dir=tmp_path / "r", n=N, tokenizer=tok, n_resamples=0,
                      baselines=[copy.deepcopy(model)])
    res = tracker.measure(model, step=0)
    assert res["h_bar"] == pytest.approx(1.0) and res["h_bar_test"] == pytest.approx(1.0)
    assert tracker.masker.describe()["baseline"] == {"token_id": tok.mask_token_id}
    words = json.loads((tmp_path / "r/explained/variables.json").read_text())["words"]
    assert all(len(w) == N and "the" not in w for w in words)  # content words, stop words skipped
    long = Tracker((tr_x[:4], tr_y[:4]), (tr_x[4:8], tr_y[4:8]), run_dir=tmp_path / "l", n=7, tokenizer=tok, n_resamples=0,
                   baselines=[copy.deepcopy(model)])
    with pytest.raises(InputError, match="cannot give n=7 word variables"):
        long.measure(model, step=0)
    with pytest.raises(InputError, match="ImagePatchMasker.*text"):
        Tracker((tr_x[:4], tr_y[:4]), (tr_x[4:8], tr_y[4:8]), run_dir=tmp_path / "i", baselines=[model], n_resamples=0,
                masker=ImagePatchMasker(torch.zeros(1, 4, 4), patch_size=2, n=2))


def test_stop_on_phase3_stops_a_real_trainer_and_logs_through_report_to(tok, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tracker = _tracker(tok, tmp_path / "run", phase_rule=_stop_after(3))
    trainer = _trainer(tok, tmp_path / "hf", epochs=6, report_to=["tensorboard"])
    cb = GenphaseTrainerCallback(tracker, stop_on_phase3=True).attach(trainer)
    trainer.train()
    assert tracker.steps == [0, 1, 2]
    assert trainer.state.epoch == pytest.approx(2.0)  # stopped after epoch 2 of 6
    logged = [h for h in trainer.state.log_history if "eval_genphase_h_bar" in h]
    assert [h["step"] for h in logged][-1] == trainer.state.global_step
    assert logged[-1]["eval_genphase_stop"] == 1.0 and cb.last["stop"] == 1.0
    events = EventAccumulator(str(next((tmp_path / "hf").rglob("events.out.tfevents.*")).parent))
    events.Reload()
    assert {"eval/genphase_h_bar", "eval/genphase_h_bar_test"} <= set(events.Tags()["scalars"])
    # not attached (passed in callbacks=[...]): the keys still reach the evaluation metrics
    loose = _tracker(tok, tmp_path / "run2", phase_rule=_stop_after(99))
    t2 = _trainer(tok, tmp_path / "hf2", epochs=1, report_to=[])
    t2.add_callback(GenphaseTrainerCallback(loose, measure_init=False))
    t2.train()
    assert loose.steps == [1]
    assert any("eval_genphase_h_bar" in h for h in t2.state.log_history)


def test_resume_from_checkpoint_continues_the_series(tok, tmp_path):
    first = _tracker(tok, tmp_path / "run")
    t1 = _trainer(tok, tmp_path / "hf", epochs=2, report_to=[])
    GenphaseTrainerCallback(first).attach(t1)
    t1.train()
    assert first.steps == [0, 1, 2]
    ckpts = sorted((tmp_path / "hf").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert all((c / STATE_FILE).is_file() for c in ckpts)
    again = _tracker(tok, tmp_path / "run")
    t2 = _trainer(tok, tmp_path / "hf", epochs=3, report_to=[])
    cb = GenphaseTrainerCallback(again).attach(t2)
    t2.train(resume_from_checkpoint=str(ckpts[0]))  # back to epoch 1: epoch 2 is measured again
    assert cb.resumed_from == str(ckpts[0])
    assert again.steps == [0, 1, 2, 3]
    assert again.history[1]["h_bar"] == first.history[1]["h_bar"]


def test_measure_on_epoch_end_without_evaluation(tok, tmp_path):
    tracker = _tracker(tok, tmp_path / "run")
    trainer = _trainer(tok, tmp_path / "hf", epochs=2, report_to=[])
    trainer.args.eval_strategy = "no"
    cb = GenphaseTrainerCallback(tracker, measure_on="epoch").attach(trainer)
    trainer.train()
    assert tracker.steps == [0, 1, 2]
    assert [h["step"] for h in trainer.state.log_history if "eval_genphase_h_bar" in h][-1] == trainer.state.global_step
    with pytest.raises(InputError, match="measure_on"):
        GenphaseTrainerCallback(tracker, measure_on="step")
    assert cb.last["step"] == 2


def test_the_real_phase_rule_stops_an_overfitting_trainer(tmp_path):
    """No stub: the Trainer fits an MLP to 400 digits with 20% flipped labels; the engine finds phase 3 and
    ``stop_on_phase3=True`` sets ``should_training_stop`` well before the last epoch."""
    from overfitting_digits import digits_and_tracker

    from genphase.models import MLP

    class Digits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = MLP((1, 8, 8), 10, hidden=(256, 256))

        def forward(self, x, labels=None):
            logits = self.net(x)
            out = {"logits": logits}
            if labels is not None:
                out["loss"] = torch.nn.functional.cross_entropy(logits, labels)
            return out

    torch.manual_seed(0)
    x_tr, y_tr, tracker = digits_and_tracker(tmp_path / "run", Digits)
    args = TrainingArguments(output_dir=str(tmp_path / "hf"), num_train_epochs=45, per_device_train_batch_size=32,
                             lr_scheduler_type="constant", eval_strategy="no", save_strategy="no", logging_strategy="no",
                             use_cpu=True, seed=0, disable_tqdm=True, report_to=[])
    model = Digits()
    trainer = Trainer(model=model, args=args, optimizers=(torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), None),
                      train_dataset=[{"x": x, "labels": int(y)} for x, y in zip(x_tr, y_tr)])
    GenphaseTrainerCallback(tracker, stop_on_phase3=True, measure_on="epoch").attach(trainer)
    trainer.train()
    assert trainer.state.epoch < 45 and tracker.steps[-1] == int(trainer.state.epoch)
    assert tracker.history[-1]["stop"] == 1.0 and all(h["stop"] == 0.0 for h in tracker.history[:-1])
    phases = json.loads((tmp_path / "run/metrics/phases.json").read_text())
    assert phases["boundaries"]["phase3_start"] is not None
