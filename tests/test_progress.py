"""What a stage says while it runs: one line per member that needs work, one count line for the
members already complete (not a line each), and the bar's description carrying the member's place."""
from __future__ import annotations

from conftest import tiny_params

from diffmix_utils import jobs, progress
from diffmix_utils.finetune import run_finetune, run_stage


def test_members_announce_the_work_and_count_the_finished(tmp_path, capsys):
    p = tiny_params(tmp_path, sweep={"seed": [0, 1]})
    todo = jobs.stage_jobs(p, "train")
    seen = []
    for m in progress.members(todo, "train"):
        with progress.bar(range(1), desc="train") as bar:
            seen.append(bar.desc)
    out = capsys.readouterr().out
    assert "[train 1/2] diff-mix s=0.7 · seed 0" in out and "[train 2/2] diff-mix s=0.7 · seed 1" in out
    assert seen == ["train 1/2", "train 2/2"] and "already complete" not in out


def test_a_finished_stage_says_so_once(finetuned, capsys):
    p, folder = finetuned
    run_stage(p)
    out = capsys.readouterr().out
    assert out.strip() == f"[finetune] 1 of 1 already complete (under {folder.parent})"
    run_finetune(p)  # one job called alone still says where its folder is
    assert capsys.readouterr().out.strip() == f"fine-tune already complete: {folder}"
