"""Learning curves of several decoder cells at equal CPU time: which cell learns more per CPU second on this machine.

    python bench/learning_curve.py [--cpu-minutes 15] [--eval-every 20] [--runs NAME=HPARAMS ...]
                                   [--wall-minutes M] [--pin]

Each run is ``sketchgen-train`` on aaron_sheep (``../shared/data``) in its own process, all started together, each
under ``nice -n 19`` with one TensorFlow thread (``--pin``: each pinned to its own core with ``taskset``), and
stopped when the process has used ``--cpu-minutes`` of CPU time (user + system, read from /proc), or when
``--wall-minutes`` have passed (then the table compares the evaluations at the CPU time each run had reached).
CPU time, not wall time, is what is matched: the machine is shared, so the runs get unequal shares of it, but each
gets the same amount of computation. Run it from a copy of the code that nothing edits meanwhile: TensorFlow reads a
function's source again when it traces it (the evaluation's first call), so a file changed under a run can break it.
The validation L_R and L_KL of every evaluation are printed against the CPU time the run had used when it wrote
them (metrics.jsonl is polled), and the table goes to bench/results/learning_curve.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "sketch-rnn-datasets"
RESULTS = REPO / "bench" / "results" / "learning_curve.md"
DEFAULT_RUNS = ["layer_norm=dec_model=layer_norm", "hyper=dec_model=hyper"]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cpu-minutes", type=float, default=15.0)
    p.add_argument("--eval-every", type=int, default=20)
    p.add_argument("--runs", nargs="+", default=DEFAULT_RUNS, metavar="NAME=HPARAMS")
    p.add_argument("--wall-minutes", type=float, default=None, help="stop every run after this wall time")
    p.add_argument("--pin", action="store_true", help="pin each run to its own core (taskset)")
    p.add_argument("--data-dir", type=Path, default=DATA, help="folder of aaron_sheep.npz")
    p.add_argument("--keep", type=Path, default=None, help="keep the experiment folders here")
    args = p.parse_args(argv)
    if not (args.data_dir / "aaron_sheep.npz").is_file():
        sys.exit(f"{args.data_dir / 'aaron_sheep.npz'} is missing: this benchmark needs the real data")
    root = Path(tempfile.mkdtemp(prefix="learning_curve-")) if args.keep is None else args.keep
    root.mkdir(parents=True, exist_ok=True)
    budget = args.cpu_minutes * 60
    cores = sorted(os.sched_getaffinity(0))
    runs = {}
    for k, spec in enumerate(args.runs):
        name, hparams = spec.split("=", 1)
        folder = root / name
        pin = ["taskset", "-c", str(cores[k % len(cores)])] if args.pin else []
        command = ["nice", "-n", "19", *pin, sys.executable, "-m", "training",
                   "--data", "aaron_sheep", "--data-dir", str(args.data_dir), "--experiment-dir", str(folder),
                   "--hparams", f"{hparams},eval_every={args.eval_every},save_every=100000", "--steps", "100000",
                   "--no-tensorboard", "--quiet"]
        env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2", "TF_NUM_INTRAOP_THREADS": "1",
               "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=open(root / f"{name}.log", "w"))
        runs[name] = {"proc": proc, "folder": folder, "hparams": hparams, "evals": [], "seen": 0, "cpu": 0.0}
    print(f"runs in {root}; CPU budget {args.cpu_minutes} min each", flush=True)
    started = time.time()
    while any(r["proc"].poll() is None for r in runs.values()):
        for name, r in runs.items():
            if r["proc"].poll() is not None:
                continue
            try:
                r["cpu"] = cpu_seconds(r["proc"].pid)
            except (FileNotFoundError, ProcessLookupError):
                continue
            metrics = r["folder"] / "metrics.jsonl"
            lines = metrics.read_text().splitlines() if metrics.is_file() else []
            for line in lines[r["seen"]:]:
                record = json.loads(line)
                if record.get("event") == "eval":
                    r["evals"].append({"cpu_min": r["cpu"] / 60, "wall_min": (time.time() - started) / 60,
                                       "step": record["step"], "L_R": record["valid_r_loss"],
                                       "L_KL": record["valid_kl_loss"]})
                    print(f"{name}: step {record['step']} CPU {r['cpu'] / 60:.1f} min valid L_R "
                          f"{record['valid_r_loss']:.4f} L_KL {record['valid_kl_loss']:.4f}", flush=True)
            r["seen"] = len(lines)
            late = args.wall_minutes is not None and time.time() - started > args.wall_minutes * 60
            if r["cpu"] >= budget or late:
                r["proc"].terminate()
        time.sleep(2)
    table = report(runs, args, started)
    print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table)
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


def report(runs: dict, args: argparse.Namespace, started: float) -> str:
    lines = [f"# Learning curves at equal CPU time ({args.cpu_minutes:g} CPU minutes per run)", "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores shared with other work; "
             f"each run one TensorFlow thread, nice 19{', pinned to its own core' if args.pin else ''}; "
             f"wall time of the whole run "
             f"{(time.time() - started) / 60:.0f} min.", "",
             f"Command: `python bench/learning_curve.py --cpu-minutes {args.cpu_minutes:g} "
             f"--eval-every {args.eval_every}"
             f"{f' --wall-minutes {args.wall_minutes:g}' if args.wall_minutes else ''}{' --pin' if args.pin else ''} "
             f"--runs {' '.join(args.runs)}`", "",
             "Validation set of aaron_sheep (300 sketches), evaluated every "
             f"{args.eval_every} steps; the default config (batch 100, decoder 512, encoder 256, z 128) "
             "with the run's overrides.", ""]
    names = list(runs)
    lines.append("| step | " + " | ".join(f"{n}: CPU min | {n}: valid L_R | {n}: valid L_KL" for n in names) + " |")
    lines.append("|---" * (1 + 3 * len(names)) + "|")
    steps = sorted({e["step"] for r in runs.values() for e in r["evals"]})
    for step in steps:
        cells = []
        for r in runs.values():
            e = next((e for e in r["evals"] if e["step"] == step), None)
            cells += ([f"{e['cpu_min']:.1f}", f"{e['L_R']:.4f}", f"{e['L_KL']:.4f}"] if e else ["", "", ""])
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    lines.append("")
    for name, r in runs.items():
        last = r["evals"][-1] if r["evals"] else None
        what = (f"step {last['step']} at {last['cpu_min']:.1f} CPU min: valid L_R {last['L_R']:.4f}, "
                f"L_KL {last['L_KL']:.4f}" if last else "no evaluation")
        lines.append(f"- {name} (`{r['hparams']}`): last evaluation {what}; stopped at {r['cpu'] / 60:.1f} CPU min")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
