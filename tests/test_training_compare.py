"""``sketchgen-train compare``: learning curves of runs at matched steps (the conditional vs decoder-only question)."""
from __future__ import annotations

import json
from pathlib import Path

from training.cli import main


def _run(folder: Path, conditional: bool, evals: dict[int, float], partial_last_line: bool = False) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"conditional": conditional, "z_size": 128, "max_seq_len": 250}),
                                        encoding="utf-8")
    lines = [json.dumps({"event": "train", "step": 1, "r_loss": 9.0})]
    for step, test in evals.items():
        record = {"event": "eval", "step": step, "valid_r_loss": test + (0.03 if conditional else 0.05),
                  "valid_kl_loss": 0.3}
        if step != 600 or conditional:  # the decoder-only run did not evaluate the test set at step 600
            record["test_r_loss"] = test
        lines.append(json.dumps(record))
    text = "\n".join(lines) + "\n" + ('{"event": "ev' if partial_last_line else "")
    (folder / "metrics.jsonl").write_text(text, encoding="utf-8")
    return folder


def test_compare_prints_matched_steps_and_the_gap(tmp_path: Path, capsys) -> None:
    cond = _run(tmp_path / "sheep", True, {300: 0.70, 600: 0.50, 900: 0.40})
    uncond = _run(tmp_path / "sheep_uncond", False, {300: 0.69, 600: 0.60}, partial_last_line=True)
    assert main(["compare", str(cond), str(uncond)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 3") or line.startswith("| 6")
            or line.startswith("| 9")]
    assert [r.split(" | ")[0] for r in rows] == ["| 300", "| 600"]  # 900: not evaluated in both runs
    # valid gap, test gap, and what z can buy at most: L_KL 0.3 over 128 dimensions is 38.4 nats, over 250 steps 0.154
    assert rows[0].endswith("| +0.010 | -0.010 | 0.154 |")
    assert rows[1].endswith("| +0.120 | - | 0.154 |")  # no test L_R of the decoder-only run at 600: no test gap


def test_compare_names_a_folder_that_is_not_a_run(tmp_path: Path, capsys) -> None:
    cond = _run(tmp_path / "sheep", True, {300: 0.7})
    assert main(["compare", str(cond), str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert "nothing" in err and "metrics.jsonl" in err and "Traceback" not in err
