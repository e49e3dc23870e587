"""The synthesis strategies of Diff-Mix and its ablations, each a small rule, and a pool's size.

Shared ground: the parameter validator, the synthesis plan, the cost estimate, the explorer and
the analysis all read these definitions; nothing here runs a model.

A strategy says which model makes the image (the fine-tuned TI + LoRA model, the base model with
class *names*, or the base model with the learned tokens only), whether a real source image is
translated (img2img) or the image is generated from text alone, and whether the target class is
drawn independently of the source (inter-class "mix") or equals it (intra-class "aug").

| strategy | model              | source -> target          | strength |
|----------|--------------------|---------------------------|----------|
| diff-mix | TI + LoRA          | img2img, target drawn      | s        |
| diff-aug | TI + LoRA          | img2img, target = source   | s        |
| diff-gen | TI + LoRA          | text-to-image              | 1        |
| real-mix | base, class names  | img2img, target drawn      | s        |
| real-aug | base, class names  | img2img, target = source   | s        |
| real-gen | base, class names  | text-to-image              | 1        |
| ti-mix   | base + TI tokens   | img2img, target drawn      | s        |
| ti-aug   | base + TI tokens   | img2img, target = source   | s        |
| noise-mix| none (a control)   | uniform noise, target drawn| s        |
| oracle-mix| toybirds renderer (a control) | the target class drawn on the source's background | s |

``noise-mix`` and ``oracle-mix`` are controls, not methods, with the diff-mix plan and soft labels.
``noise-mix`` trains on images of pure uniform noise (one per task, seeded by it): it must not
help; if it did, a real strategy's gain could come from label smoothing or regularisation alone.
``oracle-mix`` (toybirds only) renders what a perfect translation would be: the target class's bird,
drawn by the dataset's own renderer, on the source image's background. It tests the kit's plumbing
end to end: with perfect images the pool's source and target, the labels and the images fed to
training must move the numbers (labels toward the source must hurt).

Diff-Mix: Wang et al., "Enhance Image Classification via Inter-Class Image Mixup with Diffusion
Model", CVPR 2024. Real-Aug at s = 0.1 is Real-Guidance (He et al., ICLR 2023); ti-aug with a
uniform strength is the DA-Fusion-style baseline (Trabucco et al., ICLR 2024).
"""
from __future__ import annotations

from dataclasses import dataclass

PROMPT_TEMPLATE = "a photo of a {} {}"


@dataclass(frozen=True)
class Strategy:
    name: str
    lora: bool            # load the fine-tuned LoRA
    tokens: bool          # prompt with learned <class_i> tokens (else the class name)
    img2img: bool         # translate a real source image (else text-to-image)
    inter_class: bool     # target class drawn independently of the source class
    control: str | None = None  # "noise" (uniform noise) or "oracle" (toybirds renderer): no model

    def prompt(self, target: int, classes: list[str], superclass: str, have_tokens: bool = True) -> str:
        """"a photo of a <class_j> bird"; the class name when no tokens were learned (lora_only)."""
        name = f"<class_{target}>" if self.tokens and have_tokens else classes[target]
        return PROMPT_TEMPLATE.format(name, superclass).strip()

    @property
    def needs_finetune(self) -> bool:
        return self.lora or self.tokens


STRATEGIES: dict[str, Strategy] = {s.name: s for s in (
    Strategy("diff-mix", lora=True, tokens=True, img2img=True, inter_class=True),
    Strategy("diff-aug", lora=True, tokens=True, img2img=True, inter_class=False),
    Strategy("diff-gen", lora=True, tokens=True, img2img=False, inter_class=False),
    Strategy("real-mix", lora=False, tokens=False, img2img=True, inter_class=True),
    Strategy("real-aug", lora=False, tokens=False, img2img=True, inter_class=False),
    Strategy("real-gen", lora=False, tokens=False, img2img=False, inter_class=False),
    Strategy("ti-mix", lora=False, tokens=True, img2img=True, inter_class=True),
    Strategy("ti-aug", lora=False, tokens=True, img2img=True, inter_class=False),
    Strategy("noise-mix", lora=False, tokens=False, img2img=True, inter_class=True, control="noise"),
    Strategy("oracle-mix", lora=False, tokens=False, img2img=True, inter_class=True, control="oracle"),
)}


def finetuned_generation(mode: str) -> Strategy:
    """Text-to-image with exactly what a ``finetune.mode`` trains: tokens and / or LoRA (``ti_only`` has
    no LoRA file, ``lora_only`` no tokens), the diff-gen prompt."""
    return Strategy(f"{mode}-gen", lora=mode != "ti_only", tokens=mode != "lora_only", img2img=False,
                    inter_class=False)


def get_strategy(name: str) -> Strategy:
    if name not in STRATEGIES:
        raise ValueError(f"synthesize.strategy = {name!r} is unknown; choose one of: {', '.join(STRATEGIES)}")
    return STRATEGIES[name]


def synthesis_settings_problem(syn: dict, finetune_mode: str) -> str | None:
    """Why a ``synthesize`` section cannot run (with the fine-tune mode it would load), or None."""
    st = None if syn["strategy"] == "none" else get_strategy(syn["strategy"])
    for s in (syn["strength_choices"] or [syn["strength"]]) if st and st.img2img else []:
        if int(syn["steps"] * s) < 1:
            return (f"synthesize.strength = {s} with synthesize.steps = {syn['steps']} runs no denoising step "
                    f"(img2img runs int(steps * strength)); use steps >= {int(1 / s) + 1}")
    if syn["compile"] and (syn["cpu_workers"] or 1) > 1:
        return (f"synthesize.cpu_workers = {syn['cpu_workers']} with synthesize.compile = true is not valid: a "
                "compiled UNet is not thread-safe; leave cpu_workers null (compile then runs one process per "
                "core) or set synthesize.num_processes")
    lacking = st and ("LoRA" if st.lora and finetune_mode == "ti_only" else
                      "class tokens" if st.tokens and not st.lora and finetune_mode == "lora_only" else None)
    if lacking:
        return (f"synthesize.strategy = {st.name!r} loads {lacking}, which finetune.mode = {finetune_mode!r} "
                f"does not train; use {'ti-mix / ti-aug' if lacking == 'LoRA' else 'diff-mix / diff-aug'} "
                "or another finetune.mode")
    return None


def strength_label(strengths) -> str:
    """How tables and ``--plan`` name a pool's strength(s): "0.7", or "0.3/0.5/0.7/0.9" for a pool
    drawn from several (``strength_choices``)."""
    return "/".join(f"{s:g}" for s in sorted(set(strengths)))


def pool_size(synthesize: dict, num_train: int) -> int:
    """Images in the synthetic pool of a ``synthesize`` section for a training set of ``num_train``
    images: ``multiplier`` x |train| (at least one), none for strategy 'none'. The synthesis plan
    makes exactly this many tasks; ``--plan`` counts with it."""
    return 0 if synthesize["strategy"] == "none" else max(1, round(synthesize["multiplier"] * num_train))
