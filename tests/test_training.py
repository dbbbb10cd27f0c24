"""Training code on small real data: the data builder, the losses, a short real training run,
the exported model's round trip, and the shipped default model."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from training import data
from training.losses import ProxyAnchorLoss, supcon_loss


@pytest.fixture(scope="module")
def demo_logos(gallery_dir):
    return data.load_image_folder(gallery_dir)


@pytest.fixture(scope="module")
def photos():
    return data.load_photos(None)


def test_image_folder_keeps_brands_and_alpha(demo_logos):
    brands = {logo.brand for logo in demo_logos}
    assert brands == {"adidas", "fujifilm", "new-balance", "nike", "puma", "samsung"}
    assert all(logo.rgba.ndim == 3 and logo.rgba.shape[2] == 4 for logo in demo_logos)


def test_views_are_model_sized_and_seeded(demo_logos, photos):
    logo = demo_logos[0]
    first = data.logo_view(logo, photos, np.random.default_rng(3), size=128)
    again = data.logo_view(logo, photos, np.random.default_rng(3), size=128)
    other = data.logo_view(logo, photos, np.random.default_rng(4), size=128)
    assert first.shape == (128, 128, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert data.background_view(photos, np.random.default_rng(0), 96).shape == (96, 96, 3)
    for style in data.GALLERY_STYLES:
        assert data.gallery_view(logo, style, 64).shape == (64, 64, 3)


def test_gallery_views_of_a_white_brand_are_not_blank():
    """simple-icons gives some brands white as their colour; drawn on white, the "colour"
    gallery view was a blank image that matched a quarter of all logo-free photos."""
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 8:56] = 255
    logo = data._glyph("whitebrand", mask, (255, 255, 255))
    for style in data.GALLERY_STYLES:
        view = data.gallery_view(logo, style, 64)
        assert np.percentile(view, 99) - np.percentile(view, 1) > 100, style


def test_listing_logo_covers_the_asked_width(photos):
    mask = np.full((50, 100), 255, np.uint8)
    logo = data._glyph("box", mask, (255, 0, 0))
    background = [np.zeros((600, 800, 3), np.uint8)]
    rng = np.random.default_rng(0)
    image = data.listing_photo(logo, background, rng, size=(800, 600), scale=(0.2, 0.2))
    # rotation and perspective may widen the box a little, JPEG may blur its edge
    columns = np.nonzero((image[:, :, 0] > 128).any(axis=0))[0]
    assert 0.15 * 800 <= columns.max() - columns.min() <= 0.3 * 800


def test_copy_edit_changes_the_file_not_the_scene(photos):
    rng = np.random.default_rng(1)
    original = data.photo_instance(photos, rng)
    copy = data.copy_edit(original, rng)
    assert copy.shape != original.shape or not np.array_equal(copy, original)


def test_brand_split_is_stable_and_disjoint():
    brands = [f"brand{i}" for i in range(500)]
    train, held = data.split_brands(brands, 0.2)
    assert not set(train) & set(held) and len(train) + len(held) == 500
    assert 60 <= len(held) <= 140
    assert data.split_brands(list(reversed(brands)), 0.2) == (train, held)


def test_proxy_anchor_rewards_embeddings_near_their_proxy():
    torch.manual_seed(0)
    loss_fn = ProxyAnchorLoss(n_classes=4, dim=8)
    proxies = torch.nn.functional.normalize(loss_fn.proxies.detach(), dim=1)
    labels = torch.tensor([0, 1, 2, 3])
    near = loss_fn(proxies.clone(), labels)
    far = loss_fn(torch.roll(proxies, 1, dims=0), labels)
    assert near < far
    # a background row (label -1) only adds negative terms: near a proxy it costs more
    background_far = loss_fn(torch.cat([proxies, -proxies[:1]]), torch.tensor([0, 1, 2, 3, -1]))
    background_near = loss_fn(torch.cat([proxies, proxies[:1]]), torch.tensor([0, 1, 2, 3, -1]))
    assert background_near > background_far


def test_supcon_prefers_copies_together():
    a = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [0.1, 0.99]]), dim=1)
    labels = torch.tensor([0, 0, 1, 1])
    assert supcon_loss(a, labels) < supcon_loss(a, torch.tensor([0, 1, 0, 1]))


def test_short_training_run_exports_a_loadable_model(tmp_path, gallery_dir):
    from training.train import main
    from visionguard.models import create_model

    out = tmp_path / "run"
    code = main([
        "--image-folder", str(gallery_dir), "--out", str(out), "--name", "tiny", "--held-out", "0.34",
        "--views-per-brand", "2", "--head-epochs", "2", "--epochs", "1", "--batch-size", "8", "--product-instances", "8",
        "--product-epochs", "2", "--workers", "1",
    ])
    assert code == 0
    card = json.loads((out / "tiny.json").read_text())
    assert card["logo_dim"] == 128 and card["input_size"] == 128 and [h["stage"] for h in card["training"]["history"]] == [0, 1, 1, 2]
    model = create_model(str(out / "tiny.safetensors"))
    assert model.name == "tiny" and model.checksum == card["sha256"]
    image = np.zeros((200, 300, 3), np.uint8)
    logo, product = model.embed_with_products([image, image[:, ::-1]])
    assert logo.shape == (2, 128) and product.shape == (2, 256)
    assert np.allclose(np.linalg.norm(logo, axis=1), 1, atol=1e-4)


def test_finetune_trains_the_logo_trunk_and_keeps_the_product_branch(tmp_path, gallery_dir):
    """The end-to-end (GPU) recipe, run on the CPU for two tiny epochs."""
    from safetensors.torch import load_file

    from training.finetune import main
    from visionguard.models import create_model
    from visionguard.models.lite0_metric import Lite0Metric, packaged_weights

    out = tmp_path / "ft"
    code = main([
        "--image-folder", str(gallery_dir), "--out", str(out), "--name", "tiny-ft", "--held-out", "0.34",
        "--views-per-brand", "2", "--warmup-epochs", "1", "--epochs", "1", "--workers", "0", "--size", "128",
        "--device", "cpu", "--precision", "f32",
    ])
    assert code == 0
    card = json.loads((out / "tiny-ft.json").read_text())
    assert card["logo_trunk"] is True and [h["epoch"] for h in card["training"]["history"]] == [0, 1, 2]
    assert card["training"]["precision"] == "f32" and "float32" in card["training"]["logo_loss"]
    trained = load_file(str(out / "tiny-ft.safetensors"))
    imagenet = Lite0Metric().trunk.state_dict()
    changed = [k for k, v in imagenet.items() if v.is_floating_point() and k.endswith("weight")
               and not torch.allclose(trained[f"logo_trunk.{k}"].float(), v, atol=1e-3)]
    assert changed, "the logo trunk did not train"
    shipped = load_file(str(packaged_weights("visionguard-lite0-v1")))
    assert torch.equal(trained["product_head.weight"], shipped["product_head.weight"])
    model = create_model(str(out / "tiny-ft.safetensors"))
    image = np.zeros((200, 300, 3), np.uint8)
    logo, product = model.embed_with_products([image, image[:, ::-1]])
    assert logo.shape == (2, 128) and product.shape == (2, 256)
    reference = create_model("visionguard-lite0-v1").embed_with_products([image])[1]
    assert np.allclose(product[0], reference[0], atol=1e-4)  # v1's product branch, unchanged (same input size)


FONTS = Path(__file__).resolve().parents[1] / "visionguard" / "assets" / "fonts"


def test_wordmarks_are_unique_seeded_words_drawn_in_the_given_fonts():
    fonts = sorted(FONTS.glob("*.ttf"))
    marks = data.make_wordmarks(fonts, 40, seed=3)
    names = [logo.brand for logo in marks]
    assert len(set(names)) == 40 and all(name.startswith("wm-") and 3 <= len(name) - 3 <= 10 for name in names)
    assert names == [logo.brand for logo in data.make_wordmarks(fonts, 40, seed=3)]
    assert names != [logo.brand for logo in data.make_wordmarks(fonts, 40, seed=4)]
    for logo in marks:  # a word is wider than high and its mask is ink, cropped to the word
        mask = logo.rgba[:, :, 3]
        assert logo.recolourable and mask.shape[1] > mask.shape[0] >= 30
        assert mask[0].max() > 8 and mask[-1].max() > 8 and mask[:, 0].max() > 8 and mask[:, -1].max() > 8
    with pytest.raises(ValueError, match="no usable fonts"):
        data.make_wordmarks([], 1)


def test_finetune_continues_from_a_trained_model_within_a_time_budget(tmp_path, gallery_dir, capsys):
    """--init-from v2 with no warm-up, extra wordmark classes, and a budget spent by the end of
    the first epoch: the run stops there (it used to announce "0 more steps" and take one)."""
    from safetensors.torch import load_file

    from training.finetune import main
    from visionguard.models.lite0_metric import Lite0Metric, packaged_weights
    from visionguard.models.runtime import cpu_has_bf16

    out = tmp_path / "cont"
    v2 = packaged_weights("visionguard-lite0-v2")
    code = main([
        "--image-folder", str(gallery_dir), "--fonts", str(FONTS), "--wordmarks", "6", "--out", str(out),
        "--name", "cont", "--held-out", "0.34", "--views-per-brand", "1", "--warmup-epochs", "0", "--epochs", "5",
        "--batch-size", "4", "--workers", "0", "--size", "128", "--device", "cpu", "--init-from", str(v2),
        "--minutes", "0.001",
    ])
    assert code == 0
    card = json.loads((out / "cont.json").read_text())
    training = card["training"]
    assert training["init_from"] == v2.name and training["extra_classes"] == {"fontawesome_icons": 0, "wordmarks": 6}
    assert training["precision"] == ("bf16" if cpu_has_bf16() else "f32")  # --precision auto
    assert training["epochs_done"] == 1 and "the budget is spent" in capsys.readouterr().out
    trained, start = load_file(str(out / "cont.safetensors")), load_file(str(v2))
    imagenet = Lite0Metric().trunk.state_dict()
    weights = [k for k, v in imagenet.items() if v.is_floating_point() and k.endswith("weight")]
    to_start = sum(float((trained[f"logo_trunk.{k}"].float() - start[f"logo_trunk.{k}"].float()).norm()) for k in weights)
    to_imagenet = sum(float((trained[f"logo_trunk.{k}"].float() - imagenet[k]).norm()) for k in weights)
    assert 0 < to_start < to_imagenet / 10  # it trained, from v2's trunk, not ImageNet's


@pytest.mark.parametrize("extra, message", [
    (["--icons", "{tmp}"], "no svgs/solid/ there"),
    (["--fonts", "{tmp}", "--wordmarks", "3"], "no .ttf or .otf files there"),
    (["--init-from", "{tmp}/missing.safetensors", "--warmup-epochs", "0"], "no such file"),
    (["--wordmarks", "3"], "--wordmarks needs --fonts"),
])
def test_finetune_mistakes_are_one_sentence(tmp_path, gallery_dir, capsys, extra, message):
    from training.finetune import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--image-folder", str(gallery_dir), "--out", str(tmp_path / "out")]
             + [arg.format(tmp=tmp_path) for arg in extra])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_training_mistakes_are_one_sentence_before_any_work(tmp_path, gallery_dir, capsys):
    """A small team's first tries: an --out that is a file, a folder name mistyped, a GPU that
    is not there, a folder too small to hold brands out for evaluate."""
    import torch

    from training import evaluate, finetune, run

    (tmp_path / "taken").write_text("a file")
    cases = [
        (finetune.main, ["--image-folder", str(gallery_dir), "--out", str(tmp_path / "taken")], "is a file, not a folder"),
        (finetune.main, ["--image-folder", str(tmp_path / "nope"), "--out", str(tmp_path / "o")], "image folder .*nope' does not exist"),
        (finetune.main, ["--image-folder", str(gallery_dir), "--photos", str(tmp_path / "nope"), "--out", str(tmp_path / "o")],
         "photo folder .*nope' does not exist"),
        (evaluate.main, ["--image-folder", str(gallery_dir), "--held-out", "0.01", "--work", str(tmp_path / "w")],
         "brands are held out .* retrieval needs two or more"),
    ]
    if not torch.cuda.is_available():
        cases.append((finetune.main, ["--image-folder", str(gallery_dir), "--out", str(tmp_path / "o"), "--device", "cuda"],
                      "torch sees no CUDA GPU"))
    for main, arguments, message in cases:
        try:
            code = run(lambda: main(arguments))
        except SystemExit as exit_info:  # argparse's own exit
            code = exit_info.code
        assert code == 2 and re.search(message, capsys.readouterr().err), (arguments, message)
    assert not (tmp_path / "o").exists()


def test_unreadable_images_of_a_brand_folder_are_skipped_and_named(tmp_path, gallery_dir, capsys):
    from training import data

    folder = tmp_path / "brands"
    shutil.copytree(gallery_dir, folder)
    (folder / "adidas" / "broken.png").write_bytes(b"not a png")
    logos = data.load_image_folder(folder)
    assert {logo.brand for logo in logos} == {p.name for p in gallery_dir.iterdir() if p.is_dir()}
    err = capsys.readouterr().err
    assert "warning: skipped" in err and "broken.png" in err


def test_finetune_refuses_bf16_on_a_cpu_without_it(tmp_path, gallery_dir, capsys, monkeypatch):
    from training.finetune import main
    from visionguard.models import runtime

    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: False)  # as on a CPU without AVX512-BF16 or AMX
    with pytest.raises(SystemExit) as exit_info:
        main(["--image-folder", str(gallery_dir), "--out", str(tmp_path / "out"), "--device", "cpu", "--precision", "bf16"])
    assert exit_info.value.code == 2 and "needs a GPU or a CPU that computes bfloat16 natively" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_shipped_model_matches_its_card():
    from visionguard.models import TRAINED_MODEL, create_model

    model = create_model(TRAINED_MODEL)
    assert model.checksum == model.card["sha256"]
    assert set(model.thresholds) == {"logo", "logo_margin", "refine_floor", "duplicate"}
    assert model.thresholds["refine_floor"] < model.thresholds["logo"]  # the second look runs below the threshold
    assert model.card["logo_trunk"] is True and model.input_size == model.card["input_size"] == 160
    history = model.card["training"]["history"]
    assert history[-1]["held_out_recall_at_1"] > history[0]["held_out_recall_at_1"] + 0.5


def test_cpu_trained_model_still_loads_and_rebuilds_within_90_minutes():
    from visionguard.models import create_model

    model = create_model("visionguard-lite0-v1")
    assert model.checksum == model.card["sha256"] and "logo_trunk" not in model.card
    assert model.card["training"]["device"] == "cpu" and model.card["training"]["minutes"] <= 90


def test_shipped_model_tells_logos_apart(gallery_dir, photos):
    """Held-out style check on the demo brands: a logo on a photo is nearest its own brand."""
    from visionguard.models import TRAINED_MODEL, create_model

    model = create_model(TRAINED_MODEL)
    logos = {logo.brand: logo for logo in data.load_image_folder(gallery_dir)}  # one image per brand
    brands = sorted(logos)
    refs = model.embed([data.gallery_view(logos[b], "colour", 256) for b in brands])
    rng = np.random.default_rng(5)
    hits = 0
    for label, brand in enumerate(brands):
        queries = model.embed([data.logo_view(logos[brand], photos, rng, 256, scale=(0.5, 0.9)) for _ in range(4)])
        hits += int(((queries @ refs.T).argmax(axis=1) == label).sum())
    assert hits >= 0.75 * 4 * len(brands)


def test_photo_tiles_share_no_pixels_and_skip_flat_regions():
    rng = np.random.default_rng(0)
    photo = np.full((400, 400, 3), 128, np.uint8)
    photo[:, :200] = rng.integers(0, 256, (400, 200, 3), dtype=np.uint8)  # textured left half, flat right half
    tiles = data.photo_tiles([photo], grid=4)
    assert len(tiles) == 8  # the two left columns of a 4x4 grid
    assert all(tile.shape == (100, 100, 3) for tile in tiles)
    assert len({tile.tobytes() for tile in tiles}) == 8


def test_duplicate_metrics_counts_recall_and_false_duplicates():
    from training.evaluate import duplicate_metrics

    scores = {
        "copy_score": np.array([0.95, 0.9, 0.8, 0.6]),
        "copy_top1": np.array([True, True, True, False]),
        "other_score": np.linspace(0.0, 0.85, 200),  # the top one (0.85) is the 0.5% let through
    }
    figures = duplicate_metrics(scores, threshold=0.7)
    assert figures["recall"] == 0.75  # the fourth copy found another original first
    assert figures["false_duplicate_rate"] == pytest.approx(35 / 200, abs=0.01)
    assert figures["recall_at_0.5%_false"] == 0.5  # above the second-highest other photo (0.846)
    assert "verified_recall" not in figures
    scores["copy_verified"] = np.array([True, True, False, True])
    scores["other_verified"] = np.zeros(200, bool)
    scores["other_verified"][:3] = True
    figures = duplicate_metrics(scores, threshold=0.7)
    assert figures["verified_recall"] == 0.75 and figures["verified_false_duplicate_rate"] == 0.015


def test_shipped_model_finds_copies_among_photos_of_the_same_scenes(photos, demo_logos):
    """Copy edits of held-out-style tiles: each copy is nearest its own original."""
    from training.evaluate import duplicate_scores
    from visionguard.models import TRAINED_MODEL, create_model

    scores = duplicate_scores(create_model(TRAINED_MODEL), photos, demo_logos, seed=3, copies=2, variants=1, grid=3)
    assert len(scores["copy_top1"]) >= 40
    assert scores["copy_top1"].mean() >= 0.9
    assert np.median(scores["copy_score"]) > np.median(scores["other_score"])
    # the scan's rule, pixel verification of the top candidates: 93 of 94 copies, 0 of 47 others when written
    assert scores["copy_verified"].mean() >= 0.95 and scores["other_verified"].mean() <= 0.03


def test_an_opaque_logo_file_is_framed_with_its_own_background():
    """A grey or black logo saved as a JPEG on white: its dominant colour is the white, which
    framed its gallery views in black; the margin now continues the file's own edge."""
    rgba = np.full((100, 200, 4), 255, np.uint8)
    rgba[30:70, 40:160, :3] = 60
    logo = data.Logo("tetra", rgba, data._dominant_colour(rgba), recolourable=False)
    for style in data.GALLERY_STYLES:
        view = data.gallery_view(logo, style, None)
        assert view.shape == (160, 260, 3) and view[0, 0].tolist() == [255, 255, 255]
        assert view[80, 130].tolist() == [60, 60, 60]
