"""Image features from a local Hugging Face vision encoder, for ``mmevol select --encoder DIR``.

The folder is a saved CLIP / SigLIP-style model (``config.json``, weights, the image processor's
``preprocessor_config.json``), loaded offline with transformers (``local_files_only``, no remote
code, hub downloads forbidden for the process). What a feature is depends on what the folder
holds: a vision tower with a projection (``CLIPVisionModelWithProjection``) gives its
``image_embeds``; a two-tower model (``CLIPModel``, ``SiglipModel``) its ``get_image_features``;
a plain vision tower (``CLIPVisionModel``, ``SiglipVisionModel``) its pooled output (else the
mean of its last hidden states). Features are L2-normalised, so a dot product is a cosine.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmevol.errors import InputError

INSTALL_HINT = "--encoder needs transformers and torch: pip install 'mmevol[hf]'"


class ImageEncoder:
    """A vision encoder folder, loaded once; ``embed(images)`` -> unit rows (n x d)."""

    def __init__(self, folder: Path | str, batch_size: int = 16) -> None:
        from mmevol.backends.local import check_model_dir, first_line, offline, quiet_transformers

        offline()
        self.path, config = check_model_dir(folder)
        self.batch_size = max(1, int(batch_size))
        torch, transformers = quiet_transformers(INSTALL_HINT)
        self._torch = torch
        kw: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
        try:
            self._processor = transformers.AutoImageProcessor.from_pretrained(self.path, **kw)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(
                self.path, None, f"cannot load an image processor ({first_line(err)})"
            ) from None
        archs = config.get("architectures") or []
        named = getattr(transformers, str(archs[0]), None) if archs else None
        loader = named if named is not None and hasattr(named, "from_pretrained") else None
        try:
            net = (loader or transformers.AutoModel).from_pretrained(self.path, **kw)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, AttributeError) as err:
            raise InputError(
                self.path, None, f"cannot load the model ({first_line(err)})"
            ) from None
        self._net = net.eval()
        self._first_line = first_line

    def embed(self, images: Sequence[Any]) -> np.ndarray:
        """L2-normalised features of PIL images, one row each (float32)."""
        rows: list[np.ndarray] = []
        for start in range(0, len(images), self.batch_size):
            batch = list(images[start : start + self.batch_size])
            try:
                pixels = self._processor(images=batch, return_tensors="pt")["pixel_values"]
                with self._torch.no_grad():
                    feats = self._features(pixels)
            except (ValueError, TypeError, KeyError, RuntimeError, AttributeError) as err:
                raise InputError(
                    self.path, None, f"not a usable vision encoder ({self._first_line(err)})"
                ) from None
            rows.append(feats.float().cpu().numpy())
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        out = np.concatenate(rows).astype(np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)

    def _features(self, pixels: Any) -> Any:
        net = self._net
        if hasattr(net, "get_image_features"):  # a two-tower model (CLIP, SigLIP)
            got = net.get_image_features(pixel_values=pixels)
        else:
            got = net(pixel_values=pixels)
        if not isinstance(got, self._torch.Tensor):
            for name in ("image_embeds", "pooler_output", "last_hidden_state"):
                value = getattr(got, name, None)
                if value is not None:
                    got = value
                    break
            else:
                raise ValueError("the model returned no image features")
        if got.dim() == 3:  # patch features: their mean
            got = got.mean(dim=1)
        if got.dim() != 2:
            raise ValueError(f"image features of shape {tuple(got.shape)}")
        return got
