"""The lab's trained models: a family of tiny transformers trained on tiny-shakespeare.

    family.names()              # every checkpoint, smallest first
    model = family.load("m")    # a GPT in eval mode, in well under a second
    model.card                  # what it is and how it was trained: config, steps, tokens, FLOPs, losses

The checkpoints are trained by `scripts/train_demo_models.py` (deterministic on a CPU) and committed
under data/models/ as safetensors, each carrying its card in the file's metadata, so a chapter can
always say which model, trained how long, on what, reached which held-out loss.
"""

import json
from dataclasses import dataclass

import torch

from atlas import paths, reads
from atlas.demos.model import GPT, Config
from atlas.demos.training import Recipe

STEPS = 1500  # every member of the dense family sees the same tokens, so loss differs by size alone


@dataclass(frozen=True)
class Member:
    name: str
    description: str
    config: Config
    recipe: Recipe


def _dense(name, d_model, n_layer, n_head, description, **config):
    return Member(
        name,
        description,
        Config(d_model=d_model, n_layer=n_layer, n_head=n_head, **config),
        Recipe(steps=STEPS, eval_every=100),
    )


FAMILY = [
    _dense("xs", 32, 2, 2, "the smallest dense model: a draft model and the bottom of the scaling fits"),
    _dense("s", 48, 3, 3, "a small dense model"),
    _dense("m", 64, 4, 4, "the middle of the family; its GQA and MQA variants share everything but key/value heads"),
    _dense("l", 96, 5, 4, "a larger dense model: a teacher and a target model"),
    _dense("xl", 128, 6, 4, "the largest dense model, kept out of the scaling fits to test their extrapolation"),
    _dense("m-gqa", 64, 4, 4, "the m model with 2 key/value heads for its 4 query heads (GQA)", n_kv_head=2),
    _dense("m-mqa", 64, 4, 4, "the m model with one key/value head shared by all 4 query heads (MQA)", n_kv_head=1),
    Member(
        "l-exit",
        "the l model trained with a loss after every block, so each layer can exit early",
        Config(d_model=96, n_layer=5, n_head=4),
        Recipe(steps=STEPS, eval_every=100, exit_loss=True),
    ),
    Member(
        "m-moe",
        "the m model with a mixture of 4 experts (top-1 routing) in place of each MLP",
        Config(d_model=64, n_layer=4, n_head=4, n_expert=4, top_k=1),
        Recipe(steps=STEPS, eval_every=100),
    ),
]
_BY_NAME = {m.name: m for m in FAMILY}
DENSE = ["xs", "s", "m", "l", "xl"]


def member(name: str) -> Member:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no model {name!r}; the family is {', '.join(_BY_NAME)}") from None


def names() -> list[str]:
    return [m.name for m in FAMILY]


def path(name: str):
    return paths.root() / "data" / "models" / f"{name}.safetensors"


def save(model: GPT, card: dict, dtype: torch.dtype) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items() if k != "head.weight"}
    target = path(card["name"])
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(target), metadata={"atlas": json.dumps(card, sort_keys=True)})


def read_card(name: str) -> dict:
    """A checkpoint's card without its weights (noted as a read: a page that shows it depends on it)."""
    from safetensors import safe_open

    with safe_open(str(path(name)), framework="pt") as f:
        card = json.loads(f.metadata()["atlas"])
    reads.note("model", name)
    return card


def load(name: str, device: torch.device | str | None = None) -> GPT:
    """The trained model `name`, in fp32 and eval mode, with its card as `model.card`."""
    from safetensors.torch import load_file

    member(name)  # a clear error for an unknown name
    file = path(name)
    if not file.exists():
        raise FileNotFoundError(f"{paths.relative(file)} is missing; run `python scripts/train_demo_models.py {name}`")
    card = read_card(name)  # notes the read
    model = GPT(Config(**card["config"]))
    state = {k: v.float() for k, v in load_file(str(file)).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing != ["head.weight"] or unexpected:  # the head is tied to the embedding, never stored
        raise ValueError(
            f"{paths.relative(file)} does not match its config: missing {missing}, unexpected {unexpected}"
        )
    model.card = card
    return model.to(device or "cpu").eval()
