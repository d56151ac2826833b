"""The tiny VLM of the closed loop: a CNN image encoder, a GRU question encoder, an answer head.

This module owns the network, its tokenizer and the per-question side inputs it reads. The
model is a classifier over the closed answer vocabulary (``questions.ANSWERS``):

- image: a small CNN (2x2 patches, 3x3 convolutions with batch norm, a 1x1 one) over the
  downscaled render plus two coordinate channels, giving an 8x8 grid of cells, each with its
  grid coordinates and a learned position embedding;
- question: token embeddings and a one-layer GRU (its last state is the question vector);
- fusion: FiLM (the question scales and shifts every cell's features), a 1x1 mixing layer,
  then three readouts of the cells: max- and mean-pooling, two question-driven attention
  glimpses (softmax over cells; two, so a relation can look at both of its objects), and *box pooling*: every box written in the question
  (``[x1, y1, x2, y2]``, up to four, in order) averages the cells it covers;
- head: an MLP over the question vector and the readouts gives the answer logits; the boxes'
  pooled features also score the option letters A-D (a pointer: option k's logit is a score
  of box k), and a *family mask* keeps only the answers of the kind the question asks for
  (``questions.FAMILIES``: a colour question is only ever answered with a colour).

Boxes are also tokenized to two tokens, the column and row of their centre on the 8x8 grid.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from mmevol.world.questions import ANSWERS, FAMILIES, LETTERS

GRID = 8
MAX_BOXES = 4
GLIMPSES = 2
PAD, UNK = "<pad>", "<unk>"
_TOKEN = re.compile(r"\[[^\]]*\]|[A-Za-z]+|\d+|\?")
_BOX = re.compile(r"\[\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*\]")
FAMILY_NAMES: tuple[str, ...] = tuple(FAMILIES)
LETTER_INDEX = [ANSWERS.index(x) for x in LETTERS]


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


def box_cells(text: str) -> torch.Tensor:
    """(MAX_BOXES, GRID * GRID) weights: row k averages the cells whose centre lies in the
    k-th box of ``text`` (the nearest cell when none does); rows of missing boxes are zero."""
    out = torch.zeros(MAX_BOXES, GRID * GRID)
    centres = (torch.arange(GRID, dtype=torch.float32) + 0.5) / GRID
    for k, m in enumerate(_BOX.finditer(text)):
        if k == MAX_BOXES:
            break
        x1, y1, x2, y2 = (float(v) for v in m.groups())
        inx = (centres >= x1) & (centres <= x2)
        iny = (centres >= y1) & (centres <= y2)
        cells = (iny[:, None] & inx[None, :]).flatten().float()
        if cells.sum() == 0:
            cx = min(GRID - 1, max(0, int((x1 + x2) / 2 * GRID)))
            cy = min(GRID - 1, max(0, int((y1 + y2) / 2 * GRID)))
            cells[cy * GRID + cx] = 1.0
        out[k] = cells / cells.sum()
    return out


def family_masks() -> torch.Tensor:
    """(n_families, n_answers) booleans: which answers each family allows."""
    mask = torch.zeros(len(FAMILY_NAMES), len(ANSWERS), dtype=torch.bool)
    for i, fam in enumerate(FAMILY_NAMES):
        for a in FAMILIES[fam]:
            mask[i, ANSWERS.index(a)] = True
    return mask


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
    """Image + question (+ its boxes and answer family) -> logits over the answer vocabulary."""

    def __init__(
        self,
        vocab_size: int,
        n_answers: int,
        width: int = 32,
        emb: int = 64,
        hidden: int = 128,
        fused: int = 128,
        glimpses: int = GLIMPSES,
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
        self.attend = nn.Conv1d(fused, glimpses, 1)
        self.pointer = nn.Sequential(nn.Linear(fused, 64), nn.ReLU(), nn.Linear(64, 1))
        self.head = nn.Sequential(
            nn.Linear(hidden + (3 + glimpses) * fused, 256), nn.ReLU(), nn.Linear(256, n_answers)
        )
        self.masks: torch.Tensor
        self.register_buffer("masks", family_masks(), persistent=False)

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
        boxes: torch.Tensor,
        family: torch.Tensor,
    ) -> torch.Tensor:
        """Logits (Q, n_answers) for Q questions; ``image_index[q]`` is question q's image,
        ``boxes`` (Q, MAX_BOXES, cells) its box weights, ``family`` (Q,) its answer family."""
        g = self.grid(images).flatten(2)  # each image encoded once, however many questions
        q = self.question(tokens, lengths)
        gamma, beta = self.film(q).unsqueeze(-1).chunk(2, dim=1)  # (Q, F, 1) each
        cells = self.norm(self.proj(g) + self.pos)[image_index]  # (Q, F, P)
        h = torch.relu(cells * (1 + gamma) + beta)
        h = torch.relu(self.mix(h))
        att = torch.softmax(self.attend(h), dim=2)  # (Q, G, P)
        glimpses = torch.einsum("qfp,qgp->qgf", h, att).flatten(1)
        per_box = torch.einsum("qfp,qkp->qkf", h, boxes)  # (Q, K, F)
        pooled = [h.amax(dim=2), h.mean(dim=2), glimpses, per_box[:, 0]]
        logits = self.head(torch.cat([q, *pooled], dim=1))
        has_box = boxes.sum(dim=2) > 0  # (Q, K)
        ptr = self.pointer(per_box).squeeze(-1) * has_box  # (Q, K)
        logits = logits.index_add(1, torch.tensor(LETTER_INDEX), ptr)
        return logits.masked_fill(~self.masks[family], -1e4)


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
