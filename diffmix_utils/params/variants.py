"""Variants: named bundles of dotted-key overrides that multiply a sweep, on one axis (a list) or
several (a mapping of axis name to list, whose product is taken). Validated here; expanded by
``params.sweep.expand_sweep``."""
from __future__ import annotations

import itertools


def check_variants(variants: list | dict, swept: set, check_value, error) -> list[dict]:
    """Each variant: a unique ``name`` and dotted keys (validated) that the sweep does not also set.

    A mapping ``{axis: [variants]}`` is several axes: the result is their product, each member
    merging one variant per axis, named "a/b"; two axes may not set the same key."""
    if isinstance(variants, dict):
        axes = {}
        for axis, listed in variants.items():
            if not isinstance(listed, list) or not listed:
                raise error(f"variants.{axis} = {listed!r} must be a non-empty list of variants")
            axes[axis] = check_variants(listed, swept, check_value, error)
        owner = {}
        for axis, listed in axes.items():
            for key in {k for v in listed for k in v if k != "name"}:
                if key in owner:
                    raise error(f"variants axes {owner[key]!r} and {axis!r} both set {key!r}; "
                                      "a key belongs to one axis")
                owner[key] = axis
        product = []
        for combo in itertools.product(*axes.values()):
            merged = {"name": "/".join(v["name"] for v in combo)}
            for v in combo:
                merged.update({k: x for k, x in v.items() if k != "name"})
            product.append(merged)
        return product
    out, names = [], set()
    for i, v in enumerate(variants):
        if not isinstance(v, dict) or not isinstance(v.get("name"), str) or not v["name"]:
            raise error(f"variants[{i}] = {v!r} must be a mapping with a non-empty 'name' and dotted keys")
        if v["name"] in names:
            raise error(f"variants[{i}].name = {v['name']!r} is used twice; names must be unique")
        names.add(v["name"])
        checked = {"name": v["name"]}
        for dotted, value in v.items():
            if dotted == "name":
                continue
            if dotted.split(".")[0] in ("sweep", "variants", "name") or dotted in swept:
                raise error(f"variants[{i}] ({v['name']}) sets {dotted!r}, which a variant cannot set "
                                  "(it is swept, or not a parameter)")
            checked[dotted] = check_value(dotted, value)
        out.append(checked)
    return out
