"""``python -m diffmix_utils.finetune params.yaml`` (or under ``torchrun`` / ``accelerate launch``,
one process per GPU): the fine-tune stage from the command line."""
import sys

from ..distributed import main_for
from .stage import run_finetune

if __name__ == "__main__":
    sys.exit(main_for("finetune", run_finetune))
