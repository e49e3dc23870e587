"""``python -m diffmix_utils.finetune params.yaml`` (or under ``torchrun`` / ``accelerate launch``,
one process per GPU): the fine-tune stage from the command line."""
import sys

from ..distributed import main_for, stage_parser
from .stage import run_finetune


def parser():
    """The command line of ``python -m diffmix_utils.finetune`` (docs/cli.md is generated from it)."""
    return stage_parser("finetune")


def main(argv=None) -> int:
    return main_for("finetune", run_finetune, argv)


if __name__ == "__main__":
    sys.exit(main())
