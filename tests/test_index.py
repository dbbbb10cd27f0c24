"""Index build and load with the real model and FAISS; gallery and index mistakes are one sentence."""

import json
import shutil
from pathlib import Path

import faiss

import numpy as np
import pytest
from PIL import Image

from visionguard import GalleryIndex, Scanner, build_index
from visionguard.decode import decode
from visionguard.embed import trim_border
from visionguard.index import add_to_index, remove_from_index
from visionguard.verify import THUMBNAIL_SIDE, thumbnail
from visionguard.gallery import Brand
from visionguard.errors import GalleryError, IndexLoadError, VisionGuardError
from visionguard.models import DEFAULT_MODEL, create_model


def test_index_is_self_describing(index_dir, gallery_dir):
    meta = json.loads((index_dir / "index.json").read_text())
    assert meta["model"]["name"] == DEFAULT_MODEL
    assert len(meta["model"]["checksum"]) == 64
    model = create_model(DEFAULT_MODEL)
    assert meta["model"]["dim"] == model.dim and meta["model"]["product_dim"] == (model.product_dim or model.dim)
    assert (index_dir / "vectors.faiss").exists() and (index_dir / "products.faiss").exists()
    assert set(meta["brands"]) == {"adidas", "nike", "puma", "fujifilm", "samsung", "new-balance"}
    assert meta["brands"]["new-balance"] == {"name": "New Balance", "aliases": ["NB"]}
    paths = [item["path"] for item in meta["images"]]
    assert "nike/products/product_1.jpg" in paths and all((gallery_dir / p).exists() for p in paths)
    assert not list(index_dir.glob("*.pkl"))


def test_loaded_index_finds_each_gallery_image_as_its_own_nearest(index_dir, scanner):
    """Logo references find themselves in the logo space; the product photo (under
    <brand>/products/) has a zero logo vector there and is found in the copy space only."""
    index = GalleryIndex.load(index_dir)
    vectors = index.vectors.reconstruct_n(0, len(index))
    product_photo = np.array(["/products/" in path for path in index.paths])
    assert product_photo.sum() == 1 and np.all(vectors[product_photo] == 0)
    logos = vectors[~product_photo]
    assert np.allclose(np.linalg.norm(logos, axis=1), 1.0, atol=1e-4)
    scores, ids = index.search(logos, 1)
    assert np.all(scores[:, 0] > 0.999)  # (adidas' black and colour logos are the same image)
    assert [index.brand_of[i] for i in ids[:, 0]] == [b for b, p in zip(index.brand_of, product_photo) if not p]
    products = index.products.reconstruct_n(0, len(index))
    scores, ids = index.search_products(products, 1)
    assert np.all(scores[:, 0] > 0.999)


def test_index_keeps_gallery_keypoints_for_copy_verification(index_dir, gallery_dir):
    index = GalleryIndex.load(index_dir)
    assert index.keypoints is not None and len(index.keypoints) == len(index)
    product = index.paths.index("nike/products/product_1.jpg")
    assert len(index.keypoints[product]) >= 100  # a textured photo; flat logo renders have few
    assert index.keypoints.thumbnails.shape == (len(index), THUMBNAIL_SIDE, THUMBNAIL_SIDE, 3)
    expected = thumbnail(trim_border(decode(gallery_dir / "nike/products/product_1.jpg")))
    assert np.array_equal(index.keypoints[product].thumbnail, expected)


def test_index_add_keeps_thumbnails_in_step(index_dir, tmp_path, gallery_dir):
    """`index add` appends thumbnails; an index from before thumbnails stays without them."""
    gallery = tmp_path / "gallery"
    shutil.copytree(gallery_dir, gallery)
    Image.open(gallery / "nike/products/product_1.jpg").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(gallery / "nike/products/product_2.jpg")
    for with_thumbnails in (True, False):
        target = tmp_path / f"index-{with_thumbnails}"
        shutil.copytree(index_dir, target)
        if not with_thumbnails:
            (target / "keypoints-thumbnails.npy").unlink()
        index, done = add_to_index(gallery, target)
        assert done.added == ["nike/products/product_2.jpg"]
        index = GalleryIndex.load(target)
        if with_thumbnails:
            assert index.keypoints.thumbnails.shape[0] == len(index)
            new = index.keypoints[index.paths.index("nike/products/product_2.jpg")].thumbnail
            assert np.array_equal(new, thumbnail(trim_border(decode(gallery / "nike/products/product_2.jpg"))))
        else:
            assert index.keypoints.thumbnails is None and len(index.keypoints) == len(index)


def test_index_without_keypoints_still_loads(index_dir, tmp_path):
    """Indexes built before copy verification: the embedding alone decides copies."""
    target = tmp_path / "index"
    shutil.copytree(index_dir, target)
    for name in ("keypoints-points.npy", "keypoints-descriptors.npy", "keypoints-offsets.npy"):
        (target / name).unlink()
    assert GalleryIndex.load(target).keypoints is None


def test_baseline_model_builds_an_index_with_one_space(tmp_path, gallery_dir):
    index = build_index(gallery_dir, tmp_path / "baseline", model="efficientnet-lite0-imagenet")
    assert index.model["dim"] == index.model["product_dim"] == 1280
    loaded = GalleryIndex.load(tmp_path / "baseline")
    assert np.allclose(loaded.vectors.reconstruct_n(0, 3), loaded.products.reconstruct_n(0, 3))


def test_index_of_an_older_format_asks_for_a_rebuild(index_dir, tmp_path):
    copy = tmp_path / "old"
    shutil.copytree(index_dir, copy)
    meta = json.loads((copy / "index.json").read_text())
    meta["format_version"] = 1
    (copy / "index.json").write_text(json.dumps(meta))
    (copy / "products.faiss").unlink()
    with pytest.raises(IndexLoadError, match="rebuild"):
        GalleryIndex.load(copy)


def test_index_built_with_a_model_file_needs_that_file_to_scan(index_dir, tmp_path):
    copy = tmp_path / "custom"
    shutil.copytree(index_dir, copy)
    meta = json.loads((copy / "index.json").read_text())
    meta["model"]["name"] = "my-brands-v2"
    (copy / "index.json").write_text(json.dumps(meta))
    with pytest.raises(IndexLoadError, match="--model PATH/my-brands-v2.safetensors"):
        Scanner.load(copy)


def test_display_name_defaults_to_folder_name(tmp_path):
    (tmp_path / "g" / "louis_vuitton-paris").mkdir(parents=True)
    _mark((120, 60, 20)).save(tmp_path / "g" / "louis_vuitton-paris" / "a.png")
    index = build_index(tmp_path / "g", tmp_path / "i")
    assert index.brands["louis_vuitton-paris"].name == "louis vuitton paris"


def _mark(colour: tuple[int, int, int]) -> Image.Image:
    """A small gallery image: a coloured square on white (a single colour would be skipped as blank)."""
    image = Image.new("RGB", (64, 64), (255, 255, 255))
    image.paste(colour, (16, 16, 48, 48))
    return image


def _gallery(tmp_path, brands: dict[str, int]):
    root = tmp_path / "gallery"
    for brand, count in brands.items():
        (root / brand).mkdir(parents=True)
        for k in range(count):
            _mark((k * 40, 100, 200)).save(root / brand / f"{k}.png")
    return root


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda t: t / "missing", "does not exist"),
        (lambda t: (t / "empty").mkdir() or t / "empty", "has no brand folders"),
        (lambda t: _gallery(t, {"acme": 1, "hollow": 0}), "'hollow' in gallery"),
    ],
)
def test_gallery_mistakes_are_one_clear_sentence(tmp_path, setup, message):
    with pytest.raises(GalleryError, match=message):
        build_index(setup(tmp_path), tmp_path / "out")


def test_gallery_without_readable_images(tmp_path):
    root = tmp_path / "gallery"
    (root / "acme").mkdir(parents=True)
    (root / "acme" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(GalleryError, match="no usable image"):
        build_index(root, tmp_path / "out")


def test_unreadable_gallery_images_are_skipped_and_recorded(tmp_path):
    root = _gallery(tmp_path, {"acme": 2})
    (root / "acme" / "broken.jpg").write_bytes(b"not a jpeg")
    index = build_index(root, tmp_path / "out")
    assert len(index) == 2 and index.skipped[0]["path"] == "acme/broken.jpg"


def test_logos_in_vector_formats_are_named_not_silently_left_out(tmp_path):
    """Brand teams keep logos as SVG (or EPS, AI, PDF): none is decoded here, and such a file was
    passed over without a word (a brand whose only logo is an SVG was never matched). Each is a
    skipped entry with what to do, recorded once however often `index add` runs; a brand folder
    holding only such files is one sentence that says why."""
    root = _gallery(tmp_path, {"acme": 1})
    (root / "acme" / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (root / "acme" / "notes.txt").write_text("not a logo")  # other files stay unmentioned
    index = build_index(root, tmp_path / "out")
    assert len(index) == 1
    assert index.skipped == [{"path": "acme/logo.svg", "error": "SVG files are not read: export the logo as PNG "
                              "(about 512 px wide, on a plain or transparent background)"}]
    index, _ = add_to_index(root, tmp_path / "out")
    assert [item["path"] for item in index.skipped] == ["acme/logo.svg"]
    (root / "vector-only").mkdir()
    (root / "vector-only" / "logo.EPS").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0")
    with pytest.raises(GalleryError, match="'vector-only' in gallery .* has no images \\(its EPS files are not read: export the logos as PNG\\)"):
        build_index(root, tmp_path / "out2")


def test_a_removed_brand_s_vector_logo_stays_out_on_the_next_add(tmp_path):
    """`index remove --brand` takes the brand's skipped SVG out with its images; the next `index add`
    of the same gallery recorded it as skipped again (a warning about a brand the user removed,
    and the whole index written again for it); --readd-removed brings it back."""
    root = _gallery(tmp_path, {"acme": 1, "beta": 1})
    (root / "acme" / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    index_dir = tmp_path / "out"
    build_index(root, index_dir, read_logo_text=False)
    remove_from_index(index_dir, brands=["acme"])
    index, done = add_to_index(root, index_dir, read_logo_text=False)
    assert index.skipped == [] and done.held_back == ["acme/0.png"]
    assert GalleryIndex.load(index_dir).skipped == [] and "acme/logo.svg" in GalleryIndex.load(index_dir).removed
    index, _ = add_to_index(root, index_dir, read_logo_text=False, readd_removed=True)
    assert [item["path"] for item in index.skipped] == ["acme/logo.svg"] and index.removed == []


def test_blank_gallery_images_are_skipped_and_recorded(tmp_path):
    """A one-colour reference (a white logo saved on white, an empty canvas) would match every
    plain patch of every listing; it is skipped with its reason, the rest is indexed."""
    root = _gallery(tmp_path, {"acme": 1})
    Image.new("RGB", (64, 64), (255, 255, 255)).save(root / "acme" / "white.png")
    noisy = np.clip(np.random.default_rng(0).normal(128, 1.5, (64, 64, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(root / "acme" / "grey.jpg", quality=60)
    index = build_index(root, tmp_path / "out")
    assert len(index) == 1
    assert {item["path"]: item["error"] for item in index.skipped} == {
        "acme/white.png": "blank image (a single colour): nothing to recognise",
        "acme/grey.jpg": "blank image (a single colour): nothing to recognise",
    }


def test_white_logo_on_transparent_png_is_indexed_as_a_logo(tmp_path):
    """Press kits ship white logos on transparent PNGs; flattened on white they would be blank."""
    root = tmp_path / "gallery"
    (root / "acme").mkdir(parents=True)
    logo = Image.new("RGBA", (96, 64), (0, 0, 0, 0))
    logo.paste((255, 255, 255, 255), (20, 16, 76, 48))
    logo.save(root / "acme" / "white-on-transparent.png")
    index = build_index(root, tmp_path / "out")
    assert len(index) == 1 and not index.skipped


def test_photos_among_the_logo_references_are_reported(tmp_path):
    """A photo (no plain border) outside <brand>/products/ is named in the index, so that
    `index build` can warn; under products/ it is a copies-only image with a zero logo row."""
    from visionguard.synth import photo

    root = _gallery(tmp_path, {"acme": 1})
    photo("coffee", (320, 240)).save(root / "acme" / "shelf.jpg")
    (root / "acme" / "products").mkdir()
    photo("chelsea", (320, 240)).save(root / "acme" / "products" / "cat.jpg")
    index = build_index(root, tmp_path / "out")
    assert index.photo_like == ["acme/shelf.jpg"]
    assert GalleryIndex.load(tmp_path / "out").photo_like == ["acme/shelf.jpg"]
    vectors = index.vectors.reconstruct_n(0, len(index))
    assert np.all(vectors[index.paths.index("acme/products/cat.jpg")] == 0)
    assert np.linalg.norm(vectors[index.paths.index("acme/shelf.jpg")]) > 0.99


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "cannot read .*brands.json"),
        ('{"acme": {"aliases": [null, 3]}}', "aliases of 'acme' must be a list of non-empty strings"),
        ('{"acme": {"aliases": [""]}}', "aliases of 'acme' must be a list of non-empty strings"),
        ('{"acme": {"name": ["Acme"]}}', "the name of 'acme' must be a string"),
    ],
)
def test_bad_brands_json(tmp_path, text, message):
    root = _gallery(tmp_path, {"acme": 1})
    (root / "brands.json").write_text(text)
    with pytest.raises(GalleryError, match=message):
        build_index(root, tmp_path / "out")


@pytest.mark.parametrize("damage", ["junk weights", "card not JSON", "card without logo_dim"])
def test_a_model_file_that_cannot_be_read_is_one_sentence(tmp_path, damage):
    from visionguard.models import create_model
    from visionguard.models.lite0_metric import packaged_weights

    shipped = packaged_weights("visionguard-lite0-v2")
    weights, card = tmp_path / "mine.safetensors", tmp_path / "mine.json"
    shutil.copy(shipped, weights)
    meta = json.loads(shipped.with_suffix(".json").read_text())
    if damage == "junk weights":
        weights.write_bytes(b"junk")
    if damage == "card without logo_dim":
        meta.pop("logo_dim")
    card.write_text("{not json" if damage == "card not JSON" else json.dumps(meta))
    with pytest.raises(VisionGuardError, match="cannot read the model .*mine.safetensors.* or its card 'mine.json'"):
        create_model(str(weights))


def test_an_index_that_cannot_be_written_is_refused_before_embedding(tmp_path, monkeypatch):
    root = _gallery(tmp_path, {"acme": 1})
    (tmp_path / "taken").write_text("a file")
    monkeypatch.setattr("visionguard.index.create_model", lambda *a, **k: pytest.fail("embedded before the check"))
    for out in (tmp_path / "taken", tmp_path / "taken" / "index"):
        with pytest.raises(GalleryError, match="'.*taken' is a file"):
            build_index(root, out)


def test_scan_refuses_an_index_built_by_another_model(index_dir, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy)
    meta = json.loads((copy / "index.json").read_text())
    meta["model"]["checksum"] = "0" * 64
    (copy / "index.json").write_text(json.dumps(meta))
    with pytest.raises(IndexLoadError, match="was built with model"):
        Scanner.load(copy)


def test_a_model_given_as_a_path_is_a_model_file_and_a_wrong_type_a_type_error(index_dir, gallery_dir, tmp_path):
    """`model=Path(...)` is what a service passes from its settings (it was an AttributeError)."""
    with pytest.raises(VisionGuardError, match="model weights 'nope.safetensors' do not exist"):
        Scanner.load(index_dir, model=Path("nope.safetensors"))
    with pytest.raises(VisionGuardError, match="model weights 'nope.safetensors' do not exist"):
        build_index(gallery_dir, tmp_path / "never-built", model=Path("nope.safetensors"))
    with pytest.raises(TypeError, match="model must be a model name, a .safetensors path or an EmbeddingModel, not int"):
        Scanner.load(index_dir, model=2)
    with pytest.raises(TypeError, match="the index must be the path of an index folder, not NoneType"):
        Scanner.load(None)  # an unset setting (it was Path's "expected str, bytes or os.PathLike object")


@pytest.mark.parametrize(
    "damage", ["missing", "not_index", "a_file", "corrupt", "corrupt_keypoints", "pickled_keypoints", "meta_a_list", "meta_model_a_string",
              "meta_model_unnamed"]
)
def test_wrong_or_broken_index_folder(index_dir, tmp_path, damage):
    target = tmp_path / "index"
    if damage == "not_index":
        target.mkdir()
    elif damage == "a_file":
        target.write_text("not a folder")
    elif damage.startswith("meta_"):  # valid JSON of the wrong shape
        shutil.copytree(index_dir, target)
        meta = json.loads((target / "index.json").read_text())
        wrong = [] if damage == "meta_a_list" else {**meta, "model": "x"}
        if damage == "meta_model_unnamed":  # escaped as KeyError: 'name' from Scanner.load
            wrong = {**meta, "model": {k: v for k, v in meta["model"].items() if k != "name"}}
        (target / "index.json").write_text(json.dumps(wrong))
    elif damage == "corrupt":
        shutil.copytree(index_dir, target)
        (target / "vectors.faiss").write_bytes(b"garbage")
    elif damage == "corrupt_keypoints":
        shutil.copytree(index_dir, target)
        (target / "keypoints-offsets.npy").write_bytes(b"garbage")
    elif damage == "pickled_keypoints":  # an object array would need pickle to load: refused
        shutil.copytree(index_dir, target)
        np.save(target / "keypoints-points.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(IndexLoadError) as error:
        GalleryIndex.load(target)
    assert "unsafely" not in str(error.value) and "\n" not in str(error.value)  # numpy's advice is not ours


def test_large_galleries_get_ivf_with_nprobe_tuned_to_exact_recall(tmp_path):
    """Above the exact limit: IVF + 8-bit codes, nprobe chosen so Recall@1 against exact search
    is >= 0.99 on new queries too; nprobe survives a save and a memory-mapped load."""
    import faiss

    from visionguard.index import TARGET_RECALL, describe_search, vector_index

    rng = np.random.default_rng(1)
    centres = rng.normal(size=(200, 64)).astype(np.float32)
    vectors = centres[rng.integers(0, 200, 20_000)] + rng.normal(0, 0.35, (20_000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert describe_search(vector_index(vectors[:500], exact_limit=1000)) == {"type": "exact"}
    index = vector_index(vectors, exact_limit=1000)
    search = describe_search(index)
    assert search["type"] == "IVF128,SQ8" and 1 <= search["nprobe"] < 128
    queries = vectors[rng.choice(20_000, 500)] + rng.normal(0, 0.06, (500, 64)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    _, truth = faiss.knn(queries, vectors, 1, metric=faiss.METRIC_INNER_PRODUCT)
    faiss.write_index(index, str(tmp_path / "v.faiss"))
    loaded = faiss.read_index(str(tmp_path / "v.faiss"), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    assert describe_search(loaded) == search
    _, found = loaded.search(queries, 1)
    assert np.mean(found[:, 0] == truth[:, 0]) >= TARGET_RECALL - 0.01  # fresh queries, not the tuning ones


def test_index_add_brings_in_new_images_without_a_rebuild(gallery_dir, tmp_path):
    from visionguard.index import add_to_index

    partial = tmp_path / "gallery"
    shutil.copytree(gallery_dir, partial, ignore=shutil.ignore_patterns("puma"))
    index_dir = tmp_path / "index"
    before = build_index(partial, index_dir)
    assert "puma" not in before.brands
    shutil.copytree(gallery_dir / "puma", partial / "puma")
    index, done = add_to_index(partial, index_dir)
    puma_images = len(list((gallery_dir / "puma").iterdir()))
    assert len(done.added) == puma_images and len(index) == len(before) + puma_images
    reloaded = GalleryIndex.load(index_dir)
    assert reloaded.brands["puma"].name == "Puma" and len(reloaded.keypoints) == len(reloaded)
    assert json.loads((index_dir / "index.json").read_text())["count"] == len(reloaded)
    scanner = Scanner.load(index_dir, ocr=False)
    logo = next(p for p in sorted((gallery_dir / "puma").iterdir()) if p.suffix == ".png")
    assert scanner.scan_image(logo).brand == "puma"
    written = (index_dir / "index.json").stat().st_mtime_ns
    assert add_to_index(partial, index_dir)[1].added == []  # nothing new: nothing added,
    assert (index_dir / "index.json").stat().st_mtime_ns == written  # and the index is not rewritten
    assert not list(tmp_path.glob("index.*"))  # no staging or retired folder left behind


def _mapped_files() -> set[str]:
    with open("/proc/self/maps", encoding="utf-8") as maps:
        return {line.split(maxsplit=5)[5].strip() for line in maps if len(line.split(maxsplit=5)) == 6}


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("exact_limit", [100_000, 1_000])
def test_both_search_structures_are_memory_mapped(tmp_path, exact_limit):
    """An exact index (below EXACT_LIMIT: most galleries) was read into each process's memory
    (a 90k-image index: +132 MB per process) while README said indexes are memory-mapped."""
    from visionguard.index import vector_index

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3_000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for name in ("vectors.faiss", "products.faiss"):
        faiss.write_index(vector_index(vectors, exact_limit=exact_limit), str(tmp_path / name))
    brand = Brand("acme", "Acme")
    meta = {"format_version": 2, "model": {"name": "m", "checksum": "0" * 64, "dim": 32, "product_dim": 32},
            "brands": {"acme": brand.to_dict()}, "images": [{"path": f"acme/{i}.png", "brand": "acme"} for i in range(3_000)]}
    (tmp_path / "index.json").write_text(json.dumps(meta))
    index = GalleryIndex.load(tmp_path)
    mapped = _mapped_files()
    assert {str(tmp_path / "vectors.faiss"), str(tmp_path / "products.faiss")} <= mapped
    _, ids = index.search(vectors[:50], 1)
    assert np.mean(ids[:, 0] == np.arange(50)) >= 0.9


_READ_ALL = """
import sys
import numpy as np
from visionguard import GalleryIndex
index = GalleryIndex.load(sys.argv[1])
print(len(index), flush=True)
sys.stdin.readline()  # the index is rebuilt meanwhile
rows = [index.keypoints[k] for k in range(len(index))]
scores, _ = index.search(index.vectors.reconstruct_n(0, len(index)), 1)
print(len(rows), flush=True)
"""


def test_rebuilding_an_index_does_not_crash_a_scan_that_has_it_loaded(index_dir, tmp_path):
    """`index build --out` an existing index rewrote its files in place: a scan (or a Ray
    worker) with the old files memory-mapped died of a bus error on its next read."""
    import subprocess
    import sys

    target = tmp_path / "index"
    shutil.copytree(index_dir, target)
    reader = subprocess.Popen([sys.executable, "-c", _READ_ALL, str(target)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    size = int(reader.stdout.readline())
    build_index(_gallery(tmp_path, {"acme": 1}), target, read_logo_text=False)
    out, err = reader.communicate("\n", timeout=60)
    assert reader.returncode == 0, err[-500:]
    assert int(out) == size  # the old index, read whole, while the new one is in place
    assert len(GalleryIndex.load(target)) == 1 and not list(tmp_path.glob("index.*"))


def test_a_rebuild_that_fails_midway_leaves_the_old_index(index_dir, tmp_path, monkeypatch):
    """A full disk (or a kill) while the new index is written: the old one stays whole, not
    half old, half new."""
    target = tmp_path / "index"
    shutil.copytree(index_dir, target)
    size = len(GalleryIndex.load(target))

    def full_disk(self, folder):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("visionguard.verify.KeypointStore.save", full_disk)
    with pytest.raises(GalleryError, match="No space left on device"):
        build_index(_gallery(tmp_path, {"acme": 1}), target, read_logo_text=False)
    assert len(GalleryIndex.load(target)) == size and not list(tmp_path.glob("index.*"))


def test_build_into_a_folder_of_other_files_keeps_them(tmp_path):
    out = tmp_path / "work"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    build_index(_gallery(tmp_path, {"acme": 1}), out, read_logo_text=False)
    assert (out / "notes.txt").read_text() == "mine" and len(GalleryIndex.load(out)) == 1


def test_index_add_takes_changed_names_and_aliases_from_brands_json(tmp_path):
    """A corrected brands.json was ignored by `index add` ("added 0 images") and scans kept
    reporting the old display name and matching the old aliases until a full rebuild."""
    from typer.testing import CliRunner

    from visionguard.cli import app

    root = _gallery(tmp_path, {"acme": 1, "zeta": 1})
    (root / "brands.json").write_text(json.dumps({"acme": {"name": "Acme"}, "zeta": {"name": "Zeta"}}))
    build_index(root, tmp_path / "index", read_logo_text=False)
    (root / "brands.json").write_text(json.dumps({"acme": {"name": "ACME Corp", "aliases": ["ACM"]}}))
    result = CliRunner().invoke(app, ["index", "add", str(root), "--index", str(tmp_path / "index"), "--no-logo-text"])
    assert result.exit_code == 0, result.output
    assert "added 0 images" in result.output and "names or aliases of 1 brands updated from brands.json (e.g. acme)" in result.output
    brands = GalleryIndex.load(tmp_path / "index").brands
    assert brands["acme"] == Brand("acme", "ACME Corp", ("ACM",))
    assert brands["zeta"].name == "Zeta"  # not listed any more: keeps the name it was indexed with


def test_index_add_refuses_a_brands_json_key_mistyped_for_a_brand_indexed_earlier(tmp_path):
    """A new-images folder without the brand's folder, whose brands.json says "Acme" for the
    indexed "acme": it would be an unused name, the correction silently lost."""
    root = _gallery(tmp_path, {"acme": 1})
    build_index(root, tmp_path / "index", read_logo_text=False)
    new = _gallery(tmp_path / "new", {"zeta": 1})
    (new / "brands.json").write_text(json.dumps({"Acme": {"name": "ACME Corp"}}))
    with pytest.raises(GalleryError, match="names brand 'Acme', but the index's brand is 'acme'"):
        add_to_index(new, tmp_path / "index", read_logo_text=False)
    assert sorted(GalleryIndex.load(tmp_path / "index").brands) == ["acme"]


def test_brands_json_key_in_other_case_is_one_clear_sentence(tmp_path):
    """{"Nike": ...} for the folder nike was ignored: the brand was indexed as "nike" with no
    aliases, and nothing said why its name and aliases never showed."""
    root = _gallery(tmp_path, {"louis-vuitton": 1})
    (root / "brands.json").write_text(json.dumps({"Louis Vuitton": {"name": "Louis Vuitton", "aliases": ["LV"]}}))
    with pytest.raises(GalleryError, match="names brand 'Louis Vuitton', but its folder is 'louis-vuitton'"):
        build_index(root, tmp_path / "out", read_logo_text=False)


def test_brands_json_key_in_another_unicode_form_names_its_folder(tmp_path):
    """A folder named on macOS is stored decomposed (e + combining accent); the brands.json
    key typed in an editor is composed: the same name, which the brand takes."""
    import unicodedata

    folder = unicodedata.normalize("NFD", "nestlé")
    root = _gallery(tmp_path, {folder: 1})
    (root / "brands.json").write_text(json.dumps({unicodedata.normalize("NFC", "nestlé"): {"name": "Nestlé", "aliases": ["NESTLE"]}}))
    index = build_index(root, tmp_path / "out", read_logo_text=False)
    assert index.brands[folder] == Brand(folder, "Nestlé", ("NESTLE",))


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_index_add_past_the_exact_limit_switches_to_ivf(tmp_path, monkeypatch):
    """`index add` kept an exact index exact however large it grew (README: "rebuild", i.e.
    embed hundreds of thousands of images again); it now becomes IVF from its own vectors."""
    from visionguard.index import describe_search, grow_index

    rng = np.random.default_rng(0)
    vectors = _unit(rng.normal(size=(6_000, 32)))
    exact = faiss.IndexFlatIP(32)
    exact.add(vectors[:900])
    grown = grow_index(exact, vectors[900:950], exact_limit=1_000)
    assert describe_search(grown) == {"type": "exact"} and grown.ntotal == 950
    grown = grow_index(grown, vectors[950:], exact_limit=1_000)
    assert describe_search(grown)["type"] == "IVF64,SQ8" and grown.ntotal == 6_000
    _, ids = grown.search(vectors[::60], 1)
    assert np.mean(ids[:, 0] == np.arange(0, 6_000, 60)) >= 0.98
    oversized = faiss.IndexFlatIP(32)  # grown past the limit by an earlier version's add
    oversized.add(vectors[:5_000])
    assert describe_search(grow_index(oversized, vectors[5_000:5_010], exact_limit=1_000))["type"].startswith("IVF")

    root = _gallery(tmp_path, {"acme": 3})
    build_index(root, tmp_path / "index", read_logo_text=False)
    _mark((10, 200, 10)).save(root / "acme" / "new.png")
    monkeypatch.setattr("visionguard.index.EXACT_LIMIT", 4)
    add_to_index(root, tmp_path / "index", read_logo_text=False)
    index = GalleryIndex.load(tmp_path / "index")
    assert describe_search(index.vectors)["type"].startswith("IVF") and len(index) == 4


def test_index_add_of_brands_far_from_the_ivf_lists_keeps_recall(tmp_path):
    """New brands whose vectors lie away from every trained list: at the nprobe tuned at
    build time their Recall@1 fell to 0.70 (150k + 150k synthetic); nprobe is tuned again,
    or the lists trained again."""
    from visionguard.index import TARGET_RECALL, grow_index, vector_index

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(100, 32))
    old = _unit(centres[rng.integers(0, 100, 8_000)] + rng.normal(0, 0.4, (8_000, 32)))
    shifted = centres + np.r_[np.full(6, 2.5), np.zeros(26)]
    new = _unit(shifted[rng.integers(0, 100, 8_000)] + rng.normal(0, 0.4, (8_000, 32)))
    grown = grow_index(vector_index(old, exact_limit=1_000), new, exact_limit=1_000)
    queries = _unit(new[rng.choice(8_000, 500)] + rng.normal(0, 0.03, (500, 32)))
    _, truth = faiss.knn(queries, np.concatenate([old, new]), 1, metric=faiss.METRIC_INNER_PRODUCT)
    _, found = grown.search(queries, 1)
    assert np.mean(found[:, 0] == truth[:, 0]) >= TARGET_RECALL - 0.02


def test_index_remove_takes_out_brands_and_images_without_re_embedding(index_dir, tmp_path):
    """A brand that left, a gallery image that caused false hits: removed, and every other
    image keeps its vector, keypoints and thumbnail (nothing is embedded again)."""
    from visionguard.index import remove_from_index

    target = tmp_path / "index"
    shutil.copytree(index_dir, target)
    before = GalleryIndex.load(target)
    rows = {path: row for row, path in enumerate(before.paths)}
    single = next(p for p, b in zip(before.paths, before.brand_of) if b == "nike" and "/products/" not in p)
    index, removed = remove_from_index(target, brands=["puma"], paths=[single])
    assert removed == before.brand_of.count("puma") + 1
    loaded = GalleryIndex.load(target)
    assert "puma" not in loaded.brands and "puma" not in loaded.brand_of and single not in loaded.paths
    assert len(loaded) == len(before) - removed == len(loaded.paths) == len(loaded.keypoints)
    for row, path in enumerate(loaded.paths):
        assert np.allclose(loaded.vectors.reconstruct(row), before.vectors.reconstruct(rows[path]))
        assert np.allclose(loaded.products.reconstruct(row), before.products.reconstruct(rows[path]))
        assert np.array_equal(loaded.keypoints[row].descriptors, before.keypoints[rows[path]].descriptors)
        assert np.array_equal(loaded.keypoints[row].thumbnail, before.keypoints[rows[path]].thumbnail)

    with pytest.raises(GalleryError, match="has no brand 'puma'"):
        remove_from_index(target, brands=["puma"])
    with pytest.raises(GalleryError, match="give the path as the index holds it"):
        remove_from_index(target, paths=["/abs/nike/logo.png"])
    with pytest.raises(GalleryError, match="empty"):
        remove_from_index(target, brands=list(loaded.brands))
    assert len(GalleryIndex.load(target)) == len(loaded)  # refusals change nothing


def test_index_remove_of_an_ivf_index_rebuilds_it_for_its_new_size(tmp_path, monkeypatch):
    from visionguard.index import describe_search, remove_from_index

    root = _gallery(tmp_path, {"acme": 3, "globex": 2})
    monkeypatch.setattr("visionguard.index.EXACT_LIMIT", 4)
    build_index(root, tmp_path / "index", read_logo_text=False)
    assert describe_search(GalleryIndex.load(tmp_path / "index").vectors)["type"].startswith("IVF")
    remove_from_index(tmp_path / "index", brands=["globex"])
    index = GalleryIndex.load(tmp_path / "index")
    assert describe_search(index.vectors) == {"type": "exact"} and index.brand_of == ["acme"] * 3


def test_index_add_leaves_out_what_index_remove_took_out(tmp_path):
    """A mislabelled image taken out with `index remove` came back with the next `index add` of
    a gallery that still held it, a removed brand's images too. They stay out: the exact files
    removed (a new file of a removed brand is added), until --readd-removed or a new build."""
    from typer.testing import CliRunner

    from visionguard.cli import app
    from visionguard.index import remove_from_index

    root = _gallery(tmp_path, {"acme": 3, "zeta": 2})
    (root / "zeta" / "broken.jpg").write_bytes(b"not a jpeg")  # skipped by the build: out with its brand too
    index_dir = tmp_path / "index"
    build_index(root, index_dir, read_logo_text=False)
    remove_from_index(index_dir, brands=["zeta"], paths=["acme/1.png"])
    gone = ["acme/1.png", "zeta/0.png", "zeta/1.png", "zeta/broken.jpg"]
    assert GalleryIndex.load(index_dir).removed == gone
    assert json.loads((index_dir / "index.json").read_text())["removed"] == gone  # plain JSON
    with pytest.raises(GalleryError, match="image 'acme/1.png' was removed from index .* already"):
        remove_from_index(index_dir, paths=["acme/1.png"])

    written = (index_dir / "index.json").stat().st_mtime_ns
    index, done = add_to_index(root, index_dir, read_logo_text=False)
    assert done.added == [] and done.held_back == gone
    assert index.paths == ["acme/0.png", "acme/2.png"] and list(index.brands) == ["acme"]
    assert (index_dir / "index.json").stat().st_mtime_ns == written  # nothing added: not rewritten
    result = CliRunner().invoke(app, ["index", "add", str(root), "--index", str(index_dir), "--no-logo-text"])
    assert result.exit_code == 0, result.output
    assert "added 0 images" in result.stdout
    assert "note: left out 4 images 'index remove' took out (e.g. acme/1.png); --readd-removed adds them back" in result.stderr

    _mark((10, 200, 10)).save(root / "zeta" / "new.png")
    index, done = add_to_index(root, index_dir, read_logo_text=False)
    assert done.added == ["zeta/new.png"] and done.held_back == gone and index.brand_of.count("zeta") == 1

    result = CliRunner().invoke(app, ["index", "add", str(root), "--index", str(index_dir), "--no-logo-text", "--readd-removed"])
    assert result.exit_code == 0, result.output
    assert "added 3 images" in result.stdout and "left out" not in result.output
    loaded = GalleryIndex.load(index_dir)
    assert loaded.removed == [] and sorted(loaded.paths) == ["acme/0.png", "acme/1.png", "acme/2.png", "zeta/0.png", "zeta/1.png", "zeta/new.png"]
    assert [item["path"] for item in loaded.skipped] == ["zeta/broken.jpg"]

    remove_from_index(index_dir, paths=["acme/1.png"])
    result = CliRunner().invoke(app, ["index", "build", str(root), "--out", str(index_dir), "--no-logo-text"])
    assert result.exit_code == 0, result.output
    assert "note: this build indexes again 1 images 'index remove' had taken out" in result.stderr
    assert GalleryIndex.load(index_dir).removed == [] and len(GalleryIndex.load(index_dir)) == 6  # a build starts afresh


def test_index_add_embeds_again_a_file_replaced_under_the_same_name(tmp_path):
    """A gallery image replaced by another under the same path kept its old vectors: `index
    add` took the path as indexed. Its rows are now those a build gives the new file."""
    root = _gallery(tmp_path, {"acme": 3, "zeta": 1})
    index_dir = tmp_path / "index"
    before = build_index(root, index_dir, read_logo_text=False)
    replacement = Image.new("RGB", (96, 80), (255, 255, 255))
    replacement.paste((200, 30, 30), (10, 20, 70, 60))
    replacement.save(root / "acme" / "1.png")
    index, done = add_to_index(root, index_dir, read_logo_text=False)
    assert done.replaced == ["acme/1.png"] and done.added == [] and len(index) == len(before) == 4

    loaded = GalleryIndex.load(index_dir)
    fresh = build_index(root, tmp_path / "fresh", read_logo_text=False)
    assert sorted(loaded.paths) == sorted(fresh.paths) and len(loaded.keypoints) == 4
    for row, path in enumerate(loaded.paths):
        other = fresh.paths.index(path)
        assert float(loaded.vectors.reconstruct(row) @ fresh.vectors.reconstruct(other)) > 0.999
        assert float(loaded.products.reconstruct(row) @ fresh.products.reconstruct(other)) > 0.999
        assert np.array_equal(loaded.keypoints[row].thumbnail, fresh.keypoints[other].thumbnail)
    old = before.products.reconstruct(before.paths.index("acme/1.png"))
    assert float(loaded.products.reconstruct(loaded.paths.index("acme/1.png")) @ old) < 0.99

    written = (index_dir / "index.json").stat().st_mtime_ns
    assert add_to_index(root, index_dir, read_logo_text=False)[1].replaced == []  # its new signature is kept
    assert (index_dir / "index.json").stat().st_mtime_ns == written


def test_a_replacement_of_the_same_size_is_found_by_its_content_and_unchanged_files_are_not_read(tmp_path, monkeypatch):
    """Size and modification time as recorded: the file is not read at all (a gallery of
    thousands is not hashed on every add). The same size at another time is decided by the
    content's SHA-256: a BMP of the same dimensions has the same size whatever it shows, and a
    touched file (a checkout, a copy) is the same file."""
    import os

    from typer.testing import CliRunner

    from visionguard.cli import app

    root, index_dir, reads = _two_image_index_watching_reads(tmp_path, monkeypatch)

    assert add_to_index(root, index_dir, read_logo_text=False)[1].replaced == [] and reads == []
    stamp = (root / "acme" / "a.bmp").stat().st_mtime_ns + 10**9  # whole seconds later: coarse file-system clocks
    os.utime(root / "acme" / "b.bmp", ns=(stamp, stamp))
    written = (index_dir / "index.json").stat().st_mtime_ns
    assert add_to_index(root, index_dir, read_logo_text=False)[1].replaced == [] and reads == ["b.bmp"]
    assert (index_dir / "index.json").stat().st_mtime_ns == written

    size = (root / "acme" / "a.bmp").stat().st_size
    _mark((30, 200, 30)).save(root / "acme" / "a.bmp")
    os.utime(root / "acme" / "a.bmp", ns=(stamp, stamp))
    assert (root / "acme" / "a.bmp").stat().st_size == size
    result = CliRunner().invoke(app, ["index", "add", str(root), "--index", str(index_dir), "--no-logo-text"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("added 0 images, replaced 1 whose file changed since (e.g. acme/a.bmp); ")
    reads.clear()  # saved with the replacement: the touched file's new time too
    assert add_to_index(root, index_dir, read_logo_text=False)[1].replaced == [] and reads == []


def _two_image_index_watching_reads(tmp_path, monkeypatch) -> tuple[Path, Path, list[str]]:
    """A two-image gallery, its index, and the names of the files hashed (`file_signature`) from now on."""
    import visionguard.index as index_module

    root = tmp_path / "gallery"
    (root / "acme").mkdir(parents=True)
    _mark((200, 30, 30)).save(root / "acme" / "a.bmp")
    _mark((30, 30, 200)).save(root / "acme" / "b.bmp")
    index_dir = tmp_path / "index"
    build_index(root, index_dir, read_logo_text=False)
    reads, read = [], index_module.file_signature
    monkeypatch.setattr(index_module, "file_signature", lambda path: reads.append(Path(path).name) or read(path))
    return root, index_dir, reads


def test_a_same_size_file_replaced_at_another_time_is_hashed_once(tmp_path, monkeypatch):
    """`index add` hashed such a file to find it changed, then again to record its signature
    when embedding it: the first signature is the one recorded."""
    import os

    import visionguard.index as index_module

    root, index_dir, reads = _two_image_index_watching_reads(tmp_path, monkeypatch)
    stamp = (root / "acme" / "a.bmp").stat().st_mtime_ns + 10**9
    _mark((30, 200, 30)).save(root / "acme" / "a.bmp")  # a BMP of the same dimensions: the same size
    os.utime(root / "acme" / "a.bmp", ns=(stamp, stamp))
    assert add_to_index(root, index_dir, read_logo_text=False)[1].replaced == ["acme/a.bmp"]
    assert reads == ["a.bmp"]
    recorded = GalleryIndex.load(index_dir, signatures=True).signatures["acme/a.bmp"]
    assert recorded == index_module.file_signature(root / "acme" / "a.bmp")  # the new file's signature, its new time included


def test_an_index_without_signatures_takes_its_files_as_unchanged(tmp_path):
    """An index built before signatures were recorded keeps working: its files are taken as
    unchanged (and `index add` and `index info` say so); files added to it get signatures."""
    from typer.testing import CliRunner

    from visionguard.cli import app

    root = _gallery(tmp_path, {"acme": 2})
    index_dir = tmp_path / "index"
    build_index(root, index_dir, read_logo_text=False)
    (index_dir / "signatures.json").unlink()  # as an earlier version wrote it
    _mark((200, 30, 30)).save(root / "acme" / "0.png")
    written = (index_dir / "index.json").stat().st_mtime_ns
    index, done = add_to_index(root, index_dir, read_logo_text=False)
    assert done.replaced == [] and done.unsigned == ["acme/0.png", "acme/1.png"]
    assert (index_dir / "index.json").stat().st_mtime_ns == written
    result = CliRunner().invoke(app, ["index", "add", str(root), "--index", str(index_dir), "--no-logo-text"])
    assert result.exit_code == 0 and "note: 2 indexed images have no file signature" in result.stderr
    assert "changed files: 2 images have no file signature" in CliRunner().invoke(app, ["index", "info", str(index_dir)]).stdout

    _mark((10, 200, 10)).save(root / "acme" / "new.png")
    assert add_to_index(root, index_dir, read_logo_text=False)[1].added == ["acme/new.png"]
    assert list(GalleryIndex.load(index_dir, signatures=True).signatures) == ["acme/new.png"]


def test_signatures_are_kept_packed_and_written_as_before(tmp_path):
    """`index add`/`remove` hold every gallery file's signature: as the dicts of the JSON file
    they took ~480 bytes a path (0.5 GB at a million images); packed, ~120
    (benchmarks/signatures_memory.py). The file stays what earlier versions wrote and read."""
    import hashlib
    import tracemalloc

    from visionguard.index import Signature, _read_signatures, file_signature

    root = _gallery(tmp_path, {"acme": 2})
    index_dir = tmp_path / "index"
    build_index(root, index_dir, read_logo_text=False)
    loaded = GalleryIndex.load(index_dir, signatures=True)
    for path in loaded.paths:
        signature = loaded.signatures[path]
        assert isinstance(signature, Signature) and signature == file_signature(root / path)
    written = json.loads((index_dir / "signatures.json").read_text())  # as an earlier version reads it
    assert list(written) == loaded.paths
    for path, entry in written.items():
        content = (root / path).read_bytes()
        assert entry == {"size": len(content), "mtime_ns": (root / path).stat().st_mtime_ns,
                         "sha256": hashlib.sha256(content).hexdigest()}

    earlier = {  # an earlier version's file, with entries that are no signature (the folder may come from anywhere)
        "acme/0.png": written["acme/0.png"], "acme/1.png": {"size": "12", "mtime_ns": 1, "sha256": "ab"},
        "gone.png": written["acme/1.png"], "acme/2.png": [1, 2],
    }
    (index_dir / "signatures.json").write_text(json.dumps(earlier, indent=2))
    assert dict(GalleryIndex.load(index_dir, signatures=True).signatures) == {"acme/0.png": loaded.signatures["acme/0.png"]}

    paths = [f"brand{k % 50:03d}/products/photo_{k:07d}.jpg" for k in range(20_000)]
    big = tmp_path / "big.json"
    big.write_text("{\n" + ",\n".join(
        f'"{p}": {json.dumps({"size": 40_000 + k, "mtime_ns": 1_764_000_000_000_000_000 + k, "sha256": hashlib.sha256(p.encode()).hexdigest()})}'
        for k, p in enumerate(paths)) + "\n}\n")
    tracemalloc.start()
    signatures = _read_signatures(big, paths)
    kept = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(signatures) == len(paths) and kept / len(paths) < 200, kept / len(paths)


def test_a_load_while_another_index_is_swapped_in_reads_one_index_whole(tmp_path, monkeypatch):
    """`index build`/`add`/`remove` swap a new folder in while a scan (or a Ray worker) may be
    opening the old one file by file: it got the old index.json with the new vectors (here the
    same size, so every row silently named the old brands)."""
    from visionguard.index import _replace_folder

    build_index(_gallery(tmp_path / "a", {"acme": 2}), tmp_path / "index", read_logo_text=False)
    new = build_index(_gallery(tmp_path / "b", {"acme": 1, "zeta": 1}), tmp_path / "new", read_logo_text=False)
    read_index, swapped = faiss.read_index, []

    def swap_first(path, flags=0):
        if not swapped:  # between reading index.json and the vectors
            swapped.append(path)
            _replace_folder(GalleryIndex.load(tmp_path / "new", mmap=False), tmp_path / "index")
        return read_index(path, flags)

    monkeypatch.setattr(faiss, "read_index", swap_first)
    loaded = GalleryIndex.load(tmp_path / "index")
    assert swapped and loaded.brand_of == new.brand_of == ["acme", "zeta"]
    assert np.allclose(loaded.vectors.reconstruct_n(0, 2), new.vectors.reconstruct_n(0, 2))


def _mount_point(monkeypatch, folder):
    """`folder` as a Docker volume is: a mount point, which rename and renameat2 refuse (EBUSY)."""
    import errno
    import os

    is_mount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda path: Path(path).resolve() == folder.resolve() or is_mount(path))

    def busy(first, second):
        raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(second))

    monkeypatch.setattr("visionguard.index._exchange", busy)


def test_build_into_a_mount_point_writes_the_index_in_place(tmp_path, monkeypatch):
    """`index build --out /index` with /index a Docker volume: written into, as before the swap
    came in (the swap failed with EBUSY after the whole gallery was embedded)."""
    root = _gallery(tmp_path, {"acme": 2})
    out = tmp_path / "volume"
    out.mkdir()
    _mount_point(monkeypatch, out)
    build_index(root, out, read_logo_text=False)
    build_index(root, out, read_logo_text=False)  # over the index it holds
    assert len(GalleryIndex.load(out)) == 2 and not list(tmp_path.glob("volume.*"))


def test_a_swap_that_fails_is_one_sentence_and_leaves_the_old_index(tmp_path, monkeypatch):
    """index add/remove on a mount point: the exchange fails; one GalleryError (the CLI's
    'error:' line, not a traceback), the old index whole and no INDEX.saving left beside it."""
    from visionguard.index import remove_from_index

    build_index(_gallery(tmp_path, {"acme": 2}), tmp_path / "index", read_logo_text=False)
    _mount_point(monkeypatch, tmp_path / "index")
    with pytest.raises(GalleryError, match="cannot swap the new index in .*mount point.*busy"):
        remove_from_index(tmp_path / "index", paths=["acme/0.png"])
    assert len(GalleryIndex.load(tmp_path / "index")) == 2 and not list(tmp_path.glob("index.*"))
