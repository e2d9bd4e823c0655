"""A stand-in for the few `transformers` names the official MoE modeling files import, so that the files run
unchanged on Debian's torch 1.13 with no `transformers` package (none is installed here, and there is no PyPI).

write_shim(dir) writes a package `transformers` under `dir`; put `dir` first on sys.path before importing the
official file. What each stand-in does (everything else is an inert placeholder the forward pass never calls):

  activations.ACT2FN["silu"]                      nn.SiLU(), as transformers' ACT2FN
  modeling_rope_utils.ROPE_INIT_FUNCTIONS["default"]
        transformers' default RoPE init (_compute_default_rope_parameters): dim = int(head_dim ·
        partial_rotary_factor), head_dim = config.head_dim or hidden_size // num_attention_heads,
        inv_freq = 1 / rope_theta ** (arange(0, dim, 2) / dim), attention scaling 1.0
  modeling_attn_mask_utils._prepare_4d_causal_attention_mask
        transformers' semantics: None → causal additive mask; a (B, T) 0/1 mask → padding + causal; a
        (B, 1, T, T) 0/1 mask → inverted and filled with finfo.min where 0 (the eager path)
  modeling_outputs.*                               attribute access + outputs[0] (ModelOutput's tuple view)
  modeling_utils.PreTrainedModel                   nn.Module holding `config`; post_init does nothing (weights
                                                   are loaded with load_state_dict(strict=True) afterwards)
  utils.is_flash_attn_2_available                  False (the eager attention classes are used)
"""
import os

FILES = {
    "__init__.py": "",
    "activations.py": '''
import torch
class _Act(dict):
    def __getitem__(self, key):
        return {"silu": torch.nn.SiLU}[key]()
ACT2FN = _Act()
''',
    "cache_utils.py": '''
class Cache:
    pass
class DynamicCache(Cache):
    @staticmethod
    def from_legacy_cache(past):
        raise NotImplementedError("shim: no KV cache")
class StaticCache(Cache):
    pass
''',
    "configuration_utils.py": '''
class PretrainedConfig:
    pass
''',
    "modeling_attn_mask_utils.py": '''
import torch
class AttentionMaskConverter:
    pass
def _causal(b, t, dtype, past=0):
    m = torch.full((t, t + past), torch.finfo(dtype).min, dtype=dtype).triu(1 + past)
    return m[None, None].expand(b, 1, t, t + past)
def _prepare_4d_causal_attention_mask(attention_mask, input_shape, inputs_embeds, past_key_values_length, sliding_window=None):
    b, t = input_shape
    dtype = inputs_embeds.dtype
    if attention_mask is None:
        return _causal(b, t, dtype, past_key_values_length)
    if attention_mask.dim() == 2:
        pad = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
        return _causal(b, t, dtype, past_key_values_length) + pad
    assert tuple(attention_mask.shape) == (b, 1, t, t + past_key_values_length)
    inverted = 1.0 - attention_mask.to(dtype)
    return inverted.masked_fill(inverted.to(torch.bool), torch.finfo(dtype).min)
def _prepare_4d_attention_mask(*args, **kwargs):
    raise NotImplementedError("shim: not used by the eager forward")
def _prepare_4d_causal_attention_mask_for_sdpa(*args, **kwargs):
    raise NotImplementedError("shim: the fixtures use the eager attention")
''',
    "modeling_outputs.py": '''
class _Output:
    def __init__(self, **kw):
        self._items = kw
        for k, v in kw.items():
            setattr(self, k, v)
    def __getitem__(self, i):
        return [v for v in self._items.values() if v is not None][i]
class MoeCausalLMOutputWithPast(_Output):
    pass
class MoeModelOutputWithPast(_Output):
    pass
''',
    "modeling_rope_utils.py": '''
import torch
def _default(config, device=None, seq_len=None, **kwargs):
    base = config.rope_theta
    factor = getattr(config, "partial_rotary_factor", 1.0)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    dim = int(head_dim * factor)
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float().to(device) / dim))
    return inv_freq, 1.0
ROPE_INIT_FUNCTIONS = {"default": _default}
def dynamic_rope_update(fn):
    return fn
def rope_config_validation(config):
    pass
''',
    "modeling_utils.py": '''
import torch
class PreTrainedModel(torch.nn.Module):
    def __init__(self, config, *args, **kwargs):
        super().__init__()
        self.config = config
    def post_init(self):
        pass
''',
    "pytorch_utils.py": '''
ALL_LAYERNORM_LAYERS = []
is_torch_greater_or_equal_than_1_13 = True
''',
    "utils/__init__.py": '''
import logging as _logging
def _identity_factory(*args, **kwargs):
    return lambda fn: fn
add_start_docstrings = add_start_docstrings_to_model_forward = replace_return_docstrings = _identity_factory
def is_flash_attn_2_available():
    return False
def is_flash_attn_greater_or_equal_2_10():
    return False
class _Logging:
    @staticmethod
    def get_logger(name):
        log = _logging.getLogger(name)
        log.warning_once = lambda *a, **k: None
        return log
logging = _Logging()
class ModelOutput:
    pass
''',
    "utils/import_utils.py": '''
def is_torch_fx_available():
    return False
''',
    "generation/__init__.py": "",
    "generation/utils.py": '''
class GenerationMixin:
    pass
''',
}


class ShimConfig:
    """config.json's values as attributes, plus the framework's run-time flags a PretrainedConfig carries."""

    RUNTIME = {"output_attentions": False, "output_hidden_states": False, "output_router_logits": False,
               "use_return_dict": True, "use_cache": False, "_attn_implementation": "eager"}

    def __init__(self, config_json):
        self.__dict__.update(self.RUNTIME)
        self.__dict__.update(config_json)


def write_shim(root):
    for name, text in FILES.items():
        path = os.path.join(root, "transformers", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text.lstrip("\n"))


def load_official(root, package, modeling_path, config_module, config_class):
    """Copy the official modeling file into package `package` under `root`, beside a configuration module that
    exposes ShimConfig as `config_class` (the file does `from .configuration_x import ConfigClass`); import it."""
    import importlib
    import shutil
    import sys
    pkg = os.path.join(root, package)
    os.makedirs(pkg, exist_ok=True)
    open(os.path.join(pkg, "__init__.py"), "w").close()
    shutil.copy(modeling_path, os.path.join(pkg, "modeling.py"))
    with open(os.path.join(pkg, config_module + ".py"), "w") as f:
        f.write(f"import sys\nsys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
                f"from hf_shim import ShimConfig as {config_class}\n")
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module(f"{package}.modeling")


def load_dinfer_llada2(root, modeling_path):
    """inclusionAI/dInfer python/dinfer/model/modeling_llada2_moe.py, imported unchanged for its HF-style classes
    (LLaDA2MoeRMSNorm, LLaDA2MoeRotaryEmbedding, apply_rotary_pos_emb, LLaDA2MoeAttention, LLaDA2MoeGate,
    LLaDA2MoeMLP). Its sparse block runs on vLLM's FusedMoE, so vllm, tqdm, safetensors and dinfer.decoding are
    inert placeholders here and the block itself is never built."""
    import importlib
    import shutil
    import sys
    import types
    import torch
    if not hasattr(torch.nn.modules.normalization, "RMSNorm"):  # torch 1.13 has none; the file only imports it
        torch.nn.modules.normalization.RMSNorm = torch.nn.Module
    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m
    inert = type("Inert", (), {})
    module("tqdm")
    module("safetensors")
    module("safetensors.torch", load_file=None)
    for name in ["vllm", "vllm.model_executor", "vllm.model_executor.layers", "vllm.model_executor.models"]:
        module(name)
    module("vllm.model_executor.layers.fused_moe", FusedMoE=inert)
    module("vllm.model_executor.models.utils", maybe_prefix=None)
    module("vllm.model_executor.layers.linear", ColumnParallelLinear=inert, ReplicatedLinear=inert,
           QKVParallelLinear=inert, RowParallelLinear=inert)
    module("vllm.distributed", divide=None, get_tensor_model_parallel_rank=None, get_tensor_model_parallel_world_size=None)
    pkg = os.path.join(root, "dinfer_official")
    for sub in ["", "model", "decoding"]:
        os.makedirs(os.path.join(pkg, sub), exist_ok=True)
        open(os.path.join(pkg, sub, "__init__.py"), "w").close()
    with open(os.path.join(pkg, "decoding", "utils.py"), "w") as f:
        f.write("class KVCache:\n    pass\n")
    with open(os.path.join(pkg, "model", "configuration_llada2_moe.py"), "w") as f:
        f.write(f"import sys\nsys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
                "from hf_shim import ShimConfig as LLaDA2MoeConfig\n")
    shutil.copy(modeling_path, os.path.join(pkg, "model", "modeling_llada2_moe.py"))
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module("dinfer_official.model.modeling_llada2_moe")

