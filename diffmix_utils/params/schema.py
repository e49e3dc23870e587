"""The parameter schema: every key of every section, with its default, type, range or choices and
a one-line doc. ``params`` validates against it; ``tools/parameter_reference.py`` writes
``docs/parameters.md`` from it (a test keeps the two equal).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ..data.class_names import CHOICES as CLASS_NAME_CHOICES
from ..data.registry import DATASET_NAMES as DATASETS
from ..stages import NOTEBOOK_STAGES

STRATEGIES = ("none", "diff-mix", "diff-aug", "diff-gen", "real-mix", "real-aug", "real-gen",
              "ti-mix", "ti-aug", "noise-mix", "oracle-mix")
FINETUNE_MODES = ("joint", "ti_then_lora", "ti_only", "lora_only")
BUNDLED_MODELS = ("tiny-sd",)
# hub ids that were deleted, and their maintained copies (runwayml's SD-1.5 went in September 2024)
MOVED_MODELS = {"runwayml/stable-diffusion-v1-5": "stable-diffusion-v1-5/stable-diffusion-v1-5"}
SECTIONS = ("data", "model", "finetune", "synthesize", "filter", "train", "analyze", "cluster")
# keys that moved, and where to: an old spelling still works, with a one-line notice
MOVED_KEYS = {"synthesize.filter": "filter.scorer", "synthesize.filter_fraction": "filter.fraction",
              "synthesize.filter_model": "filter.model"}
STAGES = NOTEBOOK_STAGES  # the runner's --only choices: the stages with a notebook (diffmix_utils/stages.py)


@dataclass(frozen=True)
class Field:
    default: Any
    kind: str                 # "int" | "float" | "str" | "bool" | "list[float]" | "list[str]" | "dict"
    doc: str
    choices: tuple | None = None
    low: float | None = None  # inclusive unless low_open
    high: float | None = None  # inclusive unless high_open
    low_open: bool = False
    high_open: bool = False
    nullable: bool = False
    pattern: str | None = None


F = Field
SCHEMA: dict[str, Any] = {
    "name": F("smoke", "str", "run directory <workdir>/<name>/ and figures/<name>/",
              pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*"),
    "seed": F(0, "int", "classifier-training seed (fine-tune and synthesis have their own; replicate: draw offsets them)", low=0, high=2147483647),
    "replicate": F("classifier", "str", "what a seed resamples: classifier (its training only; one few-shot "
                   "draw, fine-tune and pool for every seed: intervals conditional on them) or draw (also "
                   "data.split_seed, finetune.seed and synthesize.seed, each offset by seed: intervals over "
                   "draws, the paper's setting)", choices=("classifier", "draw")),
    "workdir": F("runs", "str", "where runs and the shared artifact store live"),
    "device": F("auto", "str", "torch device", choices=("auto", "cpu", "cuda")),
    "deterministic": F(False, "bool", "on CUDA: deterministic kernels (torch deterministic algorithms, a fixed "
                       "cuBLAS workspace, cudnn.benchmark off; slower), recorded in provenance.json; a GPU run "
                       "then repeats bit for bit on the same GPU model, driver and libraries (docs/artifacts.md)"),
    "data": {
        "dataset": F("toybirds", "str", "dataset registry name", choices=DATASETS),
        "root": F(None, "str", "dataset folder in its official layout (null: kit-rendered cache for "
                  "toybirds); see docs/datasets.md", nullable=True),
        "options": F({}, "dict", "layout options of the chosen dataset (e.g. aircraft train_split, "
                     "flowers split, waterbirds cub_root, hf columns); see docs/datasets.md"),
        "download": F(False, "bool", "let torchvision download the dataset into data.root "
                      "(flowers, aircraft, pet only)"),
        "num_classes": F(8, "int", "toybirds: number of classes", low=2, high=16),
        "image_size": F(64, "int", "toybirds: rendered image size in px", low=32, high=512),
        "train_per_class": F(24, "int", "toybirds: rendered train+val images per class", low=2, high=10000),
        "test_per_class": F(12, "int", "toybirds: rendered test images per class", low=1, high=10000),
        "background_match": F(None, "float", "toybirds Waterbirds-style shift: in train the "
                              "background family matches the class group with this probability; "
                              "test flips it (null: backgrounds independent of class)",
                              low=0.0, high=1.0, nullable=True),
        "shots": F(None, "int", "few-shot: K train images per class (null: all)", low=1, nullable=True),
        "imbalance": F(None, "float", "long-tail imbalance factor IF = n_max/n_min (null: none)",
                       low=1.0, nullable=True, high=1000.0),
        "longtail_formula": F("kit", "str", "kit: n_r = n_max IF^(-r/(C-1)); reference: n_r = (N/C) "
                              "IF^(-r/(C-2)) (the reference's gen_imbalanced_data)", choices=("kit", "reference")),
        "val_fraction": F(0.1, "float", "fraction of each class's train images held out for model "
                          "selection", low=0.0, high=1.0, high_open=True),
        "allow_duplicates": F(False, "bool", "keep images whose bytes appear twice across train and test or "
                              "under two labels (refused by default: leakage or an ambiguous label)"),
        "split_seed": F(0, "int", "seed of the split file that every stage shares", low=0, high=2147483647),
        "class_names": F("dataset", "str", "names the name-prompted strategies (real-*, lora_only) prompt with: "
                         "the dataset's; partial (its first word + an uninformative word, toybirds); "
                         "uninformative (invented words the oracle check finds carry no class, toybirds); "
                         "misleading (invented words that steer to other classes; opaque is its old name); "
                         "learned-token artifacts are the same in all", choices=CLASS_NAME_CHOICES),
    },
    "model": {
        "base": F("bundled:tiny-sd", "str", "bundled:<name> | hub id | local diffusers folder"),
        "resolution": F(64, "int", "diffusion resolution in px (512 for SD-1.5)", low=32, high=1024),
        "revision": F(None, "str", "hub commit or tag that pins the base model's weights (null: the cached "
                      "main); ignored for bundled models and local folders", nullable=True),
    },
    "finetune": {
        "mode": F("joint", "str", "what is trained", choices=FINETUNE_MODES),
        "steps": F(60, "int", "optimizer steps", low=1, high=10_000_000),
        "batch_size": F(4, "int", "images per step, over all processes (reference: 2 per process)", low=1, high=65536),
        "lr": F(5e-5, "float", "LoRA learning rate", low=0.0, low_open=True),
        "ti_lr": F(5e-5, "float", "class-token embedding learning rate", low=0.0, low_open=True),
        "weight_decay": F(1e-2, "float", "AdamW weight decay (both groups)", low=0.0),
        "lora_rank": F(10, "int", "LoRA rank", low=1, high=1024),
        "lora_alpha": F(None, "int", "LoRA alpha (null: = rank)", low=1, nullable=True, high=4096),
        "init_token": F("42170", "str", "class-token init: a token id (digits) or a one-token "
                        "word; reference: id 42170, the CLIP piece 'ktn'"),
        "grad_clip": F(1.0, "float", "max grad norm of the LoRA params", low=0.0, low_open=True),
        "random_flip": F(True, "bool", "random horizontal flip"),
        "center_crop": F(False, "bool", "centre crop (else random crop) at model.resolution"),
        "superclass": F(None, "str", "prompt super-category (null: the dataset's)", nullable=True),
        "seed": F(42, "int", "fine-tune seed", low=0, high=2147483647),
        "ti_steps": F(None, "int", "ti_then_lora: steps of the token phase (null: half of steps)", low=1,
                      nullable=True, high=10_000_000),
        "checkpoint_every": F(500, "int", "save a resumable checkpoint every K steps (0: never)", low=0),
        "checkpoint_limit": F(2, "int", "keep this many newest checkpoints", low=1),
        "num_processes": F(1, "int", "data-parallel processes, one per GPU (batch_size is global; "
                           "without CUDA: one process)", low=1),
        "gradient_checkpointing": F(False, "bool", "recompute the UNet's activations in the backward pass: "
                                    "less memory (fits SD-1.5 at 512 px on smaller GPUs), slower (a second forward; not measured by the kit)"),
        "mixed_precision": F("fp16", "str", "on CUDA: autocast dtype of the fine-tune (CPU: fp32)",
                             choices=("no", "fp16", "bf16")),
    },
    "synthesize": {
        "strategy": F("diff-mix", "str", "synthesis strategy ('none' = real data only; controls: 'noise-mix' "
                      "uniform noise, 'oracle-mix' (toybirds) the target drawn on the source's background, "
                      "both with diff-mix's labels)",
                      choices=STRATEGIES),
        "strength": F(0.7, "float", "img2img strength s", low=0.0, high=1.0, low_open=True),
        "strength_choices": F(None, "list[float]", "draw s per task uniformly from this list "
                              "(reference 'uniform': [0.3, 0.5, 0.7, 0.9])", low=0.0, high=1.0,
                              low_open=True, nullable=True),
        "multiplier": F(5.0, "float", "synthetic images = multiplier x |train| (reference: 5; 10 for long-tail)",
                        low=0.0, low_open=True, high=10000.0),
        "target_sampling": F("uniform", "str", "target class of a mix task: uniform over classes, or tail: "
                             "p(c) ∝ 1/(n_c+1) over the train counts (long-tail; the reference applies that "
                             "weighting when drawing, train.synthetic_sampling: tail)", choices=("uniform", "tail")),
        "steps": F(25, "int", "DPM-Solver inference steps", low=1, high=1000),
        "guidance": F(7.5, "float", "classifier-free guidance scale", low=0.0, high=100.0),
        "batch_size": F(16, "int", "images per pipeline call", low=1, high=65536),
        "seed": F(0, "int", "synthesis seed; image seed = f(seed, task index)", low=0, high=2147483647),
        "num_processes": F(None, "int", "worker processes sharing the batches, images identical for any number "
                           "(null: one per GPU; one on CPU, where cpu_workers share the cores)", low=1, nullable=True),
        "cpu_workers": F(None, "int", "on CPU, threads of a process that run batches side by side, images "
                         "identical for any number (null: usable cores / cpu_threads; with compile, that many "
                         "processes instead)", low=1, nullable=True),
        "cpu_threads": F(1, "int", "torch threads of each CPU worker, fixed because the thread count changes the "
                         "images' last bits (another value is part of the pool's key); one per worker is the "
                         "fastest (benchmarks/synthesis_speed.py)", low=1),
        "dtype": F("auto", "str", "weights and activations of the synthesis pipeline (auto: fp16 on CUDA, as "
                   "the reference; fp32 on CPU, where half precision is slower)",
                   choices=("auto", "fp32", "fp16", "bf16")),
        "compile": F(False, "bool", "torch.compile the UNet, static shapes (images differ from eager in the last "
                     "bits, so it is part of the pool's key; the 1-vs-N identity test covers eager only)"),
        "vae_slicing": F(False, "bool", "decode a batch's latents one image at a time: the VAE decode's peak "
                         "memory no longer grows with synthesize.batch_size"),
        "cpu_offload": F(False, "bool", "diffusers' model CPU offload: each model (text encoder, UNet, VAE) "
                         "moves to the GPU only while it runs (needs CUDA; slower; ignored on CPU)"),
    },
    "filter": {  # a step of its own in 03_train, between synthesis and the training that reads the pool
        "scorer": F("none", "str", "score each pool image and mark the lowest filter.fraction not kept: clip (the "
                    "reference's CLIP filter) or classifier (the run's baseline trained on real data)",
                    choices=("none", "clip", "classifier")),
        "fraction": F(0.1, "float", "fraction of the pool the filter marks not kept", low=0.0, high=1.0,
                      high_open=True),
        "model": F("openai/clip-vit-base-patch32", "str", "CLIP hub id (local cache) or folder for scorer: clip"),
    },
    "train": {
        "backbone": F("resnet18", "str", "timm model name, name.tag (one set of timm weights, e.g. "
                      "resnet50.tv_in1k: torchvision's IMAGENET1K_V1, the reference's), or torchvision:<name> "
                      "(e.g. torchvision:vit_b_16)"),
        "weights": F(None, "str", "bundled:toy-regnet (with backbone regnetx_002: the kit's pretrained toy "
                     "classifier, offline), or for torchvision:<name> backbones the weight enum (e.g. "
                     "IMAGENET1K_SWAG_E2E_V1, the reference's ViT-B/16 @384; null: DEFAULT)", nullable=True),
        "pretrained": F(False, "bool", "load pretrained weights (timm hub or torchvision; from the local cache)"),
        "image_size": F(64, "int", "classifier input size", low=16, high=2048),
        "epochs": F(2, "int", "training epochs", low=1, high=100_000),
        "eval_every": F(1, "int", "evaluate val and test every N epochs and after the last (model selection "
                        "picks among the evaluated epochs)", low=1, high=100_000),
        "batch_size": F(32, "int", "batch size", low=1, high=65536),
        "lr": F(0.05, "float", "SGD learning rate", low=0.0, low_open=True, high=100.0),
        "momentum": F(0.9, "float", "SGD momentum", low=0.0, high=1.0),
        "weight_decay": F(5e-4, "float", "SGD weight decay", low=0.0),
        "warmup_fraction": F(0.1, "float", "linear warmup fraction of all steps", low=0.0, high=1.0),
        "label_smoothing": F(0.1, "float", "label smoothing epsilon", low=0.0, high=1.0, high_open=True),
        "p": F(0.1, "float", "probability of replacing a real sample by a synthetic one",
               low=0.0, high=1.0),
        "gamma": F(0.5, "float", "soft label exponent: weight of the target class is s^gamma", low=0.0, high=100.0),
        "oracle_fraction": F(0.0, "float", "toybirds control (the fidelity dial): this fraction of the pool's "
                             "rows is replaced by the oracle translation of the same task (nested: a larger "
                             "fraction keeps the smaller one's rows; 1 is synthesize.strategy: oracle-mix)", low=0.0,
                             high=1.0, high_open=True),
        "label_toward": F("target", "str", "the class a synthetic image's weight s^gamma goes to: target "
                          "(Diff-Mix) or source (a control: the labels point the wrong way)",
                          choices=("target", "source")),
        "kappa": F(1.0, "float", "soft label scale (the reference's later code used 0.9)",
                   low=0.0, high=1.0, low_open=True),
        "num_workers": F(0, "int", "DataLoader workers", low=0),
        "synthetic_sampling": F("uniform", "str", "synthetic draw: uniform over the pool, or tail: target "
                                "class c with p ∝ 1/(n_c+1) (the reference's long-tail 'weightedSyn')",
                                choices=("uniform", "tail")),
        "target_classes_per_source": F(None, "int", "ablation: keep only K target classes per source class "
                                       "(null: all)", low=1, nullable=True),
        "mixup": F(0.0, "float", "Mixup probability per batch (reference baseline: 0.3)", low=0.0, high=1.0),
        "cutmix": F(0.0, "float", "CutMix probability per sample (reference baseline: 0.1)", low=0.0, high=1.0),
        "mix_alpha": F(1.0, "float", "Beta(alpha, alpha) of Mixup / CutMix lambda", low=0.0, low_open=True, high=100.0),
        "loss": F("ce", "str", "ce | balanced_softmax | ldam (long tail)", choices=("ce", "balanced_softmax", "ldam")),
        "reweight": F("none", "str", "class re-weighting: none | drw (from drw_epoch) | cb (from the start)",
                      choices=("none", "drw", "cb")),
        "drw_epoch": F(None, "int", "first DRW epoch (null: 80 % of epochs, as the reference's 160/200)",
                       low=0, nullable=True),
        "reweight_beta": F(0.9999, "float", "effective-number beta of DRW / CB weights", low=0.0, high=1.0,
                           high_open=True),
        "cmo": F(0.0, "float", "CMO: probability per batch of pasting a minority-sampled box (reference: 0.5)",
                 low=0.0, high=1.0),
        "shot_thresholds": F(None, "list[float]", "many/few thresholds [hi, lo]: many n > hi, few n < lo "
                             "(null: the reference's per dataset when data.imbalance is set)", low=0.0,
                             nullable=True),
        "skip_bad_images": F(False, "bool", "skip (and count) unreadable images instead of stopping"),
        "amp": F(True, "bool", "on CUDA: fp16 autocast with loss scaling and channels_last (ignored on CPU)"),
        "num_processes": F(1, "int", "data-parallel processes, one per GPU (batch_size is global; "
                           "without CUDA: one process)", low=1),
        "model_kwargs": F({}, "dict", "extra timm.create_model arguments (e.g. img_size, drop_path_rate)"),
    },
    "analyze": {
        "formats": F(["png", "pdf"], "list[str]", "figure file formats", choices=("png", "pdf", "svg")),
        "dpi": F(150, "int", "PNG resolution", low=50, high=600),
        "figures_dir": F("figures", "str", "figures go to <figures_dir>/<name>/"),
        "claims": F(False, "bool", "report variants named <claim>/<arm> per claim: a table and a figure of "
                    "paired differences (from the baseline; controls from the method they break) each"),
        "model_figures": F(True, "bool", "draw the figures that run a model (progressive translation, cross-attention, "
                           "fine-tune comparison, t-SNE); false: the tables and the result and claim figures only, "
                           "in seconds (a block's verdicts)"),
        "dials": F(False, "bool", "the toy reproduction's two dials (claims 'names' and 'fidelity'): their tests, "
                   "figures and each pool's measured fidelity (toybirds; needs analyze.claims)"),
    },
    "cluster": {  # how the job graph is run; only cpu_threads away from 1 enters an artifact's key
        "executor": F("serial", "str", "serial: the notebooks run every job in one process; local: cluster.workers "
                      "processes here; slurm: one SLURM job per artifact (submitit)", choices=("serial", "local", "slurm")),
        "workers": F(None, "int", "local: jobs at once (null: one per GPU, else one per core); slurm: jobs in the "
                     "queue at once (null: no limit)", low=1, high=100000, nullable=True),
        "cpu_threads": F(1, "int", "torch threads of every CPU job (fine-tune, filter, training; synthesis has its "
                         "own synthesize.cpu_threads). The count changes results' last bits, so it is fixed, "
                         "whatever the executor, workers or cores, and any other value is part of the artifacts' "
                         "keys (docs/artifacts.md)", low=1, high=1024),
        "retries": F(1, "int", "times a failed job is run again before it is reported", low=0, high=10),
        "partition": F(None, "str", "slurm: the partition (null: the cluster's default)", nullable=True),
        "gpus_per_job": F(1, "int", "slurm: GPUs per job (0 for CPU jobs)", low=0, high=64),
        "cpus_per_job": F(8, "int", "slurm: CPU cores per job", low=1, high=1024),
        "mem_gb": F(None, "float", "slurm: memory per job in GB (null: the partition's default)", low=0,
                    low_open=True, nullable=True),
        "time_min": F(720, "int", "slurm: time limit per job in minutes; a job at its limit is requeued and resumes",
                      low=1, high=100000),
        "requeues": F(3, "int", "slurm: times a job is requeued after preemption or its time limit", low=0, high=100),
        "jobs_per_slurm_job": F(8, "int", "slurm: classifiers (and filters) ready at the same time run together in "
                                "one SLURM job, up to this many, one after another: one wait in the queue and one "
                                "process start for them all (1: each its own SLURM job); fine-tunes and pools "
                                "always have their own", low=1, high=1000),
        "sbatch": F({}, "dict", "slurm: extra #SBATCH options, e.g. {account: proj, qos: high, constraint: a100}"),
    },
    "sweep": F({}, "dict", "dotted key -> list of values; the runs are the product"),
    "variants": F([], "variants", "named bundles of dotted-key overrides ({name: ..., train.cutmix: 0.1, ...}), "
                  "or {axis: [bundles], ...} for several axes (their product); the runs are variants x sweep"),
}


def defaults() -> dict:
    """The complete default parameter dict (what every notebook's parameters cell holds)."""
    return {k: ({kk: copy.deepcopy(f.default) for kk, f in v.items()} if isinstance(v, dict)
                else copy.deepcopy(v.default)) for k, v in SCHEMA.items()}
