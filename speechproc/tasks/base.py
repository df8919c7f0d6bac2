"""The one training loop shared by every task: a SpeechBrain ``Brain`` with the project's house rules.

:class:`TaskBrain` adds to ``speechbrain.core.Brain``:

- a per-step learning-rate schedule (``hparams.lr_scheduler``, e.g. Noam warm-up) and its
  logging;
- the end-of-epoch bookkeeping of every task: train/valid stats to ``train_log.txt`` and
  tensorboard, an atomic checkpoint that keeps the ``keep_checkpoints`` best by
  ``hparams.best_key`` (plus the latest), and an exported ``snapshots/epoch<N>`` experiment dir
  for the epochs listed in ``hparams.snapshot_epochs``;
- ``self.optimizer_steps`` (optimizer updates done by this process in this run), so tests
  can check what a process did.

A task subclass only implements ``compute_forward``, ``compute_objectives`` and, if it has
metrics beyond the loss, ``stage_stats``.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Optional

import speechbrain as sb
import torch

from speechproc.exp import write_snapshot
from speechproc.utils import load_weights

__all__ = ["TaskBrain"]

logger = logging.getLogger(__name__)


class TaskBrain(sb.Brain):
    """Base class of the task Brains (hooks: ``compute_forward``, ``compute_objectives``, ``stage_stats``)."""

    def on_fit_start(self) -> None:
        self.optimizer_steps = 0
        self.train_stats: Optional[Dict[str, float]] = None
        super().on_fit_start()
        record_start = getattr(self, "record_start", None)  # speechproc.train: write the exp dir's records now
        if record_start is not None:
            record_start()

    def load_init_model(self) -> None:
        """Start from ``hparams.init_model`` (a ``model.pt`` of an earlier run: fine-tuning) when set: every
        module of this run found in it is loaded. Call before ``super().on_fit_start()``, so that this
        run's own checkpoints, when there are any, take precedence (resume)."""
        init = getattr(self.hparams, "init_model", None)
        if not init:
            return
        from speechproc.utils import SpeechprocError

        path = Path(init)
        if not path.is_file():
            raise SpeechprocError(f"init_model {path}: not found; train the initial model first")
        state = load_weights(path).get("modules", {})
        loaded = [name for name in self.modules if name in state]
        if not loaded:
            raise SpeechprocError(f"init_model {path}: holds modules {sorted(state)}, none of this run's "
                                  f"{sorted(self.modules)}; give the model.pt of a run of the same task")
        for name in loaded:
            try:
                self.modules[name].load_state_dict(state[name])
            except RuntimeError as e:
                raise SpeechprocError(f"init_model {path}: module '{name}' does not match this config's "
                                      f"'{name}' (different sizes?): {str(e).splitlines()[0]}") from e
        logger.info("initialised %s from %s", ", ".join(loaded), path)

    def on_fit_batch_end(self, batch, outputs, loss, should_step) -> None:
        """Advance the per-step schedule after each optimizer update."""
        if not should_step:
            return
        self.optimizer_steps += 1
        scheduler = getattr(self.hparams, "lr_scheduler", None)
        if scheduler is not None:
            scheduler(self.optimizer)
        self._log_step(loss)

    def global_step(self) -> int:
        """Optimizer updates since the start of training, resumed runs included (the Adam-family optimizers
        checkpoint a step count per parameter); this process's count for other optimizers."""
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                for p in group["params"]:
                    step = self.optimizer.state.get(p, {}).get("step")
                    if step is not None:
                        return int(step)
        return int(getattr(self, "optimizer_steps", 0))

    def _log_step(self, loss) -> None:
        """Every ``log_every_steps`` updates (config key, default 10; 0: off), the batch's loss, its named loss
        terms and the learning rate as TensorBoard scalars ``train_step/*`` against the global step."""
        every = int(getattr(self.hparams, "log_every_steps", 10) or 0)
        board = getattr(self.hparams, "tensorboard_logger", None)
        if not every or board is None or not sb.utils.distributed.if_main_process():
            return
        step = self.global_step()
        if step % every:
            return
        writer = board.writer
        writer.add_scalar("train_step/loss", float(loss.detach()) if torch.is_tensor(loss) else float(loss), step)
        writer.add_scalar("train_step/lr", float(self.optimizer.param_groups[0]["lr"]), step)
        for key, value in getattr(self, "last_batch_losses", {}).items():
            writer.add_scalar(f"train_step/{key}", float(value), step)

    def on_stage_start(self, stage, epoch=None) -> None:
        self.stage_metrics: Dict[str, Any] = {}
        self.stage_start_stats(stage)

    def stage_start_stats(self, stage) -> None:
        """Reset the task's metric accumulators (override)."""

    def stage_stats(self, stage) -> Dict[str, float]:
        """The task's metrics at the end of a stage, besides the loss (override; the default: the
        per-batch means of what :meth:`add_batch_losses` collected)."""
        n = max(1, self.stage_metrics.get("n_batches", 0))
        return {k: v / n for k, v in self.stage_metrics.get("losses", {}).items()}

    def add_batch_losses(self, losses: Dict[str, Any]) -> None:
        """Sum one batch's named loss terms (scalars or 0-dim tensors) for :meth:`stage_stats`."""
        sums = self.stage_metrics.setdefault("losses", {})
        self.last_batch_losses = dict(losses)
        for key, value in losses.items():
            sums[key] = sums.get(key, 0.0) + float(value)
        self.stage_metrics["n_batches"] = self.stage_metrics.get("n_batches", 0) + 1

    def on_stage_end(self, stage, stage_loss, epoch=None) -> None:
        """Log stats; at the end of a validation epoch, checkpoint atomically and keep the best."""
        stats = {"loss": float(stage_loss)}
        stats.update(self.stage_stats(stage))
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        if stage == sb.Stage.VALID:
            lr = self.optimizer.param_groups[0]["lr"] if self.optimizer is not None else 0.0
            epoch_stats = {"epoch": epoch, "lr": lr, "steps": getattr(self, "optimizer_steps", 0)}
            for train_logger in self._train_loggers():
                train_logger.log_stats(stats_meta=epoch_stats, train_stats=self.train_stats, valid_stats=stats)
            self._plot_curves(epoch)
            key = getattr(self.hparams, "best_key", "loss")
            counter = getattr(self.hparams, "epoch_counter", None)
            if hasattr(counter, "update_metric") and key in stats:  # EpochCounterWithStopper: early stopping
                counter.update_metric(stats[key])
            if self.checkpointer is not None:
                mode = getattr(self.hparams, "best_mode", "min")
                meta = dict(stats, epoch=epoch)
                keep = int(getattr(self.hparams, "keep_checkpoints", 5))
                kwargs = {"min_keys": [key]} if mode == "min" else {"max_keys": [key]}
                self.checkpointer.save_and_keep_only(meta=meta, num_to_keep=keep, keep_recent=True, **kwargs)
                snapshots = getattr(self.hparams, "snapshot_epochs", None) or ()
                if epoch in snapshots and sb.utils.distributed.if_main_process():
                    snap = write_snapshot(self.checkpointer, list(self.modules.keys()),
                                          Path(self.hparams.output_folder), epoch)
                    logger.info("epoch %d exported as %s", epoch, snap)
        elif stage == sb.Stage.TEST:
            for train_logger in self._train_loggers():
                train_logger.log_stats(stats_meta={"epoch loaded": self.hparams.epoch_counter.current},
                                       test_stats=stats)
        self.last_stats = stats

    def plot_due(self, epoch) -> bool:
        """Whether validation epoch ``epoch`` draws its figures: every ``plot_every`` epochs (setting; default 5,
        0: never) and the last one. Drawing with matplotlib costs about a second per figure, which on a CPU is
        more than an epoch of a small model takes."""
        every = int(getattr(self.hparams, "plot_every", 5) or 0)
        if every <= 0:
            return False
        limit = getattr(getattr(self.hparams, "epoch_counter", None), "limit", None)
        e = int(epoch or 0)
        return e % every == 0 or (limit is not None and e >= int(limit))

    def _plot_curves(self, epoch) -> None:
        """``plots/curves.png``: every per-epoch number of ``train_log.txt`` (losses, error rates, lr) so far,
        redrawn on the epochs of :meth:`plot_due`."""
        if not sb.utils.distributed.if_main_process() or not self.plot_due(epoch):
            return
        from speechproc.plot import save_curves_png, train_log_curves

        folder = Path(self.hparams.output_folder)
        curves = train_log_curves(folder / "train_log.txt")
        if not curves:
            return
        (folder / "plots").mkdir(parents=True, exist_ok=True)
        try:
            save_curves_png(curves, folder / "plots" / "curves.png", title=f"{folder.name}: training curves")
        except Exception as e:  # a picture never stops a training run
            logger.warning("plots/curves.png not written: %s: %s", type(e).__name__, e)

    def validation_plot_dir(self, stage, epoch) -> Optional[Path]:
        """``<output_folder>/plots/epochNNN`` (created) at the end of a validation stage on the main process whose
        figures are due (:meth:`plot_due`), where a task writes its per-epoch PNGs; None elsewhere."""
        if stage != sb.Stage.VALID or not sb.utils.distributed.if_main_process() or not self.plot_due(epoch):
            return None
        out = Path(self.hparams.output_folder) / "plots" / f"epoch{int(epoch or 0):03d}"
        out.mkdir(parents=True, exist_ok=True)
        return out

    def _train_loggers(self):
        # Called on every rank: SpeechBrain's loggers write on the main process only and then
        # broadcast, so skipping the call on the other ranks would deadlock.
        return [lg for lg in (getattr(self.hparams, "train_logger", None),
                              getattr(self.hparams, "tensorboard_logger", None)) if lg is not None]

    # word and character error rates of a validation/test stage (tasks that decode text)
    def start_error_rates(self) -> None:
        """Reset the WER/CER accumulators."""
        from speechbrain.utils.metric_stats import ErrorRateStats

        self.wer_metric = ErrorRateStats()
        self.cer_metric = ErrorRateStats()

    def append_error_rates(self, ids, hyp_words, ref_words) -> None:
        """Add a batch: word lists per utterance; characters include the spaces between words."""
        self.wer_metric.append(ids, hyp_words, ref_words)
        self.cer_metric.append(ids, [list(" ".join(h)) for h in hyp_words], [list(" ".join(r)) for r in ref_words])

    def error_rates(self):
        """``(WER, CER)`` in % of what was appended since :meth:`start_error_rates`."""
        return float(self.wer_metric.summarize("error_rate")), float(self.cer_metric.summarize("error_rate"))

    @staticmethod
    def lengths_from_relative(rel: torch.Tensor, total: int) -> torch.Tensor:
        """Absolute lengths ``(B,)`` (long) from SpeechBrain's relative lengths and the padded size."""
        return torch.round(rel * total).long()
