"""``sketchgen-train`` (also ``python -m training``): train a sketch-rnn model, resume it, evaluate it.

    sketchgen-train --data aaron_sheep --data-dir DIR --experiment-dir runs/sheep [--hparams k=v,...] [--steps N]
    sketchgen-train --experiment-dir runs/sheep --resume
    sketchgen-train ... --strategy mirrored            (all local GPUs; multiworker: machines named by TF_CONFIG)
    sketchgen-train evaluate runs/sheep [--split valid,test] [--checkpoint best|latest]
    sketchgen-train compare runs/sheep runs/sheep_uncond   (learning curves at matched steps, Markdown)

Flags are kebab-case; the original ``sketch_rnn_train.py``'s spellings (``--data_dir``, ``--log_root``) and every
other snake_case spelling stay accepted as aliases.
Precedence: defaults < ``--config FILE.json`` < ``--hparams`` < ``--data/--seed/--unconditional/--steps/--epochs``.
Every user error prints ``error: <message>`` and exits with status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sketchgen.config import HParams
from sketchgen.console import ArgumentParser, add_max_data_mb, apply_max_data_mb, console_main
from sketchgen.errors import ConfigError
from sketchgen.fileio import check_writable_folder

DEFAULT_DATA_DIR = "data"  # where `sketchgen-data download` puts files by default
STRATEGIES = ("default", "mirrored", "multiworker")
IMPLEMENTATIONS = ("auto", "fused", "keras_lstm", "reference")  # training.cells.SketchLSTM (kept import-free)
# hyperparameters that may change when a run is resumed: they do not change the model, the data or its order
RESUMABLE_KEYS = frozenset({"num_steps", "save_every", "eval_every"})


def build_train_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="sketchgen-train",
                       description="Train a sketch-rnn model (sub-commands: evaluate, compare).",
                       epilog="sketchgen-train evaluate EXPERIMENT --help shows the evaluation options.")
    p.add_argument("--data", nargs="+", metavar="NAME_OR_FILE",
                   help="data files, or names looked up in --data-dir (cat -> DIR/cat.npz); several are combined. "
                        "Default: the data_set hyperparameter (aaron_sheep.npz)")
    p.add_argument("--data-dir", "--data_dir", dest="data_dir", default=None, metavar="DIR",
                   help=f"folder of the .npz data files (default {DEFAULT_DATA_DIR})")
    p.add_argument("--experiment-dir", "--experiment_dir", "--log-root", "--log_root", dest="experiment_dir",
                   default=None, metavar="DIR",
                   help="where checkpoints, config.json, data.json and metrics.jsonl go "
                        "(default experiments/<first data set>)")
    p.add_argument("--config", metavar="FILE.json", help="hyperparameters from a JSON file (e.g. a run's config.json)")
    p.add_argument("--hparams", default="", metavar="k=v,...",
                   help="override hyperparameters, e.g. 'batch_size=50,dec_rnn_size=256' (the original's syntax)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, metavar="N", help="train until this step (sets num_steps)")
    length.add_argument("--epochs", type=float, metavar="E", help="train for E passes over the training set")
    p.add_argument("--resume", "--resume-training", "--resume_training", action="store_true",
                   help="continue the run in --experiment-dir exactly where its latest checkpoint left it")
    p.add_argument("--init-from", "--init_from", dest="init_from", metavar="MODEL",
                   help="start a new run from the weights of an exported model folder (a path, or a name under "
                        "assets/models): its config and data scale, its step count (the schedules go on from it; "
                        "--steps N is the total), a fresh optimizer state")
    p.add_argument("--seed", type=int, help="seed of weights, dropout, z noise and data order (default 0)")
    p.add_argument("--unconditional", action="store_true", help="decoder-only model (sets conditional=false)")
    p.add_argument("--no-bucketing", dest="bucketing", action="store_false",
                   help="pad every batch to max_seq_len like the original (slower; same data order semantics)")
    p.add_argument("--bucket-pool", "--bucket_pool", dest="bucket_pool", type=int, default=0, metavar="N",
                   help="bucketing sorts pools of N batches by length (default 0: the whole epoch; a fresh run only)")
    p.add_argument("--xla", action="store_true", help="compile the train step with XLA (slower on most CPUs)")
    p.add_argument("--strategy", choices=STRATEGIES, default="default",
                   help="default: one device (a GPU when TensorFlow sees one); mirrored: every local GPU "
                        "(tf.distribute.MirroredStrategy); multiworker: several machines, each started with its "
                        "TF_CONFIG (MultiWorkerMirroredStrategy). The numbers do not depend on the choice")
    p.add_argument("--lstm", dest="lstm_implementation", choices=IMPLEMENTATIONS, default="auto",
                   help="how the LSTMs run (same results): auto (cuDNN on a GPU when the config allows, else the "
                        "fused TensorFlow loop), fused, keras_lstm, reference (keras.layers.RNN, the slowest)")
    p.add_argument("--log-every", "--log_every", dest="log_every", type=int, default=20, metavar="N",
                   help="metrics.jsonl line every N steps")
    p.add_argument("--tensorboard-every", "--tensorboard_every", dest="tensorboard_every", type=int, default=10,
                   metavar="N",
                   help="TensorBoard training scalars every N steps (evaluations and sample images: every "
                        "eval_every steps)")
    p.add_argument("--no-tensorboard", dest="tensorboard", action="store_false",
                   help="write no TensorBoard logs (default: EXPERIMENT_DIR/tensorboard)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_max_data_mb(p)
    return p


def build_evaluate_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="sketchgen-train evaluate",
                description="Print L_R and L_KL of a trained run on its validation and test sets.")
    p.add_argument("experiment", metavar="EXPERIMENT", help="experiment folder (or a checkpoint folder)")
    p.add_argument("--split", default="valid,test", help="comma-separated splits (default valid,test)")
    p.add_argument("--checkpoint", choices=("best", "latest"), default="best",
                   help="which checkpoint (default best, else latest)")
    p.add_argument("--data-dir", "--data_dir", dest="data_dir", default=None, metavar="DIR",
                   help="look the run's data files up by name in DIR (when they moved since training)")
    p.add_argument("--data", nargs="+", metavar="NAME_OR_FILE", help="the run's data files at a new location")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_max_data_mb(p)
    return p


# --------------------------------------------------------------------------------------------------------------------

def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _fresh_hparams(args: argparse.Namespace, base: HParams | None = None) -> HParams:
    """A new run's hyperparameters; ``base``: the config of the model a run starts from (--init-from)."""
    if base is not None:
        hp = base
    else:
        hp = HParams.load(args.config) if args.config else HParams()
    hp = hp.with_overrides(args.hparams)
    overrides: dict[str, object] = {}
    if args.data:
        overrides["data_set"] = list(args.data)
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.unconditional:
        overrides["conditional"] = False
    if args.steps is not None:
        overrides["num_steps"] = args.steps
    return hp.with_overrides(overrides) if overrides else hp


def _resumed_hparams(args: argparse.Namespace, experiment: Path) -> HParams:
    from training.checkpoint import CONFIG_FILE
    if args.config:
        raise ConfigError("--config cannot be used with --resume: a resumed run keeps its own config.json")
    hp = HParams.load(experiment / CONFIG_FILE)
    if args.hparams:
        frozen = sorted(_named_keys(args.hparams) - RESUMABLE_KEYS)
        if frozen:
            raise ConfigError(f"--resume keeps the run's hyperparameters; only {', '.join(sorted(RESUMABLE_KEYS))} "
                              f"may change (asked to change {', '.join(frozen)})")
        hp = hp.with_overrides(args.hparams)
    if args.seed is not None and args.seed != hp.seed:
        raise ConfigError(f"--seed {args.seed} differs from the run's seed {hp.seed}; --resume keeps it")
    if args.unconditional and hp.conditional:
        raise ConfigError("--unconditional: the run being resumed is a conditional model")
    if args.steps is not None:
        hp = hp.with_overrides({"num_steps": args.steps})
    return hp


def _named_keys(overrides: str) -> set[str]:
    from sketchgen.config import _split_overrides
    return {item.split("=", 1)[0].strip() for item in _split_overrides(overrides) if "=" in item}


def _default_experiment_dir(hp: HParams) -> Path:
    first = Path(hp.data_set[0]).name.removesuffix(".npz") or "default"
    return Path("experiments") / first


def _epochs_to_steps(epochs: float, batches_per_epoch: int) -> int:
    if not epochs > 0:
        raise ConfigError(f"--epochs must be > 0, got {epochs}")
    return max(1, round(epochs * batches_per_epoch))


def _train(args: argparse.Namespace) -> int:
    from training import checkpoint as ckpt

    if args.log_every < 1:
        raise ConfigError(f"--log-every must be >= 1, got {args.log_every}")
    if args.tensorboard_every < 1:
        raise ConfigError(f"--tensorboard-every must be >= 1, got {args.tensorboard_every}")
    if args.bucket_pool < 0:
        raise ConfigError(f"--bucket-pool must be >= 0, got {args.bucket_pool}")
    if args.strategy == "multiworker" and not os.environ.get("TF_CONFIG"):
        raise ConfigError("--strategy multiworker needs the TF_CONFIG environment variable (the cluster's workers "
                          "and this process's task); see docs/training.md")
    initial = None
    if args.init_from:
        if args.resume:
            raise ConfigError("--init-from starts a new run from a model folder, --resume continues a run: use one")
        if args.config:
            raise ConfigError("--init-from takes the model's own config; change hyperparameters with --hparams")
        from training.warm_start import read_initial_model
        initial = read_initial_model(args.init_from)
    if args.resume:
        if args.experiment_dir is None:
            raise ConfigError("--resume needs --experiment-dir (the folder of the run to continue)")
        experiment = Path(args.experiment_dir)
        latest = ckpt.checkpoint_dir(experiment, ckpt.LATEST)
        if not (experiment / ckpt.CONFIG_FILE).is_file():
            raise ConfigError(f"{experiment}: no run to resume here (no {ckpt.CONFIG_FILE})")
        if latest is None:
            raise ConfigError(f"{experiment}: cannot resume: there is no complete '{ckpt.LATEST}' checkpoint "
                              f"({ckpt.LATEST}/{ckpt.CKPT_PREFIX}.index and {ckpt.LATEST}/{ckpt.STATE_FILE}); "
                              "nothing was changed. Start a new run with another --experiment_dir")
        check_writable_folder(experiment)
        hp = _resumed_hparams(args, experiment)
    else:
        hp = _fresh_hparams(args, initial.config if initial else None)
        if initial is not None:
            from training.warm_start import check_compatible
            check_compatible(initial, hp.to_dict())
            if args.epochs is None and hp.num_steps <= initial.steps_trained:
                raise ConfigError(f"--init-from {args.init_from}: the model has trained {initial.steps_trained} "
                                  f"steps; give the total to reach with --steps N (N > {initial.steps_trained})")
        experiment = Path(args.experiment_dir) if args.experiment_dir else _default_experiment_dir(hp)
        check_writable_folder(experiment)
        if ckpt.checkpoint_dir(experiment, ckpt.LATEST) or ckpt.checkpoint_dir(experiment, ckpt.BEST):
            raise ConfigError(f"{experiment} already holds a training run; continue it with --resume, or choose "
                              "another --experiment-dir")
        latest = None

    apply_max_data_mb(args)
    _quiet_tensorflow()
    # The data and the checkpoint's state are read before TensorFlow is imported: a bad file fails in a second.
    from training.dataset import BatchingOptions, load_sketch_data

    if args.resume:
        state = ckpt.read_state(latest)
        info = ckpt.read_data_info(experiment)
        expected = {s["name"]: s["sha256"] for s in info.get("sources", [])}
        if args.data:
            entries, data_dir = list(args.data), args.data_dir
        elif args.data_dir:
            entries, data_dir = [s["name"] for s in info["sources"]], args.data_dir
        else:
            entries, data_dir = [s["path"] for s in info["sources"]], None
        data = load_sketch_data(entries, data_dir, hp.max_seq_len, scale=float(info["scale_factor"]),
                                expected_sha256=expected)
        names = [s.name for s in data.sources]
        if names != list(info.get("data_sets", names)):
            raise ConfigError(f"the run was trained on {', '.join(info['data_sets'])}; --resume got "
                              f"{', '.join(names)}")
    else:
        data = load_sketch_data(hp.data_set, args.data_dir or DEFAULT_DATA_DIR, hp.max_seq_len,
                                scale=initial.scale_factor if initial else None)  # the model's units
        hp = hp.with_overrides({"data_set": [s.name for s in data.sources], "max_seq_len": data.max_seq_len})

    strategy = _make_strategy(args.strategy)  # before any other TensorFlow op (multi-worker needs that)
    if latest is not None:
        ckpt.verify_checkpoint(latest)  # a damaged checkpoint refuses here, before anything in the run changes
    from training.trainer import TrainOptions, Trainer

    if latest is not None:
        options = TrainOptions.from_dict(state.get("options", {}), progress=not args.quiet)
        if not args.bucketing and options.batching.bucketing:
            raise ConfigError("--no-bucketing: the run being resumed uses bucketing; --resume keeps it")
        options.jit_compile = args.xla or options.jit_compile
    else:
        batching = BatchingOptions(bucketing=args.bucketing, pool_batches=args.bucket_pool,
                                   pad_multiple=8 if args.xla else 1)  # XLA compiles once per distinct length
        options = TrainOptions(batching, jit_compile=args.xla, log_every=args.log_every, progress=not args.quiet)
    options.lstm_implementation = args.lstm_implementation
    if latest is None:
        (experiment / ckpt.METRICS_FILE).unlink(missing_ok=True)  # left by an earlier attempt that saved nothing
    print(data.summary(), flush=True)

    if args.epochs is not None:
        per_epoch = len(data.splits["train"]) // hp.batch_size
        before = initial.steps_trained if initial else 0
        hp = hp.with_overrides({"num_steps": before + _epochs_to_steps(args.epochs, per_epoch)})
    hooks = []
    if args.tensorboard:
        from training.tensorboard import tensorboard_hooks
        hooks = tensorboard_hooks(experiment, every=args.tensorboard_every)
    trainer = Trainer(hp, data, experiment, options, hooks=hooks, strategy=strategy)
    if latest is not None:
        trainer.restore(latest)
        print(f"resuming {experiment} at step {trainer.step}", flush=True)
    elif initial is not None:
        errors = trainer.start_from_model(initial, data.splits["valid"])
        print(f"starting from {initial.folder} at step {trainer.step} (its weights reproduce its ONNX graphs within "
              f"{max(errors.values()):.1e}; optimizer state: fresh)", flush=True)
    trainer.write_run_files()
    params = sum(int(v.numpy().size) for v in trainer.model.trainable_variables)
    print(f"model: {'conditional' if hp.conditional else 'unconditional'}, {params:,} parameters; training to step "
          f"{hp.num_steps} ({trainer.batcher.batches_per_epoch} steps per epoch of batch {hp.batch_size}); "
          f"writing {experiment}", flush=True)
    print(_device_summary(trainer), flush=True)
    started = time.time()
    _stop_like_ctrl_c_on_sigterm()
    try:
        trainer.train(hp.num_steps)
    except KeyboardInterrupt:
        print(f"\ninterrupted at step {trainer.step}; checkpoint in {experiment / ckpt.LATEST}; "
              f"continue with: sketchgen-train --experiment-dir {experiment} --resume", file=sys.stderr)
        return 130
    minutes = (time.time() - started) / 60
    best = ""
    if trainer.best_step is not None:
        best = f"; best validation cost {trainer.best_cost:.4f} at step {trainer.best_step} in {experiment / ckpt.BEST}"
    print(f"trained to step {trainer.step} in {minutes:.1f} min; latest checkpoint in {experiment / ckpt.LATEST}"
          f"{best}", flush=True)
    return 0


def _stop_like_ctrl_c_on_sigterm() -> None:
    """SIGTERM (a machine shutting down, ``kill``, a job scheduler) stops training as Ctrl-C does: the trainer saves
    the latest checkpoint first, so ``--resume`` goes on from the step where it stopped, not from the last periodic
    save. Runs started in the background (``cmd &``) ignore SIGINT, so this is also how to stop them cleanly."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (main() called from a worker thread): leave signals alone
        pass


def _make_strategy(name: str):
    """None (TensorFlow's default: one device, the first GPU when there is one) or a tf.distribute strategy."""
    if name == "default":
        return None
    import tensorflow as tf
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except (ValueError, KeyError, tf.errors.OpError) as exc:
        raise ConfigError(f"--strategy multiworker: cannot set up the cluster from TF_CONFIG ({exc})") from None


def _device_summary(trainer) -> str:
    import tensorflow as tf
    gpus = tf.config.list_logical_devices("GPU")
    where = f"{len(gpus)} GPU(s)" if gpus else "CPU"
    lstm = ", ".join(sorted({layer.resolve_implementation(training=True) for layer in trainer.model.lstm_layers}))
    replicas = f", {trainer.replicas} replicas" if trainer.replicas > 1 else ""
    return f"device: {where}{replicas}; LSTM: {lstm}; TensorBoard: {'on' if trainer.hooks else 'off'}"


def _evaluate(args: argparse.Namespace) -> int:
    splits = [s.strip() for s in args.split.split(",") if s.strip()]
    if not splits:
        raise ConfigError("--split names no split (use e.g. valid,test)")
    apply_max_data_mb(args)
    _quiet_tensorflow()
    from training.evaluate import evaluate_experiment
    results = evaluate_experiment(args.experiment, splits, which=args.checkpoint, data_dir=args.data_dir,
                                  data=args.data)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"checkpoint {results['checkpoint']} (step {results['step']})")
    print(f"{'split':<7} {'L_R':>8} {'L_KL':>8} {'offsets':>8} {'pen':>8} {'sketches':>9}")
    for split in splits:
        r = results[split]
        print(f"{split:<7} {r['r_loss']:8.4f} {r['kl_loss']:8.4f} {r['offset_loss']:8.4f} {r['pen_loss']:8.4f} "
              f"{r['sketches']:9d}")
    return 0


def build_compare_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="sketchgen-train compare",
                description="Valid and test L_R of several runs at the steps where all were evaluated (Markdown).")
    p.add_argument("runs", nargs="+", type=Path, metavar="EXPERIMENT", help="training run folders")
    return p


def _compare(args: argparse.Namespace) -> int:
    from training.compare import compare_runs
    print(compare_runs(list(args.runs)))
    return 0


@console_main
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "evaluate":
        return _evaluate(build_evaluate_parser().parse_args(argv[1:]))
    if argv and argv[0] == "compare":
        return _compare(build_compare_parser().parse_args(argv[1:]))
    if argv and argv[0] == "train":
        argv = argv[1:]
    return _train(build_train_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
