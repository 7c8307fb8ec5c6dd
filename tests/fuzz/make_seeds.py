#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses into tests/fuzz/corpus/<harness>/.

Every seed is synthetic (written here, no third-party file is copied), small, and shaped like the
real inputs: Hugging Face config.json of the three architectures, tokenizer_config.json,
tokenizer.json with the components loaq implements, safetensors files, C4-style and zero-shot
.jsonl records. The crashers of issue 18 are kept as regression inputs (crash-*). Run from the
repository root: python3 tests/fuzz/make_seeds.py
"""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(harness, name, data):
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- safetensors -------------------------------------------------------------------------------
def safetensors(tensors, metadata=None):
    header, blobs, off = {}, b"", 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs += raw
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + blobs


f32 = lambda *v: struct.pack("<%df" % len(v), *v)
put("safetensors", "small-f32", safetensors(
    [("model.embed_tokens.weight", "F32", [2, 2], f32(0.5, -1.0, 2.0, 0.25)),
     ("model.norm.weight", "F32", [2], f32(1.0, 1.0))], {"format": "pt", "producer": "loaq"}))
put("safetensors", "mixed-dtypes", safetensors(
    [("a", "F16", [3], struct.pack("<3H", 0x3C00, 0xC000, 0x7BFF)),
     ("b", "BF16", [2, 1], struct.pack("<2H", 0x3F80, 0x4049)),
     ("c", "I64", [2], struct.pack("<2q", 1, -7)),
     ("d", "U8", [4], bytes([0, 1, 2, 255])),
     ("e", "F64", [1], struct.pack("<d", 3.5)),
     ("z", "F32", [0, 4], b"")]))
put("safetensors", "empty-header", safetensors([]))
put("safetensors", "nan-value", safetensors([("w", "F32", [1], struct.pack("<I", 0x7FC00000))]))
put("safetensors", "crash-number-overflow", b"\x07\x00\x00\x00\x00\x00\x00\x004e400\x00\x01")

# --- config.json (first byte even) and tokenizer_config.json (odd) -----------------------------
llama = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 512,
         "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5,
         "num_attention_heads": 8, "num_key_value_heads": 4, "hidden_act": "silu",
         "max_position_embeddings": 512, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
         "tie_word_embeddings": True, "bos_token_id": 1, "eos_token_id": 2,
         "torch_dtype": "float32"}
qwen3 = {"architectures": ["Qwen3ForCausalLM"], "vocab_size": 1000, "hidden_size": 32,
         "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "head_dim": 16, "max_position_embeddings": 4096,
         "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "tie_word_embeddings": True,
         "attention_bias": False, "use_sliding_window": False, "eos_token_id": [3, 4],
         "torch_dtype": "bfloat16"}
qwen2 = dict(qwen3, architectures=["Qwen2ForCausalLM"])
del qwen2["head_dim"]
llama3 = dict(llama, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                   "high_freq_factor": 4.0,
                                   "original_max_position_embeddings": 8192},
              tie_word_embeddings=False)
rotated = dict(llama, loaq={"rotation": "hadamard", "rotate_seed": 3, "online_down_rotation": True,
                            "online_o_rotation": True, "act_bits": 4, "act_clip": 0.9})
for name, c in [("llama", llama), ("qwen3", qwen3), ("qwen2", qwen2), ("llama3-rope", llama3),
                ("loaq-rotated", rotated)]:
    put("config", "config-" + name, b"\x00" + json.dumps(c, indent=2).encode())
put("config", "crash-int-overflow",
    b'\x00{"architectures":["LlamaForCausalLM"],"hidden_size":22222222222222222222}')
put("config", "crash-float-to-int", b"\x00" + json.dumps(
    dict(llama, max_position_embeddings="@")).replace('"@"', "1e30").encode())
put("config", "crash-double-overflow", b"\x00" + json.dumps(
    dict(llama, rope_theta="@")).replace('"@"', "1e400").encode())
for name, c in [("plain", {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>",
                           "eos_token": "</s>", "model_max_length": 2048}),
                ("added-token", {"add_bos_token": True,
                                 "bos_token": {"__type": "AddedToken", "content": "<s>",
                                               "lstrip": False, "normalized": False,
                                               "rstrip": False, "single_word": False}}),
                ("no-bos", {"add_bos_token": False, "bos_token": None})]:
    put("config", "tokenizer-config-" + name, b"\x01" + json.dumps(c).encode())
put("config", "crash-tokenizer-config-overflow", b'\x01{"add_bos_token": true, "x": -1e999}')


# --- tokenizer.json (then a NUL byte and a text to encode) ------------------------------------
def bytes_to_unicode():
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, n = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + n)
            n += 1
    return out


b2u = bytes_to_unicode()
bl_vocab = {b2u[b]: b for b in range(256)}
bl_merges = []
for word in ["Ġthe", "Ġand", "ing", "Hello", "Ġworld"]:
    cur = word[0]
    for ch in word[1:]:
        pair = (cur, ch)
        cur = cur + ch
        if cur not in bl_vocab:
            bl_vocab[cur] = len(bl_vocab)
            bl_merges.append(" ".join(pair))
special = [{"id": len(bl_vocab), "content": "<|begin_of_text|>", "single_word": False,
            "lstrip": False, "rstrip": False, "normalized": False, "special": True},
           {"id": len(bl_vocab) + 1, "content": "<|end|>", "single_word": False,
            "lstrip": False, "rstrip": False, "normalized": False, "special": True}]
byte_level = {
    "version": "1.0", "truncation": None, "padding": None, "added_tokens": special,
    "normalizer": None,
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
         "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
    "post_processor": {"type": "TemplateProcessing",
                       "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                                  {"Sequence": {"id": "A", "type_id": 0}}],
                       "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                                {"Sequence": {"id": "B", "type_id": 1}}],
                       "special_tokens": {"<|begin_of_text|>": {
                           "id": "<|begin_of_text|>", "ids": [special[0]["id"]],
                           "tokens": ["<|begin_of_text|>"]}}},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
              "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
              "ignore_merges": True, "vocab": bl_vocab, "merges": bl_merges}}

sp_vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
for b in range(256):
    sp_vocab["<0x%02X>" % b] = len(sp_vocab)
sp_merges = []
for word in ["▁the", "▁a", "▁Hello", "▁world", "ing"]:
    cur = word[0]
    if cur not in sp_vocab:
        sp_vocab[cur] = len(sp_vocab)
    for ch in word[1:]:
        if ch not in sp_vocab:
            sp_vocab[ch] = len(sp_vocab)
        pair = (cur, ch)
        cur += ch
        if cur not in sp_vocab:
            sp_vocab[cur] = len(sp_vocab)
            sp_merges.append([pair[0], pair[1]])
sp_style = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True}
                     for t, i in [("<unk>", 0), ("<s>", 1), ("</s>", 2)]],
    "normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "pre_tokenizer": None,
    "post_processor": {"type": "TemplateProcessing",
                       "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                  {"Sequence": {"id": "A", "type_id": 0}}],
                       "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                {"Sequence": {"id": "A", "type_id": 0}},
                                {"SpecialToken": {"id": "<s>", "type_id": 1}},
                                {"Sequence": {"id": "B", "type_id": 1}}],
                       "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
    "decoder": {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
              "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
              "byte_fallback": True, "ignore_merges": False, "vocab": sp_vocab,
              "merges": sp_merges}}
metaspace = dict(sp_style, normalizer=None,
                 pre_tokenizer={"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first",
                                "split": False},
                 decoder={"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first",
                          "split": False})
texts = ["Hello world, the thing is 12345!\n\n  tabs\tand ünïcödé 日本語 🙂 <|end|>",
         "Hello\x00\xff\xfe bytes", ""]
for name, t in [("byte-level", byte_level), ("sentencepiece-style", sp_style),
                ("metaspace", metaspace)]:
    for i, text in enumerate(texts[:2]):
        put("tokenizer_json", "%s-%d" % (name, i),
            json.dumps(t, ensure_ascii=False).encode() + b"\x00" +
            text.encode("utf-8", "surrogateescape"))
put("tokenizer_json", "crash-number-overflow",
    b'{"version": "1.0", "model": {"type": "BPE", "dropout": 1e400, "vocab": {}, "merges": []}}')

# --- .jsonl readers (first byte: 0 documents, 1 ARC, 2 PIQA, 3 HellaSwag, 4-5 WinoGrande) ------
put("jsonl", "docs", b"\x00" + b"\n".join(json.dumps({"text": t, "timestamp": "2019-04-25",
                                                       "url": "https://example.com/%d" % i}).encode()
                                           for i, t in enumerate(["First document.\nTwo lines.",
                                                                  "Second one, ünïcödé.", ""])))
arc = {"id": "Q1", "question": {"stem": "Which is a liquid?",
                                "choices": [{"text": "ice", "label": "A"},
                                            {"text": "water", "label": "B"},
                                            {"text": "steam", "label": "C"}]},
       "answerKey": "B"}
arc_num = {"id": "Q2", "question": {"stem": "Pick two.",
                                    "choices": [{"text": "one", "label": "1"},
                                                {"text": "two", "label": "2"}]},
           "answerKey": "2"}
put("jsonl", "arc", b"\x01" + (json.dumps(arc) + "\n" + json.dumps(arc_num) + "\n").encode())
piqa = {"goal": "To open a jar,", "sol1": "twist the lid.", "sol2": "freeze it."}
put("jsonl", "piqa", b"\x02" + (json.dumps(piqa) + "\n" + json.dumps(piqa) + "\n").encode() +
    b"\x000\n1\n")
put("jsonl", "hellaswag", b"\x03" + "\n".join([
    "A man is sitting on a roof. he", "0", "is using wrap to wrap a pair of skis.",
    "is ripping level tiles off.", "is holding a rubik's cube.", "starts pulling up roofing."
]).encode() + b"\n")
wino = {"qID": "1", "sentence": "The trophy doesn't fit in the suitcase because _ is too big.",
        "option1": "the trophy", "option2": "the suitcase", "answer": "1"}
put("jsonl", "winogrande", b"\x04" + (json.dumps(wino) + "\n").encode())
put("jsonl", "winogrande-skip-bad", b"\x0a" + (json.dumps(wino) + "\n{\"bad\": 1}\n").encode())
put("jsonl", "crash-number-overflow", b'\x00{"text": "a"}\n{"text": "b", "x": 1e400}\n')
put("jsonl", "crash-arc-overflow", b'\x01{"id": 1e400}\n')

# --- GGUF v3 (ggml's docs/gguf.md): header, metadata, tensor infos, aligned data ----------------
GGUF_SIZES = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24),
              8: (32, 34), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
              14: (256, 210), 30: (1, 2)}


def gguf_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gguf_value(t, v):
    fmt = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
           11: "<q", 12: "<d"}
    return gguf_str(v) if t == 8 else struct.pack(fmt[t], v)


def gguf(kv, tensors, alignment=32):
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    for key, t, v in kv:
        out += gguf_str(key)
        if isinstance(v, list):
            out += struct.pack("<IIQ", 9, t, len(v)) + b"".join(gguf_value(t, x) for x in v)
        else:
            out += struct.pack("<I", t) + gguf_value(t, v)
    blobs, off = b"", 0
    for name, ne, ty, *given in tensors:
        block, nb = GGUF_SIZES[ty]
        rows = 1
        for d in ne[1:]:
            rows *= d
        n = ne[0] // block * nb * rows
        out += gguf_str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d)
                                                                       for d in ne)
        out += struct.pack("<IQ", ty, off)
        # Deterministic bytes; fp16 scale fields get moderate values through the low bytes.
        data = given[0] if given else bytes((i * 37 + off) % 251 for i in range(n))
        pad = (-n) % alignment
        blobs += data + b"\0" * pad
        off += n + pad
    out += b"\0" * ((-len(out)) % alignment)
    return out + blobs


gguf_kv = [("general.architecture", 8, "llama"), ("general.alignment", 4, 32),
           ("llama.block_count", 4, 1), ("llama.embedding_length", 4, 256),
           ("llama.rope.freq_base", 6, 10000.0), ("tokenizer.ggml.model", 8, "llama"),
           ("tokenizer.ggml.tokens", 8, ["<unk>", "<s>", "</s>", "a"]),
           ("tokenizer.ggml.scores", 6, [0.0, 0.0, 0.0, -1.0]),
           ("tokenizer.ggml.token_type", 5, [2, 3, 3, 1]),
           ("tokenizer.ggml.add_bos_token", 7, True), ("big", 10, 2**63), ("neg", 11, -5),
           ("pi", 12, 3.14159)]
put("gguf", "gguf-float", gguf(gguf_kv, [("token_embd.weight", [256, 4], 0),
                                         ("output_norm.weight", [256], 0),
                                         ("blk.0.attn_q.weight", [256, 2], 1),
                                         ("blk.0.attn_k.weight", [256, 2], 30)]))
put("gguf", "gguf-legacy", gguf(gguf_kv[:3], [("q8", [64, 2], 8), ("q4_0", [64, 2], 2),
                                              ("q4_1", [32, 1], 3), ("q5_0", [32, 3], 6),
                                              ("q5_1", [32, 1], 7)]))
put("gguf", "gguf-kquants", gguf(gguf_kv[:2], [("q2k", [256, 1], 10), ("q3k", [256, 1], 11),
                                               ("q4k", [256, 2], 12), ("q5k", [256, 1], 13),
                                               ("q6k", [256, 1], 14)], alignment=32))
put("gguf", "gguf-align64", gguf([("general.alignment", 4, 64)], [("a", [32, 2], 8),
                                                                 ("b", [3], 0)], alignment=64))
put("gguf", "gguf-empty", gguf([], []))

# --- imatrix files (llama-imatrix's two formats; io/imatrix.h) ---------------------------------
imatrix_kv = [("general.type", 8, "imatrix"), ("imatrix.datasets", 8, ["train.txt"]),
              ("imatrix.chunk_count", 4, 4), ("imatrix.chunk_size", 4, 128)]
put("imatrix", "imatrix-gguf", gguf(imatrix_kv, [
    ("blk.0.attn_q.weight.counts", [1, 1], 0, f32(512.0)),
    ("blk.0.attn_q.weight.in_sum2", [32, 1], 0, f32(*[0.5 * i for i in range(32)])),
    ("blk.0.ffn_down.weight.counts", [1, 1], 0, f32(512.0)),
    ("blk.0.ffn_down.weight.in_sum2", [64, 1], 0, f32(*[1.0 + i for i in range(64)]))]))
put("imatrix", "imatrix-gguf-experts", gguf(imatrix_kv, [
    ("blk.0.ffn_up_exps.weight.counts", [1, 3], 0, f32(10.0, 0.0, 2.6)),
    ("blk.0.ffn_up_exps.weight.in_sum2", [4, 3], 0, f32(*range(12))),
    ("output.weight.in_sum2", [4], 0, f32(1, 2, 3, 4))]))  # no counts: an error


def dat(entries, trailer=None):
    out = struct.pack("<i", len(entries))
    for name, ncall, values in entries:
        b = name.encode()
        out += struct.pack("<i", len(b)) + b + struct.pack("<ii", ncall, len(values))
        out += f32(*values)
    if trailer:
        chunks, dataset = trailer
        out += struct.pack("<ii", chunks, len(dataset)) + dataset.encode()
    return out


put("imatrix", "imatrix-dat", dat([("blk.0.attn_q.weight", 4, [0.25 * i for i in range(32)]),
                                   ("blk.0.attn_k.weight", 0, [1.0] * 8)], (4, "train.txt")))
put("imatrix", "imatrix-dat-bare", dat([("blk.3.ffn_gate.weight", 1, [2.0, 3.0])]))

# --- experiment files (YAML, `loaq bench`) -----------------------------------------------------
put("experiment", "table-ablation", """name: fuzz-ablation
description: GPTQ and LoaQ at 2 bits, with and without the second-order term
out: bench-out/fuzz
models: [llama-mini-7m, stories260K]
seeds: [0, 1, 2]
quantize: {method: [gptq, loaq], wbits: 2, nsamples: 128, seqlen: 256, no-soa: [false, true]}
eval: {ppl: [wikitext2, c4], seqlen: 256, max_windows: 0, tasks: [piqa, arc_easy], limit: 50}
report:
  tables:
    - {name: t5, kind: ablation, columns: [wikitext2, c4, acc], digits: 3}
    - {name: t1, kind: methods, rows: method, sections: model, where: {wbits: "2"}}
  figures:
    - {name: fig, x: alpha, y: wikitext2, series: method, reference: gptq, logy: true}
""")
put("experiment", "lowrank-grid", """name: fuzz-lowrank
out: bench-out/fuzz-lowrank
models: [llama-mini-7m]
seeds: [0]
quantize:
  method: [rtn, gptq, loaq]
  wbits: [2, 3]
  group: [-1, 128]
  lowrank: [none, svd, lqer, qera, loaq]
  rank: [8, 32]
  lowrank-bits: ["16,16", "8,8", "4,8"]
  lowrank-weighted: [false, true]
  rotate: [false, true]
  abits: [16, 4]
eval: {ppl: [wikitext2]}
keep_models: true
report:
  tables: [{name: main, kind: side_by_side, rows: lowrank, side_by_side: wbits, columns: [wikitext2]}]
""")
put("experiment", "minimal", "name: m\nmodels: [stories260K]\nquantize: {method: rtn, wbits: 4}\n")
put("experiment", "crash-huge-grid", "name: big\nmodels: [a, b, c, d]\nseeds: [0, 1, 2, 3, 4, 5, 6, 7]\n"
    "quantize:\n  method: [rtn, gptq, gptaq, qronos, loaq]\n  wbits: [2, 3, 4, 5, 6, 7, 8]\n"
    "  group: [-1, 32, 64, 128, 256]\n  alpha: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]\n"
    "  beta: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]\n  damp: [0.01, 0.02, 0.05, 0.1]\n")
put("experiment", "anchors", "base: &b {method: gptq, wbits: 3}\nname: a\nmodels: [x]\n"
    "quantize: *b\neval: {ppl: [c4], seqlen: 0, batch_tokens: 4096}\n")

# --- resume states (first byte even: a quantize run's state.json; odd: a bench result.json) ------
fingerprint = {
    "model": {"dir": "/models/m", "files": [{"file": "model.safetensors", "bytes": 1024}],
              "headers": "0123456789abcdef", "config": "fedcba9876543210"},
    "calibration": {"windows": 4, "seqlen": 16, "ids": "00112233445566aa", "ranks": 1},
    "settings": {"method": "gptq", "wbits": 4, "group": -1}}
linear = {"name": "model.layers.0.self_attn.q_proj", "rel_objective": 0.0123, "damp": 0.01,
          "damp_raises": 0, "dead_columns": 2, "seconds": 0.5}
branch = dict(linear, lowrank={"rank": 32, "bytes": 8192, "rel_objective_without": 0.02,
                               "fit_rel_error": 0.6, "seconds": 0.1})
report = {"linears": [linear, branch], "timings": {"total": 3.5, "lowrank": 0.1},
          "calib_tokens": 64, "comm": [{"layer": 0, "bytes": 4096, "seconds": 0.01}]}
state = {"fingerprint": fingerprint, "layers_done": 2, "streams": ["hq-00002.bin", "hf-00002.bin"],
         "report": report}
put("resume", "state", b"\x00" + json.dumps(state, indent=1).encode())
put("resume", "state-ranks", b"\x00" + json.dumps(dict(
    state, fingerprint=dict(fingerprint, calibration=dict(fingerprint["calibration"], ranks=2)),
    streams=["hq-00001.rank-0-of-2.bin", "hq-00001.rank-1-of-2.bin"], layers_done=1)).encode())
put("resume", "state-settings-differ", b"\x00" + json.dumps(dict(
    state, fingerprint=dict(fingerprint, settings={"method": "loaq", "wbits": 2}))).encode())
put("resume", "crash-stream-path", b"\x00" + json.dumps(dict(
    state, streams=["../../../important-file"])).encode())
put("resume", "crash-float-to-int", b"\x00" + json.dumps(dict(
    state, report=dict(report, linears=[dict(linear, damp_raises=1e30)]))).encode())
put("resume", "crash-layers-done", b"\x00" + json.dumps(dict(state, layers_done=1e30)).encode())
result = {"hash": "0123456789ab", "label": "gptq wbits=2", "status": "ok", "attempts": 1,
          "settings": {"model": "llama-mini-7m", "seed": "0", "method": "gptq", "wbits": "2"},
          "timings": {"quantize_seconds": 60.5, "eval_seconds": 20.25, "quant_seconds": 55.0},
          "peak_rss_bytes": 1.5e9, "metrics": {"wikitext2": 208.15, "c4": 133.71}}
put("resume", "result", b"\x01" + json.dumps(result, indent=2).encode())
put("resume", "result-failed", b"\x01" + json.dumps(dict(
    result, status="failed", failed_step="quantize", error="loaq: out of memory")).encode())
# Found by fuzz_experiment in session 6: an empty model name made std::filesystem::absolute throw.
put("experiment", "crash-empty-model-name", 'name: e\nmodels: [""]\nquantize: {method: rtn}\n')
