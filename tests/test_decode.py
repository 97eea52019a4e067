"""Every image artkit reads goes through decode_image: each odd case gives RGB uint8 or a
clear ImageDecodeError naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artkit.data import decode
from artkit.data.decode import decode_image
from artkit.errors import ImageDecodeError


def halves(width: int = 40, height: int = 20) -> Image.Image:
    """Left half red, right half blue: orientation mistakes are easy to see."""
    array = np.zeros((height, width, 3), np.uint8)
    array[:, : width // 2] = (255, 0, 0)
    array[:, width // 2:] = (0, 0, 255)
    return Image.fromarray(array)


def test_plain_jpeg_and_png(tmp_path: Path):
    for suffix in (".jpg", ".png"):
        path = tmp_path / f"a{suffix}"
        halves().save(path, quality=95)
        image = decode_image(path)
        assert image.shape == (20, 40, 3) and image.dtype == np.uint8
        assert image[10, 5, 0] > 200 and image[10, 35, 2] > 200  # RGB order, not BGR


def test_exif_orientation_is_applied(tmp_path: Path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    halves().save(path, quality=95, exif=exif)
    image = decode_image(path)
    assert image.shape == (40, 20, 3)
    assert image[5, 10, 0] > 200 and image[35, 10, 2] > 200  # red on top, blue below


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "I;16"])
def test_modes_become_8bit_rgb(tmp_path: Path, mode: str):
    base = halves()
    if mode == "I;16":
        gray = (np.asarray(base.convert("L"), dtype=np.uint16) * 257)
        image = Image.fromarray(gray.astype("<u2"))
        assert image.mode.startswith("I;16")
        path = tmp_path / "deep.png"
    elif mode == "CMYK":
        image, path = base.convert("CMYK"), tmp_path / "cmyk.jpg"
    else:
        image, path = base.convert(mode), tmp_path / f"{mode}.png"
    image.save(path)
    decoded = decode_image(path)
    assert decoded.dtype == np.uint8 and decoded.shape == (20, 40, 3)
    expected = np.asarray(base.convert("L").convert("RGB"), dtype=np.int16) \
        if mode in ("L", "LA", "I;16") else np.asarray(base, dtype=np.int16)
    assert np.abs(decoded.astype(np.int16) - expected).mean() < 12


def test_transparent_pixels_become_white(tmp_path: Path):
    array = np.zeros((8, 8, 4), np.uint8)
    array[..., 0] = 255  # red, fully transparent
    path = tmp_path / "clear.png"
    Image.fromarray(array, mode="RGBA").save(path)
    assert (decode_image(path) == 255).all()


def error_for(path: Path) -> str:
    with pytest.raises(ImageDecodeError) as info:
        decode_image(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def test_empty_file(tmp_path: Path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert "empty" in error_for(path)


def test_not_an_image(tmp_path: Path):
    path = tmp_path / "notes.jpg"
    path.write_text("these are not pixels")
    assert "not an image" in error_for(path)


def test_corrupt_jpeg(tmp_path: Path):
    path = tmp_path / "corrupt.jpg"
    halves().save(path, quality=95)
    data = bytearray(path.read_bytes())
    data[200:600] = b"\x00" * 400  # garbage in the entropy-coded data
    data = data[:300]
    path.write_bytes(bytes(data))
    assert "corrupt" in error_for(path) or "truncated" in error_for(path)


def test_truncated_png(tmp_path: Path):
    path = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:-2000])
    assert "truncated" in error_for(path) or "corrupt" in error_for(path)


def test_truncated_jpeg_is_not_silently_grey(tmp_path: Path):
    path = tmp_path / "cut.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), np.uint8)).save(
        path, quality=90)
    path.write_bytes(path.read_bytes()[:-1500])
    assert "truncated" in error_for(path)


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(decode, "MAX_PIXELS", 1000)
    path = tmp_path / "big.png"
    Image.new("RGB", (100, 100)).save(path)
    assert "refused" in error_for(path)


def test_missing_file_and_folder(tmp_path: Path):
    assert "not found" in error_for(tmp_path / "nope.jpg")
    assert "folder" in error_for(tmp_path)


def test_reduced_decode_covers_the_target_and_matches_the_full_decode(tmp_path: Path):
    """A 640x480 photo for a 112 px network is decoded at 1/4 scale (160x120, still larger
    than 112), and the network's pixels stay within a couple of levels of the full decode."""
    import cv2

    from artkit.data.decode import load_resized, reduction, resize_to

    rng = np.random.default_rng(0)
    field = cv2.resize(rng.uniform(0, 255, (6, 8, 3)).astype(np.float32), (640, 480),
                       interpolation=cv2.INTER_CUBIC)
    path = tmp_path / "photo.jpg"
    Image.fromarray(np.clip(field, 0, 255).astype(np.uint8)).save(path, quality=92)
    assert reduction((640, 480), (112, 112))[0] == 4
    assert reduction((640, 480), (224, 224))[0] == 2
    assert reduction((640, 480), (299, 299))[0] == 1  # never below the target
    assert decode_image(path, min_size=(112, 112)).shape == (120, 160, 3)
    fast, original = load_resized(path, (112, 112))
    full = resize_to(decode_image(path), (112, 112))
    assert original == (480, 640) and fast.shape == full.shape
    assert np.abs(fast.astype(int) - full.astype(int)).mean() < 2.0


def test_reduced_decode_keeps_the_exif_orientation(tmp_path: Path):
    from artkit.data.decode import load_resized, read_image

    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    halves(400, 200).save(path, quality=95, exif=exif)
    image, original = read_image(path, min_size=(40, 40))
    assert original == (400, 200) and image.shape == (100, 50, 3)  # 1/4 scale, upright
    assert image[10, 25, 0] > 200 and image[90, 25, 2] > 200  # red on top, blue below
    resized, _ = load_resized(path, (40, 20))
    assert resized[5, 10, 0] > 200 and resized[35, 10, 2] > 200


def test_a_corrupt_png_prints_nothing(tmp_path: Path, capfd: pytest.CaptureFixture):
    path = tmp_path / "broken.png"
    noise = np.random.default_rng(0).integers(0, 255, (100, 200, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = b"\xff" * 64  # inside the IDAT stream: libpng would complain
    path.write_bytes(bytes(data))
    with pytest.raises(ImageDecodeError, match="broken.png"):
        decode_image(path)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_dangling_link_and_unreadable_file(tmp_path: Path, monkeypatch):
    import errno

    link = tmp_path / "x.jpg"
    link.symlink_to(tmp_path / "gone.jpg")
    with pytest.raises(ImageDecodeError, match="dangling symbolic link"):
        decode_image(link)
    locked = tmp_path / "locked.jpg"
    halves().save(locked)

    def denied(self):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(ImageDecodeError, match="permission denied"):
        decode_image(locked)
