"""Image digests, sizes, validation errors and RGB loading (mmevol.io.images)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmevol.errors import InputError
from mmevol.io.images import (
    image_ref,
    load_rgb,
    missing_image_ref,
    resolve_image,
    seed_id_for,
)


def _png(
    path: Path, size: tuple[int, int] = (40, 30), color: tuple[int, int, int] = (10, 20, 30)
) -> Path:
    Image.new("RGB", size, color).save(path)
    return path


def test_image_ref_digest_and_size(tmp_path: Path) -> None:
    p = _png(tmp_path / "a.png")
    ref = image_ref(p)
    assert ref.digest == "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest()
    assert (ref.width, ref.height) == (40, 30)
    assert ref.path == str(p)
    assert seed_id_for(ref.digest) == "img-" + ref.digest[7:23]


def test_same_content_same_digest_under_two_names(tmp_path: Path) -> None:
    a = _png(tmp_path / "a.png")
    b = tmp_path / "b.png"
    b.write_bytes(a.read_bytes())
    assert image_ref(a).digest == image_ref(b).digest
    c = _png(tmp_path / "c.png", color=(1, 2, 3))
    assert image_ref(c).digest != image_ref(a).digest


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        image_ref(tmp_path / "nope.jpg")
    assert str(e.value) == f"{tmp_path / 'nope.jpg'}: image: image file not found"


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.jpg: image: image file is empty \(0 bytes\)"):
        image_ref(p)


def test_not_an_image(tmp_path: Path) -> None:
    p = tmp_path / "text.jpg"
    p.write_text("hello, not pixels")
    with pytest.raises(InputError, match=r"text\.jpg: image: not a readable image"):
        image_ref(p)


def test_truncated_jpeg(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    full = tmp_path / "full.jpg"
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(full, quality=95)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(InputError) as e:
        image_ref(cut)
    assert str(e.value).startswith(f"{cut}: image: corrupt or truncated image")
    assert "\n" not in str(e.value)


def test_symlink_outside_root_refused(tmp_path: Path) -> None:
    outside = _png(tmp_path / "secret.png")
    root = tmp_path / "imgs"
    root.mkdir()
    link = root / "link.png"
    os.symlink(outside, link)
    with pytest.raises(InputError, match=r"symlink pointing .* outside the image folder"):
        image_ref(link, root=root)
    assert image_ref(link).width == 40  # without a root the link is followed


def test_resolve_image_names_source_record(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        resolve_image("x.jpg", tmp_path, allow_missing=False, where="src.json", field="[3].image")
    assert str(e.value).startswith("src.json: [3].image: ")
    assert "x.jpg: image file not found" in str(e.value)
    ref = resolve_image("x.jpg", tmp_path, allow_missing=True, where="src.json")
    assert ref.digest.startswith("path:") and ref.width is None


def test_path_traversal_refused(tmp_path: Path) -> None:
    _png(tmp_path / "up.png")
    (tmp_path / "imgs").mkdir()
    with pytest.raises(InputError, match="outside the image folder"):
        resolve_image("../up.png", tmp_path / "imgs", allow_missing=False, where="f.json")


def test_missing_image_ref_keyed_by_path() -> None:
    a, b = missing_image_ref("dir/x.jpg"), missing_image_ref("dir/x.jpg")
    assert a == b
    assert a.digest == "path:" + hashlib.sha256(b"dir/x.jpg").hexdigest()
    assert missing_image_ref("dir/y.jpg").digest != a.digest


@pytest.mark.parametrize(
    "make",
    [
        lambda: Image.new("CMYK", (20, 10), (0, 255, 0, 0)),
        lambda: Image.new("P", (20, 10), 3),
        lambda: Image.new("RGBA", (20, 10), (255, 0, 0, 0)),
        lambda: Image.new("LA", (20, 10), (0, 128)),
        lambda: Image.fromarray(np.full((10, 20), 65535, dtype=np.uint16)),
        lambda: Image.new("1", (20, 10), 1),
    ],
)
def test_load_rgb_modes(tmp_path: Path, make) -> None:
    img = make()
    path = tmp_path / ("x.tiff" if img.mode == "CMYK" else "x.png")
    img.save(path)
    out = load_rgb(path)
    assert out.mode == "RGB" and out.size == (20, 10)


def test_load_rgb_alpha_over_white_and_16bit_scaled(tmp_path: Path) -> None:
    p = tmp_path / "a.png"
    Image.new("RGBA", (4, 4), (255, 0, 0, 0)).save(p)
    assert load_rgb(p).getpixel((0, 0)) == (255, 255, 255)
    q = tmp_path / "g16.png"
    Image.fromarray(np.full((4, 4), 32768, dtype=np.uint16)).save(q)
    assert load_rgb(q).getpixel((0, 0))[0] in (127, 128)


def test_load_rgb_long_side(tmp_path: Path) -> None:
    p = _png(tmp_path / "big.png", size=(400, 100))
    out = load_rgb(p, long_side=100)
    assert out.size == (100, 25)
    assert load_rgb(p, long_side=1000).size == (400, 100)


def test_load_rgb_bad_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.png"
    p.write_bytes(b"\x89PNG garbage")
    with pytest.raises(InputError, match=r"bad\.png: image: cannot decode"):
        load_rgb(p)
