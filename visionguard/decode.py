"""Turn whatever a listing hands us into an upright 8-bit RGB array, or a clear `DecodeError`.

Real image dumps hold corrupt, truncated, empty, huge and strange files (CMYK, 16-bit,
palette with transparency, animated, EXIF-rotated). Each one either decodes to a sane RGB
array or raises `DecodeError` with a message fit for a result line.
"""

from __future__ import annotations

import inspect
import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
import simplejpeg
from PIL import Image, ImageOps

from visionguard.errors import DecodeError

ImageInput = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO, Image.Image, np.ndarray]

#: Pixel count above which an image is refused as a likely decompression bomb (Pillow's own limit).
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
#: Images are shrunk so that their longer side is at most this; nothing downstream needs more.
MAX_SIDE = 2048



def decode(source: ImageInput, max_side: int = MAX_SIDE) -> np.ndarray:
    """Decode a path, bytes, a binary file object, a PIL image or an array into an (H, W, 3)
    uint8 RGB array, upright."""
    if isinstance(source, np.ndarray):
        if source.ndim >= 2:
            _check_pixels(source.shape[1], source.shape[0])
        return _from_array(source, max_side)
    if isinstance(source, Image.Image):
        _check_pixels(*source.size)
        return _to_rgb_array(source, max_side)
    if hasattr(source, "read"):  # an open file or a stream (a request body)
        source = source.read()
        if inspect.isawaitable(source):
            getattr(source, "close", lambda: None)()  # not awaited here: no "never awaited" warning
            raise DecodeError(
                "the file object reads asynchronously (an async upload such as FastAPI's UploadFile): "
                "give the bytes of 'await upload.read()', or 'upload.file'"
            )
        if isinstance(source, str):
            raise DecodeError("the file object gave text, not bytes: open it in binary mode ('rb')")
        if not isinstance(source, (bytes, bytearray, memoryview)):
            raise DecodeError(f"the file object's read() gave a {type(source).__name__}, not bytes")
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not source:
            raise DecodeError("empty data (0 bytes)")
        return _open_and_convert(io.BytesIO(source), max_side)
    if not isinstance(source, (str, os.PathLike)):
        raise DecodeError(
            f"cannot scan a {type(source).__name__}: give a path, bytes, a binary file object, a PIL image or a numpy array"
        )
    path = Path(source)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise DecodeError(f"cannot read file: {error.strerror or error}") from None
    if path.is_dir():
        raise DecodeError("is a folder, not an image")
    if not path.is_file():  # a FIFO would block, a device never end
        raise DecodeError("not a regular file (a pipe, device or socket)")
    if size == 0:
        raise DecodeError("empty file (0 bytes)")
    try:
        with open(path, "rb") as handle:
            return _open_and_convert(handle, max_side)
    except OSError as error:
        if isinstance(error, (PermissionError, FileNotFoundError, IsADirectoryError)):
            raise DecodeError(f"cannot read file: {error.strerror or error}") from None
        raise


def _open_and_convert(handle, max_side: int) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            # Pillow warns past MAX_PIXELS, and the check below refuses the image with one message.
            # Not "error": warning filters are process-wide, and with two scan workers another
            # thread's catch_warnings could restore them mid-open, so the same file got one of two
            # messages (Pillow's warning as an error, or this check) depending on timing.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(handle)
            width, height = image.size
            if image.format == "JPEG" and max(width, height) > 2 * max_side:
                image.draft("RGB", (max_side, max_side))  # cheap reduced-size JPEG decoding
            if image.size[0] * image.size[1] > MAX_PIXELS:  # after draft a JPEG counts at the 1/2-1/8 scale it decodes at
                _check_pixels(width, height)  # (the message names the size the file declares)
            if image.format in ("JPEG", "MPO"):
                _check_jpeg_data(handle)
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)  # animated: scan the first frame
            return _to_rgb_array(image, max_side)
    except DecodeError:
        raise
    except Image.DecompressionBombError as error:  # over twice the limit: Pillow refuses it itself
        raise DecodeError(f"possible decompression bomb: {error}") from None
    except Image.UnidentifiedImageError:
        raise DecodeError("not an image, or its header is corrupt: format not recognised") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as error:
        raise DecodeError(f"corrupt or truncated image: {error}") from None


#: libjpeg's warnings that mean pixels were lost: it fills what it could not decode with grey
#: (or garbage after a lost sync) and goes on. "N extraneous bytes before marker" is not among
#: them: cameras write such files, and they decode whole.
_LOST_DATA_WARNINGS = ("premature end of data segment", "bad huffman code", "bad arithmetic code", "instead of rst")


def _check_jpeg_data(handle) -> None:
    """Refuse a JPEG whose compressed data is damaged. Pillow decodes it as `ok`, grey from the
    damage down, because libjpeg only warns and Pillow drops the warning; a strict decode at 1/8
    scale hears it (~1 ms for an 800x800 photo, mostly the Huffman decoding)."""
    handle.seek(0)
    data = handle.getbuffer() if isinstance(handle, io.BytesIO) else handle.read()
    try:
        colorspace = simplejpeg.decode_jpeg_header(data)[2]
        simplejpeg.decode_jpeg(
            data, colorspace={"Gray": "GRAY", "CMYK": "CMYK", "YCCK": "CMYK"}.get(colorspace, "RGB"),
            min_height=1, min_width=1, min_factor=8, strict=True,
        )
    except ValueError as error:  # also what libjpeg-turbo cannot convert, which Pillow may: not our business
        message = str(error).lower()
        if "premature end of jpeg file" in message:
            raise DecodeError("truncated image: the JPEG data ends early") from None
        if any(warning in message for warning in _LOST_DATA_WARNINGS):
            raise DecodeError(f"corrupt JPEG data, part of the image is lost (libjpeg: {error})") from None
    finally:
        del data  # a BytesIO cannot be resized while its buffer is exported
        handle.seek(0)


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise DecodeError(
            f"image is {width}x{height} pixels, above the limit of {MAX_PIXELS} (possible decompression bomb)"
        )


def _to_rgb_array(image: Image.Image, max_side: int) -> np.ndarray:
    if 0 in image.size:  # a PIL image made empty by a caller's crop, or a file whose header says 0 pixels
        raise DecodeError(f"image is {image.size[0]}x{image.size[1]} pixels: nothing to scan")
    image.load()
    image = ImageOps.exif_transpose(image)
    if max(image.size) > max_side:
        image = _shrink_before_conversion(image, max_side)
    image = _to_rgb(image)
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim != 3 or array.shape[2] != 3 or array.size == 0:
        raise DecodeError(f"unexpected decoded shape {array.shape}")
    return np.ascontiguousarray(array)


_HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I", "F")


def _shrink_before_conversion(image: Image.Image, max_side: int) -> Image.Image:
    """A large image, shrunk towards `max_side` in its own mode: converting a 16-bit, float or
    alpha image at full size took 2-2.5 GB for a 9400x9400 file of a few hundred KB."""
    if image.mode in _HIGH_DEPTH_MODES:  # Pillow does not resample these: every n-th pixel
        step = max(image.size) // max_side
        return Image.fromarray(np.asarray(image)[::step, ::step]) if step > 1 else image
    try:
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    except ValueError:  # a mode Pillow cannot resample: converted at full size, shrunk after
        pass
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB; transparency is flattened onto white, as marketplaces show it,
    unless what is visible is itself near-white (`_flatten_background`)."""
    mode = image.mode
    if mode in _HIGH_DEPTH_MODES:
        values = np.asarray(image, dtype=np.float32)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) * 255.0 if high > low else np.zeros_like(values)
        return Image.fromarray(scaled.astype(np.uint8)).convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode == "La":  # premultiplied grey, which Pillow does not convert
        grey, alpha = image.split()
        image, mode = Image.merge("RGBa", (grey, grey, grey, alpha)), "RGBa"
    if mode in ("RGBA", "LA", "PA", "RGBa"):
        rgba = image.convert("RGBA")
        preview = rgba.copy()
        preview.thumbnail((256, 256))  # the statistic needs few pixels; huge images stay cheap
        background = Image.new("RGBA", rgba.size, _flatten_background(np.asarray(preview)))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode != "RGB":
        return image.convert("RGB")
    return image


#: Luminance of an image's visible (opaque) pixels at or above which its transparency is
#: flattened onto black instead of white: a white logo on a transparent PNG (press-kit logos
#: for dark pages) would otherwise become a blank white image, which matches every bright patch.
LIGHT_CONTENT = 215.0


def luminance(rgb: np.ndarray | tuple[int, int, int]) -> np.ndarray:
    """Rec. 601 luma (0-255) of RGB values along the last axis."""
    return np.asarray(rgb, dtype=np.float64) @ np.array([0.299, 0.587, 0.114])


def _flatten_background(rgba: np.ndarray) -> tuple[int, int, int, int]:
    """White, or black where the visible pixels are near-white (alpha-weighted mean luminance)."""
    alpha = rgba[:, :, 3].astype(np.float64)
    if alpha.sum() == 0:
        return (255, 255, 255, 255)
    light = float((luminance(rgba[:, :, :3]) * alpha).sum() / alpha.sum()) >= LIGHT_CONTENT
    return (0, 0, 0, 255) if light else (255, 255, 255, 255)


def _from_array(array: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """Accept HxW, HxWx1, HxWx3 (RGB) or HxWx4 (RGBA) arrays of any numeric dtype; shrunk to
    `max_side` like a decoded file."""
    if array.size == 0:
        raise DecodeError("empty array")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise DecodeError(f"array of shape {array.shape} is not an image (expected HxW, HxWx3 or HxWx4)")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise DecodeError(f"array of dtype {array.dtype} is not an image (expected integers or floats)")
    step = max(array.shape[:2]) // (2 * max_side)
    if step > 1:
        array = array[::step, ::step]  # a cheap first cut, so that no full-size float copy is made
    if array.dtype != np.uint8:
        high = float(np.nanmax(array)) if np.isfinite(array).any() else 0.0  # all NaN: black, no warning
        scale = 255.0 if high <= 1.0 else 1.0 if high <= 255 else 255.0 / 65535.0  # [0, 1], 8-bit or 16-bit values
        array = np.clip(np.nan_to_num(array.astype(np.float32) * scale), 0, 255).astype(np.uint8)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    mode = "RGBA" if array.shape[2] == 4 else "RGB"
    if mode == "RGBA" or max(array.shape[:2]) > max_side:
        return _to_rgb_array(Image.fromarray(np.ascontiguousarray(array), mode), max_side)
    return np.ascontiguousarray(array)
