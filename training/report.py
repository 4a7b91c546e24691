"""A training run that explains itself: one readable line per logged step (instead of TRL's raw
dicts), the loss curve as a picture in the run folder, and when replies do not stop, a diagnosis
with the numbers behind it: an untrained end-of-turn token (the audit says so) is told apart from
too little training (loss still high, few steps, replies that repeat themselves)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from validation.outputs import write_file

# What a logged step shows, in this order: (key in TRL's logs, label, format)
SHOWN = (("loss", "loss", "{:.4f}"), ("eval_loss", "eval loss", "{:.4f}"), ("grad_norm", "grad norm", "{:.3g}"),
         ("learning_rate", "lr", "{:.2e}"), ("rewards/margins", "reward margin", "{:.3f}"),
         ("rewards/accuracies", "reward accuracy", "{:.0%}"), ("mean_token_accuracy", "token accuracy", "{:.1%}"),
         ("epoch", "epoch", "{:.2f}"))
HIGH_LOSS = 1.0  # a final training loss above this: the model has not fit its data yet
FEW_STEPS = 30  # fewer optimizer steps than this rarely teach a model when to stop
HIGH_LR = 1e-4  # above this a small model forgets how to end a reply quickly (SmolLM2's SFT used 3e-4 over many steps)


def log_line(logs: dict[str, Any], step: int, total: int) -> str:
    """One logged step as a person reads it.

    Example:
        >>> log_line({"loss": 2.8125, "grad_norm": 4.07, "learning_rate": 9.2e-05, "epoch": 0.5}, 3, 12)
        'step 3/12  loss 2.8125  grad norm 4.07  lr 9.20e-05  epoch 0.50'
        >>> log_line({"train_runtime": 35.21, "train_loss": 1.5}, 12, 12)
        'done: 12 steps in 35.2 s, mean loss 1.5000'
    """
    if "train_runtime" in logs:
        mean = f", mean loss {logs['train_loss']:.4f}" if isinstance(logs.get("train_loss"), (int, float)) else ""
        return f"done: {step} steps in {logs['train_runtime']:.1f} s{mean}"
    parts = [f"step {step}/{total}" if total else f"step {step}"]
    parts += [f"{label} {form.format(logs[key])}" for key, label, form in SHOWN
              if isinstance(logs.get(key), (int, float))]
    return "  ".join(parts)


def readable_log(trainer: Any) -> None:
    """Replace the trainer's printing of raw log dicts with `log_line`s (the progress bar stays)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class ReadableProgress(ProgressCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if state.is_world_process_zero and self.training_bar is not None and logs:
                self.training_bar.write(log_line(logs, state.global_step, state.max_steps))

    class ReadablePrinter(PrinterCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if state.is_world_process_zero and logs:
                print(log_line(logs, state.global_step, state.max_steps), flush=True)

    for plain, readable in ((ProgressCallback, ReadableProgress), (PrinterCallback, ReadablePrinter)):
        if trainer.pop_callback(plain) is not None:
            trainer.add_callback(readable)


def loss_curve(path: Path, history: Sequence[dict[str, Any]], title: str) -> bool:
    """`path`: the training loss per step (and the eval loss where it was measured) as a PNG;
    False when there is nothing to draw (no logged loss) or no matplotlib."""
    train = [(h["step"], h["loss"]) for h in history if "loss" in h and "step" in h]
    evals = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h and "step" in h]
    if not train and not evals:
        return False
    from validation.errors import InputError
    from validation.statistics.report import png_bytes, pyplot

    try:
        plt = pyplot()
    except InputError:  # (no matplotlib: the run goes on without its picture)
        return False
    figure, axis = plt.subplots(figsize=(7, 4), constrained_layout=True)
    if train:
        axis.plot(*zip(*train), color="#4C72B0", marker="." if len(train) < 60 else None, label="training loss")
    if evals:
        axis.plot(*zip(*evals), color="#C44E52", marker="o", label="eval loss")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    write_file(path, png_bytes(figure))
    return True


def repeats(text: str, span: int = 4, times: int = 3) -> bool:
    """Whether `text` repeats itself: some run of `span` words comes `times` times or more.

    Example:
        >>> repeats("I am fine. I am fine. I am fine. I am fine.")
        True
        >>> repeats("Sleep at the same time every day, and keep the room dark.")
        False
    """
    words = text.split()
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - span + 1):
        key = tuple(words[i:i + span])
        counts[key] = counts.get(key, 0) + 1
        if counts[key] >= times:
            return True
    return False


def stop_diagnosis(*, rate_before: float, rate_after: float, replies: Sequence[Any], final_loss: float | None,
                   steps: int, learning_rate: float | None, untrained_end: int, has_eval: bool) -> str:
    """Why fewer replies stop after training than before, with the numbers that support it.
    `untrained_end`: rows whose end-of-turn token the audit found unsupervised."""
    head = f"the model stops less often after training ({rate_before:.0%} → {rate_after:.0%} of replies end with a " \
           "stop token)"
    if untrained_end:
        return (f"{head}: the end-of-turn token is not trained in {untrained_end} rows (audit: "
                "end-of-turn-not-supervised); fix the template or the rows (`instructkit audit`)")
    looping = sum(repeats(r.text) for r in replies)
    causes = []
    if final_loss is not None and final_loss > HIGH_LOSS:
        causes.append(f"the loss is still {final_loss:.2f}")
    if steps < FEW_STEPS:
        causes.append(f"only {steps} optimizer steps")
    if looping:
        causes.append(f"{looping} of {len(replies)} replies repeat themselves")
    if learning_rate is not None and learning_rate > HIGH_LR:
        causes.append(f"learning rate {learning_rate:g}")
    advice = ["train longer (more rows, or num_train_epochs / max_steps)"]
    if learning_rate is not None and learning_rate > HIGH_LR:
        advice.append("lower the learning rate (e.g. 5e-5)")
    if not has_eval:
        advice.append("add an eval split (eval: {ratio: 0.1}) to watch the eval loss")
    because = f"; {', '.join(causes)}: training has not gone far enough yet" if causes else ""
    return f"{head}: the audit found the end-of-turn token trained in every row{because}. Try: {'; '.join(advice)}"
