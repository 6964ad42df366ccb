"""Learning curves of several runs side by side, at the steps where every run was evaluated.

``sketchgen-train compare runs/sheep runs/sheep_uncond`` answers "what does the latent vector add?" at matched
training steps: a conditional model and a decoder-only one on the same data, compared by test L_R step for step
(comparing shipped models trained for different lengths would mix the effect of z with the effect of training
longer). Reads only each run's ``metrics.jsonl`` and ``config.json``: no TensorFlow, works while the runs train.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sketchgen.config import HParams
from sketchgen.errors import ConfigError
from training.checkpoint import CONFIG_FILE, METRICS_FILE, read_metrics


def latent_nats_per_step(l_kl: object, z_size: object, max_seq_len: object) -> float | None:
    """How much the latent vector can lower L_R at most, in L_R's units: L_KL is a mean over z's dimensions and L_R a
    mean over the N_max steps, so z carries L_KL * N_z nats per sketch, L_KL * N_z / N_max per step. By the ELBO, a
    decoder-only model as good as the conditional model's marginal has L_R <= L_R(cond.) + this, so the gap (uncond. -
    cond.) exceeds it only as far as the decoder-only model is the worse density model. None where a run's records
    lack one of the three."""
    if not (isinstance(l_kl, (int, float)) and isinstance(z_size, int) and isinstance(max_seq_len, int)
            and max_seq_len > 0):
        return None
    return l_kl * z_size / max_seq_len


def read_evaluations(run: Path) -> dict[int, dict[str, Any]]:
    """step -> the evaluation logged at that step."""
    return {r["step"]: r for r in read_metrics(run / METRICS_FILE)
            if r.get("event") == "eval" and isinstance(r.get("step"), int)}


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"


def compare_runs(runs: list[Path]) -> str:
    """A Markdown table: one row per step every run evaluated, valid and test L_R (and L_KL) of each run; with one
    conditional and one unconditional run, also the L_R gaps (unconditional minus conditional) on the validation set
    (evaluated at every evaluation step) and on the test set (where both runs evaluated it: a run evaluates the test
    set only at a new best validation cost), and beside them the most the latent can buy (``latent_nats_per_step`` of
    the conditional run's valid L_KL)."""
    if len(runs) < 2:
        raise ConfigError("compare needs at least two run folders")
    names = [r.name for r in runs]
    evals = [read_evaluations(r) for r in runs]
    configs = [HParams.load(r / CONFIG_FILE) for r in runs]
    conditional = [c.conditional for c in configs]
    steps = sorted(set.intersection(*(set(e) for e in evals)))
    if not steps:
        raise ConfigError(f"no step was evaluated in every run ({', '.join(names)})")
    pair = None
    if len(runs) == 2 and conditional[0] != conditional[1]:
        pair = (conditional.index(True), conditional.index(False))
    head = ["step"] + [f"`{n}` valid L_R / L_KL" for n in names] + [f"`{n}` test L_R" for n in names]
    if pair:
        head += ["valid gap (uncond. - cond.)", "test gap (uncond. - cond.)", "z's nats per step (L_KL N_z / N_max)"]
        z_size, max_seq_len = configs[pair[0]].z_size, configs[pair[0]].max_seq_len
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for step in steps:
        rows = [e[step] for e in evals]
        cells = [str(step)] + [f"{_fmt(r.get('valid_r_loss'))} / {_fmt(r.get('valid_kl_loss'))}" for r in rows]
        cells += [_fmt(r.get("test_r_loss")) for r in rows]
        if pair:
            for key in ("valid_r_loss", "test_r_loss"):
                c, u = rows[pair[0]].get(key), rows[pair[1]].get(key)
                cells.append(f"{u - c:+.3f}" if isinstance(c, (int, float)) and isinstance(u, (int, float)) else "-")
            cells.append(_fmt(latent_nats_per_step(rows[pair[0]].get("valid_kl_loss"), z_size, max_seq_len)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
