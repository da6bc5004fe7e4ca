#!/usr/bin/env python3
"""Write a tiny random-weight Llama GGUF (~0.5 MB) for protocol tests against llama-server.

Usage: tiny_model.py OUT.gguf     (needs PyPI `gguf` and `numpy`; scripts/llama.sh model runs it
                                   in a venv with pinned versions and caches the result)

The model is a real Llama graph (2 layers, n_embd 64, 4 heads / 2 KV heads, SwiGLU FFN, RoPE)
with a SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256 byte tokens <0x00>..<0xFF>
(llama.cpp needs them for byte fallback, so any text tokenizes), "\u2581" (the space
marker), four chat-role control tokens and five word tokens. Its chat template
(`tokenizer.chat_template`) renders

    <|system|>\\nTEXT<|end|>\\n<|user|>\\nTEXT<|end|>\\n<|assistant|>\\n

The weights are random (fixed seed: the file is byte-for-byte reproducible), except that the
token embeddings carry a strong "class" signal that the output layer maps to a next token, so
generation is deterministic whatever the sampler settings:

    any prompt  ->  "Hello" " from" " tiny" " llama" "!" </s>

i.e. the reply is "Hello from tiny llama!" with finish_reason "stop" (usage.completion_tokens is
6: llama-server counts the EOS). With max_tokens < 5 the reply is cut (finish_reason "length").
With ignore_eos the model goes on with " Hello from tiny llama!" again and again (always ASCII),
which is handy for throughput tests. Embeddings (llama-server --embeddings --pooling mean)
differ between texts, because the random parts of the token embeddings do.

Prompt text tokenizes to one token per UTF-8 byte (a space is the single token "\u2581"; no
space prefix is added); the role markers are single tokens; BOS is added. So a chat with one
user message of N ASCII bytes is N + 7 prompt tokens.
"""

import sys

import numpy as np
from gguf import GGUFWriter, TokenType

SEED = 20240601
N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 2
HEAD_DIM = N_EMBD // N_HEAD
N_FF = 128
N_LAYER = 2
N_CTX_TRAIN = 2048
RMS_EPS = 1e-5

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|assistant|>\\n' -}}{%- endif -%}"
)

SPACE = "\u2581"  # SentencePiece's word-boundary marker
REPLY = ["Hello", SPACE + "from", SPACE + "tiny", SPACE + "llama", "!"]


def build_vocab():
    tokens, types = [], []

    def add(text, ttype):
        tokens.append(text)
        types.append(ttype)
        return len(tokens) - 1

    unk = add("<unk>", TokenType.UNKNOWN)
    bos = add("<s>", TokenType.CONTROL)
    eos = add("</s>", TokenType.CONTROL)
    byte_ids = [add(f"<0x{b:02X}>", TokenType.BYTE) for b in range(256)]
    space = add(SPACE, TokenType.NORMAL)
    roles = [add(f"<|{r}|>", TokenType.CONTROL) for r in ("system", "user", "assistant", "end")]
    reply = [add(w, TokenType.NORMAL) for w in REPLY]
    return tokens, types, dict(unk=unk, bos=bos, eos=eos, bytes=byte_ids, space=space, roles=roles, reply=reply)


def main(out_path):
    rng = np.random.default_rng(SEED)
    tokens, types, ids = build_vocab()
    n_vocab = len(tokens)

    # Token classes: class 0 = every token not in the reply, class k = reply word k-1. The class
    # is a one-hot in embedding dims 0..N_CLASS-1; the remaining dims are random.
    reply = ids["reply"]
    n_class = 1 + len(reply)
    cls = np.zeros(n_vocab, dtype=np.int64)
    for k, tok in enumerate(reply):
        cls[tok] = 1 + k

    def randn(*shape, std):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    tok_embd = np.zeros((n_vocab, N_EMBD), dtype=np.float32)
    tok_embd[np.arange(n_vocab), cls] = 1.0
    tok_embd[:, n_class:] = randn(n_vocab, N_EMBD - n_class, std=0.05)

    # Output layer: class c -> next token. Logit of the chosen token is ~4 * 7.5 = 30, the
    # random rest ~+-1, so every sampler picks the chosen token.
    output = randn(n_vocab, N_EMBD, std=0.1)
    nxt = {0: reply[0]}
    for k in range(len(reply)):
        nxt[1 + k] = reply[k + 1] if k + 1 < len(reply) else ids["eos"]
    for c, tok in nxt.items():
        output[tok, c] = 4.0
    # Runner-up after "!" (used when EOS is banned, e.g. ignore_eos): the space marker.
    output[ids["space"], len(reply)] = 2.0
    # Never produce tokens that cannot start ASCII text: every token has exactly one class dim
    # set, so a negative weight on all class dims lowers their logit for every input.
    never = [ids["unk"], ids["bos"], *ids["roles"], *ids["bytes"][:0x20], *ids["bytes"][0x7F:]]
    output[np.array(never), :n_class] = -2.0

    w = GGUFWriter(out_path, "llama")
    w.add_name("helix-tiny-llama")
    w.add_description("Tiny random-weight Llama for protocol tests (Helix scripts/tiny_model.py)")
    w.add_file_type(0)  # all F32
    w.add_vocab_size(n_vocab)
    w.add_context_length(N_CTX_TRAIN)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_layer_norm_rms_eps(RMS_EPS)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_rope_freq_base(10000.0)

    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * n_vocab)
    w.add_token_types([int(t) for t in types])
    w.add_unk_token_id(ids["unk"])
    w.add_bos_token_id(ids["bos"])
    w.add_eos_token_id(ids["eos"])
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(False)
    w.add_chat_template(CHAT_TEMPLATE)

    w.add_tensor("token_embd.weight", tok_embd)
    for i in range(N_LAYER):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(p + "attn_q.weight", randn(N_HEAD * HEAD_DIM, N_EMBD, std=0.05))
        w.add_tensor(p + "attn_k.weight", randn(N_HEAD_KV * HEAD_DIM, N_EMBD, std=0.05))
        w.add_tensor(p + "attn_v.weight", randn(N_HEAD_KV * HEAD_DIM, N_EMBD, std=0.05))
        w.add_tensor(p + "attn_output.weight", randn(N_EMBD, N_HEAD * HEAD_DIM, std=0.02))
        w.add_tensor(p + "ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(p + "ffn_gate.weight", randn(N_FF, N_EMBD, std=0.05))
        w.add_tensor(p + "ffn_up.weight", randn(N_FF, N_EMBD, std=0.05))
        w.add_tensor(p + "ffn_down.weight", randn(N_EMBD, N_FF, std=0.02))
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    w.add_tensor("output.weight", output)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tiny_model.py OUT.gguf")
    main(sys.argv[1])
