"""Tiny random models, tokenizers and preference files for the training tests (generated,
nothing downloaded)."""
import json
import random
from pathlib import Path

WORDS = [f"w{i}" for i in range(61)]
CHATML = ("{% for message in messages %}{{'<s> ' + message['role'] + ' ' + message['content'] + ' </s> '}}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<s> assistant ' }}{% endif %}")


def tokenizer(chat: bool = True):
    """A word-level tokenizer over w0…w60 with <pad>, <eos>, <unk>, <s>, </s>, roles."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = ["<pad>", "<eos>", "<unk>", "<s>", "</s>", "user", "assistant", "system"] + WORDS
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    t = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>",
                                unk_token="<unk>", additional_special_tokens=["<s>", "</s>"])
    if chat:
        t.chat_template = CHATML
    return t


def llama(vocab_size: int, seed: int = 0, tie: bool = False, layers: int = 2, hidden: int = 32):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden,
                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=128, tie_word_embeddings=tie, pad_token_id=0,
                      eos_token_id=1, bos_token_id=3)
    return LlamaForCausalLM(cfg).float()


def model_dir(path, seed: int = 0, tie: bool = False, chat: bool = True) -> Path:
    """A saved tiny Llama + tokenizer (safetensors) that ``from_pretrained`` loads offline."""
    path = Path(path)
    tok = tokenizer(chat)
    m = llama(len(tok.get_vocab()), seed, tie)
    m.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def text(rng, lo, hi):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def pairs(n: int, seed: int = 0, conversational: bool = False):
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        p, c, r = text(rng, 2, 6), text(rng, 1, 7), text(rng, 1, 7)
        while r == c:
            r = text(rng, 1, 7)
        if conversational:
            rows.append({"prompt": [{"role": "user", "content": p}],
                         "chosen": [{"role": "assistant", "content": c}],
                         "rejected": [{"role": "assistant", "content": r}]})
        else:
            rows.append({"prompt": p + " ", "chosen": c, "rejected": r})
    return rows


def write_jsonl(path, rows, extra_lines=()):
    path = Path(path)
    lines = [json.dumps(r) for r in rows] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n")
    return path
