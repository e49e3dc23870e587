"""Stable Diffusion 1.5's UNet, VAE and text-encoder architectures written in code (no download):
for the plan's FLOP counts and for GPU benchmarks with random weights. Values are those of the
published ``runwayml/stable-diffusion-v1-5`` ``unet/config.json``, ``vae/config.json`` and
``text_encoder/config.json`` (CLIP ViT-L/14's text tower)."""
from __future__ import annotations

UNET = {
    "sample_size": 64, "in_channels": 4, "out_channels": 4, "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280, 1280),
    "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    "cross_attention_dim": 768, "attention_head_dim": 8,
}
VAE = {
    "in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 2, "sample_size": 512,
    "down_block_types": ("DownEncoderBlock2D",) * 4, "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
}
TEXT = {
    "vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
    "num_attention_heads": 12, "max_position_embeddings": 77, "hidden_act": "quick_gelu",
    "projection_dim": 768, "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 1,
}
TEXT_HIDDEN = TEXT["hidden_size"]
TEXT_LENGTH = 77
