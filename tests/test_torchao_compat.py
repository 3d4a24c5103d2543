"""The torchao fix: SGLang 0.5.17's own function fails with its pinned torchao 0.17 (shown here),
ours maps every value to torchao's *Config API and quantizes the same modules. CPU only: the
int4/fp8 kernels are CUDA-only and are exercised on the H100, not claimed here.

torch is imported by the tests that use it, not at collection: every test process collects this file, and only the
one that runs the in-process SGLang tests (conftest.TOGETHER) needs torch."""

from __future__ import annotations

import copy

import pytest

from qwen_serve.settings import TORCHAO_CONFIGS
from qwen_serve.sglang.patches import install
from qwen_serve.sglang.torchao_fix import apply_torchao_config_to_model, needs_patch, torchao_config_object

EXPECTED = {
    "int8wo": ("Int8WeightOnlyConfig", {"version": 2}),
    "int8dq": ("Int8DynamicActivationInt8WeightConfig", {"version": 2}),
    "int4wo-32": ("Int4WeightOnlyConfig", {"group_size": 32, "int4_packing_format": "tile_packed_to_4d"}),
    "int4wo-64": ("Int4WeightOnlyConfig", {"group_size": 64, "int4_packing_format": "tile_packed_to_4d"}),
    "int4wo-128": ("Int4WeightOnlyConfig", {"group_size": 128, "int4_packing_format": "tile_packed_to_4d"}),
    "int4wo-256": ("Int4WeightOnlyConfig", {"group_size": 256, "int4_packing_format": "tile_packed_to_4d"}),
    "fp8wo": ("Float8WeightOnlyConfig", {}),
    "fp8dq-per_tensor": ("Float8DynamicActivationFloat8WeightConfig", {"granularity": "PerTensor"}),
    "fp8dq-per_row": ("Float8DynamicActivationFloat8WeightConfig", {"granularity": "PerRow"}),
}


def test_every_sglang_value_is_mapped():
    assert set(EXPECTED) == set(TORCHAO_CONFIGS)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_config_object_and_parameters(name):
    cls, params = EXPECTED[name]
    config = torchao_config_object(name)
    assert type(config).__name__ == cls
    for key, value in params.items():
        got = getattr(config, key)
        if key == "granularity":
            assert all(type(g).__name__ == value for g in got)
        else:
            assert str(getattr(got, "value", got)) == str(value)


def test_unknown_value_is_refused():
    with pytest.raises(ValueError, match="allowed: int8wo"):
        torchao_config_object("int3wo")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import torch
    from transformers import AutoModelForCausalLM

    from qwen_serve.skeleton import write_skeleton

    path = write_skeleton(tmp_path_factory.mktemp("tiny"), tiny=True)
    return AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.bfloat16)


def test_sglang_0_5_17s_own_function_fails_with_torchao_0_17(tiny):
    from sglang.srt.layers.torchao_utils import apply_torchao_config_to_model as sglang_original

    assert needs_patch()
    with pytest.raises(ImportError, match="cannot import name .* from 'torchao.quantization'"):
        sglang_original(copy.deepcopy(tiny), "int8wo")


@pytest.mark.parametrize("name", ["int8wo", "int8dq"])
def test_quantizes_linear_layers_only_and_logits_stay_close(tiny, name, capsys):
    import torch

    model = copy.deepcopy(tiny)
    ids = torch.tensor([[9707, 1879, 11, 104, 5, 77, 1000, 151645]])
    reference = tiny(ids).logits.float()
    apply_torchao_config_to_model(model, name)
    for i, layer in enumerate(model.model.layers):
        for proj in (
            layer.self_attn.q_proj,
            layer.self_attn.k_proj,
            layer.self_attn.v_proj,
            layer.self_attn.o_proj,
            layer.mlp.gate_proj,
            layer.mlp.up_proj,
            layer.mlp.down_proj,
        ):
            assert type(proj.weight).__name__ == "Int8Tensor", (i, proj)
        for norm in (layer.input_layernorm, layer.post_attention_layernorm, layer.self_attn.q_norm):
            assert type(norm.weight) is torch.nn.Parameter
    assert type(model.model.embed_tokens.weight) is torch.nn.Parameter
    assert torch.equal(model.model.embed_tokens.weight, tiny.model.embed_tokens.weight)
    out = model(ids).logits.float()
    assert ((out - reference).norm() / reference.norm()).item() < 0.05
    # the one line the server log gets from the process that quantized
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert (
        line == f"qwen-serve torchao fix: --torchao-config {name} -> {type(torchao_config_object(name)).__name__} "
        f"(after loading the whole model): {7 * len(model.model.layers)} x Int8Tensor"
    )


def test_install_replaces_sglangs_function_only_for_torchao(monkeypatch):
    import sglang.srt.layers.torchao_utils as torchao_utils

    original = torchao_utils.apply_torchao_config_to_model
    monkeypatch.setattr(torchao_utils, "apply_torchao_config_to_model", original)
    assert install(["x", "--model-path", "m"]) is False and torchao_utils.apply_torchao_config_to_model is original
    assert install(["x", "--torchao-config", "int4wo-128"]) is True
    assert torchao_utils.apply_torchao_config_to_model is apply_torchao_config_to_model


def test_install_replaces_the_layered_loader_only_for_layered_loading(monkeypatch):
    from sglang.srt.model_loader.loader import LayeredModelLoader

    from qwen_serve.sglang.layered_load import layered_load_model

    original = LayeredModelLoader.load_model
    monkeypatch.setattr(LayeredModelLoader, "load_model", original)
    install(["x", "--torchao-config", "int4wo-128", "--load-format", "dummy"])
    assert LayeredModelLoader.load_model is original
    install(["x", "--torchao-config=int4wo-128", "--load-format=layered"])
    assert LayeredModelLoader.load_model is layered_load_model


def test_entry_module_runs_sglangs_own_parser(entry_module_help):
    out = entry_module_help  # `python -m qwen_serve.sglang.entry --help`, started ahead by conftest
    assert out.returncode == 0, out.stderr[-2000:]
    assert "--torchao-config" in out.stdout and "--model-path" in out.stdout


def parallel_linear_like():
    """Like SGLang's QKVParallelLinear: a module with a 2-D weight, but not a torch.nn.Linear."""
    import torch

    class ParallelLinearLike(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(64, 128, dtype=torch.bfloat16))

        def forward(self, x):
            return torch.nn.functional.linear(x, self.weight)

    return ParallelLinearLike()


@pytest.mark.parametrize("name", ["int8wo", "int8dq"])
def test_layered_loaders_per_module_call_quantizes_that_module(name):
    # SGLang's layered loader: apply_torchao_config_to_model(module, config, None) per "proj" module
    import torch

    module = parallel_linear_like()
    x = torch.randn(4, 128, dtype=torch.bfloat16)
    reference = module(x).float()
    apply_torchao_config_to_model(module, name, None)
    assert type(module.weight).__name__ == "Int8Tensor"
    assert ((module(x).float() - reference).norm() / reference.norm()).item() < 0.05
    # torchao's own None ("nn.Linear only") would have left it untouched
    from torchao.quantization import quantize_

    untouched = parallel_linear_like()
    quantize_(untouched, torchao_config_object(name), filter_fn=None)
    assert type(untouched.weight) is torch.nn.Parameter
