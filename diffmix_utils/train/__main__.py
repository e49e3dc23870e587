"""``python -m diffmix_utils.train params.yaml`` (or under ``torchrun`` / ``accelerate launch``, one
process per GPU): the training stage from the command line, members in ``run_stage``'s order. A
member that reads a filtered pool needs the filter step first (``python -m diffmix_utils.filtering``).
"""
import sys

from ..distributed import main_for, stage_parser
from .stage import run_training


def parser():
    """The command line of ``python -m diffmix_utils.train`` (docs/cli.md is generated from it)."""
    return stage_parser("train")


def main(argv=None) -> int:
    return main_for("train", run_training, argv)


if __name__ == "__main__":
    sys.exit(main())
