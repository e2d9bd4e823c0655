"""Hugging Face file formats written by hand (no transformers / tokenizers / safetensors packages):

  safetensors_bytes  the safetensors layout as huggingface/safetensors (Rust) writes it: u64 LE header length,
                     compact JSON header with "__metadata__" first, tensors sorted by dtype (largest first)
                     then by name, data contiguous in that order, header padded with spaces to 8 bytes
  shard_index        model.safetensors.index.json as transformers' save_pretrained writes it
                     (json.dumps(index, indent=2, sort_keys=True) + "\\n", metadata.total_size in bytes)
  tokenizer_json     a tiny byte-level BPE tokenizer.json (GPT-2 byte alphabet + a few merges), with the
                     pre-tokenizer / post-processor layout of Llama-3 ("llama3") or Qwen2 ("qwen2")
"""
import hashlib
import json
import struct

import torch

# safetensors' Dtype enum order (safetensors/src/tensor.rs); prepare() sorts by it, descending, then by name
DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]
TORCH_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int32: "I32", torch.int64: "I64"}
RAW_VIEW = {torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16, torch.int32: torch.int32, torch.int64: torch.int64}


def tensor_bytes(t):
    """little-endian raw bytes of a tensor (numpy has no bfloat16, so go through a same-width integer view)"""
    return t.contiguous().view(RAW_VIEW[t.dtype]).numpy().tobytes()


def safetensors_bytes(tensors, metadata=None):
    """tensors: {name: torch tensor}; metadata: {str: str}."""
    names = sorted(tensors, key=lambda k: (-DTYPE_ORDER.index(TORCH_DTYPES[tensors[k].dtype]), k))
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))  # sorted, as dllm's writer does
    for name in names:
        data = tensor_bytes(tensors[name])
        header[name] = {"dtype": TORCH_DTYPES[tensors[name].dtype], "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def shard_index(shards):
    """shards: {file name: {tensor name: tensor}} -> the index file's text"""
    weight_map = {name: file for file, ts in shards.items() for name in ts}
    total = sum(t.numel() * t.element_size() for ts in shards.values() for t in ts.values())
    return json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2, sort_keys=True) + "\n"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ---- tokenizer.json ------------------------------------------------------------------------------------------

def bytes_to_unicode():
    """GPT-2's byte -> printable character table, in GPT-2's vocabulary order (ids 0..255)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [(b, chr(c)) for b, c in zip(bs, cs)]


# a handful of English merges; every one is reachable (both halves exist at its rank and no earlier merge
# steals a half), so plain BPE and Llama-3's ignore_merges agree; "Ġ" is the byte-level space
MERGES = ["Ġ t", "h e", "Ġt he", "Ġ a", "Ġa n", "Ġan d", "Ġ o", "Ġo f", "i n", "e r", "a n", "o n", "r e", "Ġ s",
          "in g", "Ġ w", "e d", "o u", "Ġ c", "a t", "Ġ m", "e n", "Ġ d", "Ġ i"]
REGULAR_TOKENS = 256 + len(MERGES)  # ids 0 .. REGULAR_TOKENS-1; special tokens come after

# pre-tokenizer split patterns, from the published tokenizer.json files of Llama-3 and Qwen2 (\p{N}{1,3} vs \p{N})
SPLIT = {
    "llama3": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    "qwen2": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
}


def added_token(i, content):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def tokenizer_json(style, specials, bos=None):
    """specials: {content: id}; bos: content prepended by the post-processor (Llama-3 adds <|begin_of_text|>)."""
    vocab = {ch: i for i, (_, ch) in enumerate(bytes_to_unicode())}
    for i, m in enumerate(MERGES):
        vocab[m.replace(" ", "")] = 256 + i
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": style == "llama3", "use_regex": False}
    post = {"type": "ByteLevel", "add_prefix_space": style == "llama3", "trim_offsets": False, "use_regex": style == "llama3"}
    if bos is not None:
        tok = lambda: {"SpecialToken": {"id": bos, "type_id": 0}}
        seq = lambda s, t: {"Sequence": {"id": s, "type_id": t}}
        post = {"type": "Sequence", "processors": [post, {
            "type": "TemplateProcessing", "single": [tok(), seq("A", 0)], "pair": [tok(), seq("A", 0), tok(), seq("B", 1)],
            "special_tokens": {bos: {"id": bos, "ids": [specials[bos]], "tokens": [bos]}}}]}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added_token(i, c) for c, i in sorted(specials.items(), key=lambda kv: kv[1])],
        "normalizer": {"type": "NFC"} if style == "qwen2" else None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": SPLIT[style]}, "behavior": "Isolated", "invert": False}, byte_level]},
        "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": style == "llama3", "trim_offsets": style == "llama3",
                    "use_regex": style == "llama3"},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": style == "llama3", "vocab": vocab, "merges": MERGES},
    }


def added_tokens_decoder(specials):
    return {str(i): {k: v for k, v in added_token(i, c).items() if k != "id"} for c, i in sorted(specials.items(), key=lambda kv: kv[1])}


def dumps(obj):
    """JSON as transformers writes config.json / tokenizer_config.json (indent 2, trailing newline)"""
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
