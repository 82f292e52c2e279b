"""A small decoder-only transformer, readable in one sitting.

    config = Config(d_model=64, n_layer=4, n_head=4, n_kv_head=2)   # GQA: 2 key/value heads
    model = GPT(config)
    logits = model(ids)                                  # (batch, time, vocab)
    logits, hidden = model(ids, return_hidden=True)      # hidden[l]: the residual stream after block l
    cache = model.new_cache()                            # incremental decoding
    logits = model(prompt, cache=cache); logits = model(next_id, cache=cache)

Pre-norm blocks (LayerNorm, then attention or MLP, added back to the residual stream), learned
absolute positions, a language-model head tied to the token embedding. Chapters swap a part
instead of copying the model: `block.attn`, `block.mlp` (a `MoE` is one such MLP) or a linear
layer inside them (a LoRA wrapper), and any object with the `KVCache` methods can be passed as a
layer's cache (paged, quantized, evicting).
"""

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from atlas.demos.corpus import VOCAB_SIZE


@dataclass(frozen=True)
class Config:
    d_model: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_kv_head: int | None = None  # None: as many as query heads (MHA); 1: MQA; between: GQA
    d_ff: int | None = None  # None: 4 * d_model
    context: int = 256
    vocab_size: int = VOCAB_SIZE
    n_expert: int = 0  # > 0: every block's MLP is a mixture of this many experts
    top_k: int = 1
    capacity_factor: float = 1.25

    def __post_init__(self):
        if self.d_model % self.n_head:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_head {self.n_head}")
        if self.n_head % self.kv_heads:
            raise ValueError(f"n_head {self.n_head} is not divisible by n_kv_head {self.kv_heads}")

    @property
    def kv_heads(self) -> int:
        return self.n_kv_head or self.n_head

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @property
    def ff(self) -> int:
        return self.d_ff or 4 * self.d_model

    def to_dict(self) -> dict:
        return asdict(self)


class KVCache:
    """One layer's keys and values, (batch, kv_heads, time, head_dim), grown by concatenation.

    `seen` counts every token ever appended, so positions stay right even for caches that drop
    entries (eviction); `crop` rolls the cache back, as speculative decoding needs after a rejection."""

    def __init__(self):
        self.k = self.v = None
        self.seen = 0

    def update(self, k: torch.Tensor, v: torch.Tensor):
        self.k = k if self.k is None else torch.cat([self.k, k], dim=2)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=2)
        self.seen += k.shape[2]
        return self.k, self.v

    def crop(self, length: int) -> None:
        self.k, self.v = self.k[:, :, :length], self.v[:, :, :length]
        self.seen = length

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.shape[2]

    def nbytes(self) -> int:
        return 0 if self.k is None else self.k.numel() * self.k.element_size() * 2


class Attention(nn.Module):
    """Causal self-attention with n_head query heads sharing n_kv_head key/value heads."""

    def __init__(self, config: Config):
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = config.n_head, config.kv_heads, config.head_dim
        self.q = nn.Linear(config.d_model, config.n_head * config.head_dim)
        self.kv = nn.Linear(config.d_model, 2 * config.kv_heads * config.head_dim)
        self.out = nn.Linear(config.d_model, config.d_model)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        batch, time, _ = x.shape
        q = self.q(x).view(batch, time, self.n_head, self.head_dim).transpose(1, 2)
        k, v = self.kv(x).view(batch, time, 2, self.n_kv_head, self.head_dim).permute(2, 0, 3, 1, 4)
        past = len(cache) if cache is not None else 0
        if cache is not None:
            k, v = cache.update(k, v)
        groups = self.n_head // self.n_kv_head  # each key/value head serves this many query heads
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        if past == 0:  # a whole sequence: the fused causal kernel
            y = F.scaled_dot_product_attention(q, k, v, is_causal=time > 1)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(time, past, x.device))
        return self.out(y.transpose(1, 2).reshape(batch, time, -1))


def causal_mask(time: int, past: int, device=None) -> torch.Tensor:
    """(time, past + time) booleans: the new query i sees every cached key and new keys 0..i."""
    new = torch.ones(time, time, dtype=torch.bool, device=device).tril()
    return torch.cat([torch.ones(time, past, dtype=torch.bool, device=device), new], dim=1)


class MLP(nn.Module):
    def __init__(self, config: Config, d_ff: int | None = None):
        super().__init__()
        self.up = nn.Linear(config.d_model, d_ff or config.ff)
        self.down = nn.Linear(d_ff or config.ff, config.d_model)

    def forward(self, x):
        return self.down(F.gelu(self.up(x)))


class MoE(nn.Module):
    """A mixture of MLP experts with top-k routing, a capacity limit and Switch's balancing loss.

    Each token goes to its top_k experts by router probability. In training an expert takes at
    most capacity = capacity_factor * tokens * top_k / n_expert tokens per batch and the rest of
    its queue is dropped (passed on by the residual connection alone); in eval mode nothing is
    dropped, so a token's output does not depend on the rest of the batch (and cached decoding
    equals full recomputation). After a forward pass
    `aux_loss` holds n_expert * sum_i(f_i * P_i), f_i the fraction of tokens sent to expert i and
    P_i its mean router probability (Fedus et al.): 1.0 when the load is perfectly balanced."""

    def __init__(self, config: Config):
        super().__init__()
        self.n_expert, self.top_k, self.capacity_factor = config.n_expert, config.top_k, config.capacity_factor
        self.router = nn.Linear(config.d_model, config.n_expert, bias=False)
        self.experts = nn.ModuleList(MLP(config) for _ in range(config.n_expert))
        self.aux_loss = torch.zeros(())
        self.dropped = 0.0  # share of (token, expert) assignments dropped in the last pass

    def forward(self, x):
        tokens = x.reshape(-1, x.shape[-1])
        probs = self.router(tokens).softmax(dim=-1)
        weight, expert = probs.topk(self.top_k, dim=-1)  # (tokens, top_k)
        capacity = math.ceil(self.capacity_factor * len(tokens) * self.top_k / self.n_expert)
        if not self.training:
            capacity = len(tokens)
        out = torch.zeros_like(tokens)
        kept = 0
        for i, mlp in enumerate(self.experts):
            rows, slot = (expert == i).nonzero(as_tuple=True)  # in token order: first come, first served
            rows, slot = rows[:capacity], slot[:capacity]
            kept += len(rows)
            if len(rows):
                out.index_add_(0, rows, weight[rows, slot, None] * mlp(tokens[rows]))
        fraction = F.one_hot(expert[:, 0], self.n_expert).float().mean(dim=0)
        self.aux_loss = self.n_expert * (fraction * probs.mean(dim=0)).sum()
        self.dropped = 1 - kept / (len(tokens) * self.top_k)
        return out.view_as(x)


class Block(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(config.d_model), nn.LayerNorm(config.d_model)
        self.attn = Attention(config)
        self.mlp = MoE(config) if config.n_expert else MLP(config)

    def forward(self, x, cache=None):
        x = x + self.attn(self.norm1(x), cache)
        return x + self.mlp(self.norm2(x))


class GPT(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.position = nn.Embedding(config.context, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied: the same matrix reads tokens in and out
        self.apply(_init)
        for name, p in self.named_parameters():  # GPT-2's scaled init of the layers that add to the residual
            if name.endswith(("out.weight", "down.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * config.n_layer))

    def new_cache(self) -> list[KVCache]:
        return [KVCache() for _ in self.blocks]

    def forward(self, ids: torch.Tensor, cache: list | None = None, return_hidden: bool = False):
        start = cache[0].seen if cache is not None else 0
        if start + ids.shape[1] > self.config.context:
            raise ValueError(f"{start + ids.shape[1]} positions exceed the model's context of {self.config.context}")
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        x = self.embed(ids) + self.position(positions)
        hidden = [x]
        for i, block in enumerate(self.blocks):
            x = block(x, cache[i] if cache is not None else None)
            hidden.append(x)
        logits = self.logits(x)
        return (logits, hidden) if return_hidden else logits

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """The head applied to any residual stream: early exit reads an intermediate layer this way."""
        return self.head(self.norm(h))

    def aux_loss(self) -> torch.Tensor:
        """The mixture-of-experts balancing loss of the last forward pass (0 for a dense model)."""
        losses = [b.mlp.aux_loss for b in self.blocks if isinstance(b.mlp, MoE)]
        return torch.stack(losses).mean() if losses else torch.zeros(())

    @torch.no_grad()
    def generate(
        self,
        prompt: torch.Tensor,
        new_tokens: int,
        use_cache: bool = True,
        temperature: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Greedy (temperature 0) or sampled continuation of prompt (batch, time); returns only the new ids."""
        ids, out = prompt, []
        cache = self.new_cache() if use_cache else None
        context = prompt
        for _ in range(new_tokens):
            logits = self(ids if use_cache else context, cache=cache)[:, -1]
            if temperature == 0:
                nxt = logits.argmax(dim=-1, keepdim=True)
            else:
                probs = (logits / temperature).softmax(dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator)
            out.append(nxt)
            ids = nxt
            context = torch.cat([context, nxt], dim=1)
        return torch.cat(out, dim=1)


def _init(module):
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
