"""Bad input: every strange or broken file gets exactly one result, ok or error with a message."""

import io
import os

import numpy as np
import pytest
from PIL import Image

from badinputs import exif_rotated_jpeg, make_bad_inputs
from visionguard.decode import MAX_PIXELS, decode
from visionguard.errors import DecodeError


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    return folder, make_bad_inputs(folder)


@pytest.fixture(scope="module")
def bad_results(scanner, bad_folder):
    folder, _ = bad_folder
    return {r.path: r for r in scanner.scan_folder(folder)}


def test_unreadable_file_is_an_error_line(scanner, tmp_path):
    path = tmp_path / "locked.jpg"
    Image.new("RGB", (50, 50)).save(path)
    os.chmod(path, 0)
    if os.geteuid() != 0:
        result = scanner.scan_image(path)
    else:  # root reads any file: try as an unprivileged user, as a scan service would run
        os.chmod(tmp_path, 0o755)
        for parent in tmp_path.parents:
            os.chmod(parent, os.stat(parent).st_mode | 0o011)
        os.seteuid(65534)
        try:
            result = scanner.scan_image(path)
        finally:
            os.seteuid(0)
    assert result.status == "error" and "cannot read file" in result.error


def test_every_bad_input_gets_exactly_one_result(bad_folder, bad_results):
    _, expected = bad_folder
    assert sorted(bad_results) == sorted(expected)
    for name, status in expected.items():
        result = bad_results[name]
        assert result.status == status, (name, result.error)
        if status == "error":
            assert result.error and len(result.error) > 10, name
        else:
            assert result.error is None and result.width and result.height


@pytest.mark.parametrize(
    "name, words",
    [
        ("corrupt.jpg", "header is corrupt"),
        ("truncated.jpg", "truncated"),
        ("damaged_middle.jpg", "part of the image is lost"),
        ("zero_bytes.png", "empty"),
        ("not_an_image.jpg", "not an image"),
        ("broken_link.jpg", "cannot read file"),
        ("bomb.png", "decompression bomb"),
    ],
)
def test_error_messages_say_what_is_wrong(bad_results, name, words):
    assert words in bad_results[name].error


def test_exif_rotated_photo_is_scanned_upright(bad_results):
    result = bad_results["rotated_exif.jpg"]
    assert (result.width, result.height) == (640, 480)
    assert [a.brand for a in result.altered] == ["adidas"], [t.text for t in result.ocr]


def test_modes_decode_to_rgb_uint8():
    base = Image.new("RGB", (40, 30), (10, 200, 30))
    for mode in ("CMYK", "L", "LA", "P", "RGBA", "I", "F", "1"):
        array = decode(base.convert(mode))
        assert array.shape == (30, 40, 3) and array.dtype == np.uint8, mode


def test_transparency_is_flattened_on_white():
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert decode(image)[0, 0].tolist() == [255, 255, 255]


def test_near_white_content_is_flattened_on_black():
    """A white mark on transparency keeps its shape (on white it would vanish); a coloured one
    is still shown on white."""
    image = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    image.paste((250, 250, 250, 255), (10, 5, 30, 15))
    white_mark = decode(image)
    assert white_mark[0, 0].tolist() == [0, 0, 0] and white_mark[10, 20].tolist() == [250, 250, 250]
    image.paste((200, 20, 20, 255), (10, 5, 30, 15))
    assert decode(image)[0, 0].tolist() == [255, 255, 255]
    rgba = np.zeros((20, 40, 4), np.uint8)
    rgba[5:15, 10:30] = 255
    assert decode(rgba)[0, 0].tolist() == [0, 0, 0]


def test_animated_gif_uses_first_frame():
    frames = [Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    pixel = decode(buffer.getvalue())[4, 4]
    assert pixel[0] > 200 and pixel[2] < 50


def test_exif_orientation_is_applied():
    assert decode(exif_rotated_jpeg()).shape == (480, 640, 3)


def test_arrays_of_other_dtypes_and_shapes():
    assert decode(np.zeros((5, 6), np.uint16)).shape == (5, 6, 3)
    assert decode(np.ones((5, 6, 4), np.float32)).shape == (5, 6, 3)
    with pytest.raises(DecodeError):
        decode(np.zeros((5, 6, 7)))
    with pytest.raises(DecodeError):
        decode(b"")


def test_huge_images_are_shrunk():
    assert max(decode(Image.new("RGB", (5000, 100))).shape[:2]) == 2048


@pytest.mark.parametrize("mode", ["I;16", "F", "RGBA", "LA", "CMYK"])
def test_large_high_depth_and_alpha_images_are_shrunk_in_their_own_mode(tmp_path, mode):
    """Converted at full size, a 9400x9400 16-bit PNG of a few hundred KB took 2.1 GB."""
    ramp = np.tile(np.linspace(0, 1, 4800, dtype=np.float32), (2400, 1))
    if mode == "I;16":
        image = Image.fromarray((ramp * 65535).astype(np.uint16))
    elif mode == "F":
        image = Image.fromarray(ramp * 1000.0, "F")
    else:
        image = Image.fromarray((ramp * 255).astype(np.uint8), "L").convert(mode)
    path = tmp_path / ("big.tif" if mode in ("F", "CMYK") else "big.png")
    image.save(path)
    array = decode(path)
    assert array.shape == (1024, 2048, 3) and array.dtype == np.uint8
    left, right = array[:, :50].mean(), array[:, -50:].mean()
    assert left + 100 < right  # the ramp survives the shrink and the conversion


@pytest.mark.parametrize("dtype", [np.int64, np.float32, np.uint16])
def test_api_arrays_of_8_bit_values_in_other_dtypes_keep_their_values(dtype):
    photo = np.random.default_rng(0).integers(0, 256, (40, 60, 3))
    assert np.array_equal(decode(photo.astype(dtype)), photo.astype(np.uint8))  # was all white
    assert decode(photo.astype(np.float32) / 255.0).mean() == pytest.approx(photo.mean(), abs=1)
    assert decode((photo * 257).astype(np.uint16)).mean() == pytest.approx(photo.mean(), abs=1)


def test_api_arrays_and_images_meet_the_same_limits_as_files():
    assert decode(np.full((6000, 3000, 3), 7, np.uint8)).shape == (2048, 1024, 3)
    assert decode(np.random.default_rng(0).random((5000, 5000))).shape == (2048, 2048, 3)
    with pytest.raises(DecodeError, match="above the limit"):
        decode(np.zeros((10_000, 10_000), np.uint8))
    with pytest.raises(DecodeError, match="above the limit"):
        decode(Image.new("L", (10_000, 10_000)))
    with pytest.raises(DecodeError, match="dtype"):
        decode(np.array([["a", "b"]]))
    grey = Image.new("LA", (40, 30), (100, 255)).convert("La")  # premultiplied, which Pillow does not convert
    assert decode(grey)[0, 0].tolist() == [100, 100, 100]
    with pytest.raises(DecodeError, match="image is 40x0 pixels: nothing to scan"):  # a caller's crop gone wrong
        decode(Image.new("RGB", (40, 30)).crop((0, 10, 40, 10)))


def test_a_camera_jpeg_over_the_pixel_limit_decodes_at_reduced_size():
    """JPEG decodes at 1/2-1/8 scale: a 120 Mpx photo costs what its 1/8 costs, and is no bomb."""
    photo = np.zeros((10_000, 12_000, 3), np.uint8)
    photo[:, 6000:] = 200
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, "JPEG")
    array = decode(buffer.getvalue())
    assert array.shape == (1707, 2048, 3) and array[:, :900].mean() < 10 and array[:, -900:].mean() > 190


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_named_like_an_image_is_refused_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / "photo.jpg")
    with pytest.raises(DecodeError, match="not a regular file"):
        decode(tmp_path / "photo.jpg")


def test_a_bomb_gets_one_message_whatever_other_threads_do_with_warnings():
    """Warning filters are process-wide: with two scan workers, another thread's
    `catch_warnings` could undo a filter mid-open, and the same file got one of two messages.
    The size check alone decides now, also while other threads churn the filters."""
    import threading
    import warnings

    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, "PNG")
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")

    def messages(count: int) -> list[str]:
        found = []
        for _ in range(count):
            with pytest.raises(DecodeError) as error:
                decode(bomb.getvalue())
            found.append(str(error.value))
        return found

    churner = threading.Thread(target=churn)
    churner.start()
    try:
        seen = set(messages(20))
    finally:
        stop.set()
        churner.join()
    assert seen == {f"image is 10000x10000 pixels, above the limit of {MAX_PIXELS} (possible decompression bomb)"}


def test_an_async_upload_is_one_clear_message_not_text_mode_advice(recwarn):
    """FastAPI's UploadFile has an async read(): it was told to open the file in 'rb' mode, and
    Python warned that the coroutine was never awaited."""

    class AsyncUpload:
        def __init__(self, data: bytes) -> None:
            self.file = io.BytesIO(data)

        async def read(self, size: int = -1) -> bytes:
            return self.file.read(size)

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buffer, "PNG")
    with pytest.raises(DecodeError, match=r"reads asynchronously .*'await upload.read\(\)', or 'upload.file'"):
        decode(AsyncUpload(buffer.getvalue()))
    assert not [w for w in recwarn if "never awaited" in str(w.message)]
    assert decode(AsyncUpload(buffer.getvalue()).file).shape == (30, 40, 3)
