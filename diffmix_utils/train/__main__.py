"""``python -m diffmix_utils.train params.yaml`` (or under ``torchrun`` / ``accelerate launch``, one
process per GPU): the training stage from the command line, members in ``run_stage``'s order. A
member that reads a filtered pool needs the filter step first (``python -m diffmix_utils.filtering``).
"""
import sys

from ..distributed import main_for
from .stage import run_training

if __name__ == "__main__":
    sys.exit(main_for("train", run_training))
