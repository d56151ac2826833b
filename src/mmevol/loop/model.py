"""The tiny VLM of the closed loop: a CNN image encoder, a GRU question encoder, an answer head.

This module owns the network and its tokenizer. The model is a classifier over the closed
answer vocabulary (``questions.ANSWERS``):

- image: a small CNN (2x2 patches, two 3x3 convolutions, a 1x1 one, batch norm: without it,
  shape kinds were barely learned here) over the downscaled render plus two coordinate channels,
  giving an 8x8 grid of features to which the grid's coordinates are appended;
- question: token embeddings and a one-layer GRU (its last state is the question vector);
- fusion: FiLM: the question scales and shifts every cell's features (cells carry a learned
  position embedding), a 1x1 layer mixes them, max- and mean-pooling over the cells are
  concatenated with the question vector and a two-layer MLP gives the answer logits.

Boxes written in questions (``[x1, y1, x2, y2]``) are tokenized to two tokens, the column and
row of their centre on an 8x8 grid, which is all this model needs to relate a box to the image.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from mmevol.loop.questions import LETTERS

GRID = 8
PAD, UNK = "<pad>", "<unk>"
_TOKEN = re.compile(r"\[[^\]]*\]|[A-Za-z]+|\d+|\?")


def tokenize(text: str) -> list[str]:
    """Lower-cased words, option letters as ``opt_X``, boxes as their centre cell."""
    out: list[str] = []
    for tok in _TOKEN.findall(text):
        if tok.startswith("["):
            try:
                x1, y1, x2, y2 = (float(v) for v in tok[1:-1].split(","))
            except ValueError:
                out.append(UNK)
                continue
            cx = min(GRID - 1, max(0, int((x1 + x2) / 2 * GRID)))
            cy = min(GRID - 1, max(0, int((y1 + y2) / 2 * GRID)))
            out += [f"cx{cx}", f"cy{cy}"]
        elif tok in LETTERS:
            out.append(f"opt_{tok}")
        else:
            out.append(tok.lower())
    return out


class Vocab:
    """Token <-> id; id 0 is padding, id 1 the unknown token."""

    def __init__(self, tokens: list[str]) -> None:
        self.itos = [PAD, UNK, *sorted(set(tokens) - {PAD, UNK})]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, texts: list[str]) -> Vocab:
        return cls([t for text in texts for t in tokenize(text)])

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(t, 1) for t in tokenize(text)] or [1]

    def __len__(self) -> int:
        return len(self.itos)


def encode_batch(vocab: Vocab, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded token ids (N, L) and lengths (N,)."""
    ids = [vocab.encode(t) for t in texts]
    lengths = torch.tensor([len(x) for x in ids], dtype=torch.long)
    out = torch.zeros((len(ids), int(lengths.max())), dtype=torch.long)
    for i, x in enumerate(ids):
        out[i, : len(x)] = torch.tensor(x, dtype=torch.long)
    return out, lengths


def _coords(n: int, size: int) -> torch.Tensor:
    lin = torch.linspace(-1.0, 1.0, size)
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    return torch.stack([xx, yy]).unsqueeze(0).expand(n, -1, -1, -1)


class TinyVLM(nn.Module):
    """Image + question -> logits over the answer vocabulary."""

    def __init__(
        self,
        vocab_size: int,
        n_answers: int,
        width: int = 32,
        emb: int = 64,
        hidden: int = 128,
        fused: int = 128,
    ) -> None:
        super().__init__()
        c2, c3 = width, 2 * width

        def conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> list[nn.Module]:
            pad = 0 if stride > 1 else k // 2
            return [nn.Conv2d(cin, cout, k, stride, pad), nn.BatchNorm2d(cout), nn.ReLU()]

        self.cnn = nn.Sequential(  # 2x2 patches, 3x3 convolutions at 1/2 and 1/4 scale, 1x1
            *conv(5, c2, 2, 2), *conv(c2, c3), nn.MaxPool2d(2),
            *conv(c3, c3), nn.MaxPool2d(2), *conv(c3, c3, 1),
        )  # fmt: skip
        feat = c3 + 2
        self.feat_dim = feat
        self.embed = nn.Embedding(vocab_size, emb, padding_idx=0)
        self.gru = nn.GRU(emb, hidden, batch_first=True)
        self.pos = nn.Parameter(torch.randn(1, fused, GRID * GRID) * 0.5)
        self.proj = nn.Conv1d(feat, fused, 1)
        self.norm = nn.GroupNorm(1, fused)
        self.film = nn.Linear(hidden, 2 * fused)
        self.mix = nn.Conv1d(fused, fused, 1)
        self.head = nn.Sequential(
            nn.Linear(hidden + 2 * fused, 256), nn.ReLU(), nn.Linear(256, n_answers)
        )

    def grid(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3) -> features (N, C+2, 8, 8), the grid coordinates appended."""
        x = images.permute(0, 3, 1, 2).float() / 255.0 - 0.5
        x = torch.cat([x, _coords(x.shape[0], x.shape[-1])], dim=1)
        f = self.cnn(x)
        f = nn.functional.adaptive_avg_pool2d(f, GRID)
        return torch.cat([f, _coords(f.shape[0], GRID)], dim=1)

    def image_embedding(self, images: torch.Tensor) -> torch.Tensor:
        """One vector per image (mean of the CNN grid), used to find similar images."""
        return self.grid(images)[:, :-2].mean(dim=(2, 3))

    def question(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.embed(tokens))  # causal: padding after a question cannot reach it
        return out[torch.arange(tokens.shape[0]), lengths - 1]

    def forward(
        self,
        images: torch.Tensor,
        image_index: torch.Tensor,
        tokens: torch.Tensor,
        lengths: torch.Tensor,
    ) -> torch.Tensor:
        """Logits (Q, n_answers) for Q questions; ``image_index[q]`` is question q's image."""
        g = self.grid(images).flatten(2)  # each image encoded once, however many questions
        q = self.question(tokens, lengths)
        gamma, beta = self.film(q).unsqueeze(-1).chunk(2, dim=1)  # (Q, F, 1) each
        cells = self.norm(self.proj(g) + self.pos)[image_index]  # (Q, F, P)
        h = torch.relu(cells * (1 + gamma) + beta)
        h = torch.relu(self.mix(h))
        pooled = torch.cat([h.amax(dim=2), h.mean(dim=2)], dim=1)
        return self.head(torch.cat([q, pooled], dim=1))


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
