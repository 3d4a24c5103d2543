"""Layer-by-layer loading (qwen_serve.sglang.layered_load) on the CPU, with a tiny Qwen3 of transformers.

What is real here: the unit split, reading each unit's tensors by name from several safetensors
shards, materializing meta parameters while keeping their attributes, quantizing (torchao int8wo
through our fix) one unit at a time, and the refusal of buffers that cannot be rebuilt. What is not:
SGLang's own model class and its `load_weights` (a stand-in below calls `param.weight_loader` the
way SGLang's does); the SGLang side is the lab's GPU runs (docs/seed.md).
"""

from __future__ import annotations

import pytest

from qwen_serve.sglang.torchao_fix import apply_torchao_config_to_model

# torch (and qwen_serve.sglang.layered_load, which imports it) are imported by the tests, not at collection: every
# test process collects this file, and only the one that runs the in-process SGLang tests (conftest.TOGETHER) needs it.
IDS = [[9707, 1879, 11, 104, 5, 77, 1000, 151645]]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """The tiny skeleton's model, and its weights re-saved as two shards (layers split between them)."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM

    from qwen_serve.skeleton import write_skeleton

    path = write_skeleton(tmp_path_factory.mktemp("tiny"), tiny=True)
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.bfloat16)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    names = sorted(state)
    shards = tmp_path_factory.mktemp("shards")
    files = [shards / "a.safetensors", shards / "b.safetensors"]
    save_file({k: state[k] for k in names[::2]}, str(files[0]))
    save_file({k: state[k] for k in names[1::2]}, str(files[1]))
    return model, [str(f) for f in files]


def _weight_loader(param, loaded):
    param.data.copy_(loaded)


def meta_model(reference):
    """The same architecture built on the meta device, like SGLang's loader does, with SGLang's
    habit of hanging a `weight_loader` on each parameter and a `load_weights(iterable)` method."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.models.qwen3.modeling_qwen3 import Qwen3RotaryEmbedding

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(reference.config, dtype=torch.bfloat16)
    model.model.rotary_emb = Qwen3RotaryEmbedding(reference.config)  # transformers' rotary, not SGLang's
    for param in model.parameters():
        param.weight_loader = _weight_loader

    def load_weights(weights):
        params = dict(model.named_parameters(remove_duplicate=False))
        with torch.no_grad():
            for name, tensor in weights:
                params[name].weight_loader(params[name], tensor)  # AttributeError if the attribute was lost

    model.load_weights = load_weights
    return model


def test_units_are_layers_and_the_modules_around_them(checkpoint):
    from qwen_serve.sglang.layered_load import unit_of, units

    model, _ = checkpoint
    names = [n for n, _ in units(model)]
    layers = len(model.model.layers)
    assert names == ["model.embed_tokens", *[f"model.layers.{i}" for i in range(layers)], "model.norm", "lm_head"]
    assert unit_of("model.layers.1.self_attn.q_proj.weight", names) == "model.layers.1"
    assert unit_of("model.layers.10.mlp.up_proj.weight", [*names, "model.layers.10"]) == "model.layers.10"
    assert unit_of("lm_head.weight", names) == "lm_head"
    assert unit_of("rotary_emb.inv_freq", names) is None


def test_loads_unit_by_unit_and_matches_whole_model_quantization(checkpoint):
    import copy

    import torch

    from qwen_serve.sglang.layered_load import SafetensorsFiles, load_layer_by_layer, units

    reference, files = checkpoint
    ids = torch.tensor(IDS)
    expected = reference(ids).logits.float()

    whole = apply_torchao_config_to_model(copy.deepcopy(reference), "int8wo", summary=False)
    expected_quantized = whole(ids).logits.float()

    model = meta_model(reference)
    order = [n for n, _ in units(model)]
    seen: list[str] = []

    def quantize(module):
        seen.append(next(n for n, m in units(model) if m is module))
        # layer by layer: every unit after this one is still on the meta device (never on the device)
        by_name = dict(units(model))
        done = {id(p) for name in seen for p in by_name[name].parameters()}  # tied lm_head = embeddings
        for name in order[len(seen) :]:
            assert all(p.is_meta for p in by_name[name].parameters() if id(p) not in done), name
        apply_torchao_config_to_model(module, "int8wo", summary=False)

    shards = SafetensorsFiles(files)
    facts = load_layer_by_layer(model, shards.names(), shards.read, torch.device("cpu"), quantize)

    assert seen == order
    assert facts["units"] == len(order) and facts["tensors"] == len(reference.state_dict()) and facts["unplaced"] == []
    assert not any(p.is_meta for p in model.parameters())
    assert all(hasattr(p, "weight_loader") for p in model.parameters() if type(p) is torch.nn.Parameter)
    for layer in model.model.layers:
        assert type(layer.self_attn.q_proj.weight).__name__ == "Int8Tensor"
        assert type(layer.input_layernorm.weight) is torch.nn.Parameter
    assert type(model.lm_head.weight) is torch.nn.Parameter
    assert torch.equal(model.model.embed_tokens.weight, reference.model.embed_tokens.weight)
    out = model(ids).logits.float()
    assert torch.allclose(out, expected_quantized, atol=1e-2, rtol=0)  # the same quantized model
    assert ((out - expected).norm() / expected.norm()).item() < 0.05


def test_missing_tensors_are_an_error_not_garbage(checkpoint):
    import torch

    from qwen_serve.sglang.layered_load import LayeredLoadError, SafetensorsFiles, load_layer_by_layer

    reference, files = checkpoint
    shards = SafetensorsFiles(files)
    names = [n for n in shards.names() if n != "model.norm.weight"]
    with pytest.raises(LayeredLoadError, match=r"the checkpoint did not fill model\.norm\.weight \(missing"):
        load_layer_by_layer(meta_model(reference), names, shards.read, torch.device("cpu"))


def test_meta_buffers_rope_cache_rebuilt_anything_else_refused():
    import torch

    from qwen_serve.sglang.layered_load import LayeredLoadError, load_layer_by_layer

    class RopeLike(torch.nn.Module):
        """Stand-in for SGLang's RotaryEmbedding: a non-persistent cos/sin cache computed in __init__."""

        def __init__(self):
            super().__init__()
            self.register_buffer("cos_sin_cache", self._compute_cos_sin_cache(), persistent=False)

        def _compute_cos_sin_cache(self):
            return torch.arange(8, dtype=torch.float32).outer(torch.ones(4))

    class Layer(torch.nn.Module):
        def __init__(self, buffer_owner):
            super().__init__()
            self.proj = torch.nn.Linear(4, 4, bias=False)
            self.rope = buffer_owner

    with torch.device("meta"):
        model = torch.nn.ModuleList([Layer(RopeLike())])
    model.load_weights = lambda weights: [model[0].proj.weight.data.copy_(t) for _, t in weights]
    load_layer_by_layer(model, ["0.proj.weight"], lambda _: torch.ones(4, 4), torch.device("cpu"))
    assert torch.equal(model[0].rope.cos_sin_cache, RopeLike()._compute_cos_sin_cache())

    class Other(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("table", torch.zeros(3), persistent=False)

    with torch.device("meta"):
        model = torch.nn.ModuleList([Layer(Other())])
    model.load_weights = lambda weights: None
    with pytest.raises(LayeredLoadError, match=r"cannot rebuild buffer 0\.rope\.table of Other"):
        load_layer_by_layer(model, [], lambda _: None, torch.device("cpu"))
