"""Image encoders: shapes, preprocessing, freezing, configs and the weights policy."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from vqadesk.errors import DataFormatError
from vqadesk.models.config_checks import ConfigError
from vqadesk.models.image_encoders import (
    ImageEncoderConfig,
    PrecomputedFeatures,
    WeightsError,
    build_image_encoder,
)
from vqadesk.models.weights import imagenet_file_candidates


def random_images(batch: int = 2, height: int = 100, width: int = 90) -> torch.Tensor:
    return torch.randint(0, 256, (batch, 3, height, width), dtype=torch.uint8)


def encode(encoder, images):
    return encoder(encoder.prepare(images))


# --- the small CNN -------------------------------------------------------------------


def test_small_cnn_default_gives_an_8x8_grid_with_coordinates():
    encoder = build_image_encoder(ImageEncoderConfig())
    grid = encode(encoder, random_images(2, 128, 128))
    assert grid.shape == (2, 130, 8, 8)
    assert encoder.output_shape == (130, 8)
    # The last two channels are x (left -1 .. right +1) and y (top -1 .. bottom +1).
    x, y = grid[0, -2], grid[0, -1]
    assert torch.allclose(x[3], torch.linspace(-1, 1, 8))
    assert torch.allclose(y[:, 5], torch.linspace(-1, 1, 8))


@pytest.mark.parametrize("image_size, channels, side", [(64, (8, 16), 16), (100, (8, 8, 8), 13)])
def test_small_cnn_output_shape_matches_its_output(image_size, channels, side):
    for layer in ("grid", "pooled"):
        config = ImageEncoderConfig(image_size=image_size, channels=channels, layer=layer)
        encoder = build_image_encoder(config)
        features = encode(encoder, random_images())
        expected = (2, channels[-1] + 2, side, side) if layer == "grid" else (2, channels[-1] + 2)
        assert features.shape == expected
        assert encoder.output_shape == (channels[-1] + 2, side if layer == "grid" else None)


def test_prepare_resizes_and_centres_pixels():
    encoder = build_image_encoder(ImageEncoderConfig(image_size=32, channels=(4,)))
    white = torch.full((1, 3, 50, 70), 255, dtype=torch.uint8)
    prepared = encoder.prepare(white)
    assert prepared.dtype == torch.float32 and prepared.shape == (1, 3, 32, 32)
    assert torch.allclose(prepared, torch.full_like(prepared, 0.5))
    assert torch.allclose(encoder.prepare(torch.zeros(1, 3, 32, 32, dtype=torch.uint8)), torch.tensor(-0.5))


def test_prepare_rejects_wrong_dtype_and_shape():
    encoder = build_image_encoder(ImageEncoderConfig(image_size=32, channels=(4,)))
    with pytest.raises(ValueError, match="uint8"):
        encoder.prepare(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        encoder.prepare(torch.zeros(3, 32, 32, dtype=torch.uint8))


def test_frozen_encoder_has_no_gradients_and_stays_in_eval_mode():
    encoder = build_image_encoder(ImageEncoderConfig(image_size=32, channels=(4, 8), trainable=False))
    assert not any(p.requires_grad for p in encoder.parameters())
    assert not encoder.training
    parent = torch.nn.Sequential(encoder).train()
    assert parent.training and not encoder.training
    assert not encode(encoder, random_images()).requires_grad


def test_trainable_encoder_gets_gradients():
    encoder = build_image_encoder(ImageEncoderConfig(image_size=32, channels=(4, 8)))
    encode(encoder, random_images()).sum().backward()
    assert all(p.grad is not None for p in encoder.parameters())


# --- torchvision backbones (weights=None: nothing is downloaded) -------------------------

_NETWORKS: dict[str, torch.nn.Module] = {}


@pytest.fixture
def shared_torchvision_networks(monkeypatch):
    """Build each torchvision network once per test session: VGG-16's random
    initialisation alone takes seconds, and the tests only read shapes."""
    from vqadesk.models import backbones

    original = backbones._builder_and_weights

    def builder_and_weights(name):
        build, weights_enum = original(name)

        def build_once(weights=None):
            assert weights is None
            if name not in _NETWORKS:
                _NETWORKS[name] = build(weights=None)
            return _NETWORKS[name]

        return build_once, weights_enum

    monkeypatch.setattr(backbones, "_builder_and_weights", builder_and_weights)


@pytest.mark.parametrize(
    "name, layer, expected",
    [
        ("vgg16", "fc7", (1, 4096)),
        ("vgg16", "grid", (1, 512, 4, 4)),
        ("resnet50", "grid", (1, 2048, 2, 2)),
        ("resnet50", "pooled", (1, 2048)),
    ],
)
def test_torchvision_backbones_at_64_pixels(name, layer, expected, shared_torchvision_networks):
    encoder = build_image_encoder(ImageEncoderConfig(name=name, layer=layer, image_size=64))
    with torch.no_grad():
        features = encode(encoder, random_images(1, 80, 60))
    assert features.shape == expected
    channels, side = encoder.output_shape
    assert (channels, side) == (expected[1], expected[2] if len(expected) == 4 else None)


def test_resnet152_grid_shape_at_224_pixels():
    encoder = build_image_encoder(ImageEncoderConfig(name="resnet152", image_size=224))
    assert encoder.output_shape == (2048, 7)
    assert sum(p.numel() for p in encoder.parameters()) > 50_000_000  # the real ResNet-152 trunk


def test_torchvision_inputs_use_imagenet_statistics():
    encoder = build_image_encoder(ImageEncoderConfig(name="resnet50", image_size=32, trainable=False))
    prepared = encoder.prepare(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    assert prepared[0, :, 0, 0].tolist() == pytest.approx([-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225])


# --- the weights policy --------------------------------------------------------------------


def test_missing_imagenet_weights_say_which_file_goes_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsError) as caught:
        build_image_encoder(ImageEncoderConfig(name="resnet50", weights="imagenet", image_size=64))
    message = str(caught.value)
    assert "resnet50-11ad3fa6.pth" in message
    assert str(tmp_path / "hub" / "checkpoints") in message
    assert "https://download.pytorch.org/models/resnet50-11ad3fa6.pth" in message
    assert "never downloads" in message


def test_imagenet_weights_are_read_from_the_hub_cache(tmp_path, monkeypatch):
    import torchvision.models as tv

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    candidates = imagenet_file_candidates(tv.ResNet50_Weights)
    assert [p.name for p in candidates] == ["resnet50-11ad3fa6.pth", "resnet50-0676ba61.pth"]
    reference = tv.resnet50(weights=None)
    candidates[1].parent.mkdir(parents=True)
    torch.save(reference.state_dict(), candidates[1])  # the older V1 file is accepted too
    encoder = build_image_encoder(ImageEncoderConfig(name="resnet50", weights="imagenet", image_size=64))
    assert torch.equal(encoder.backbone.layer4[2].conv3.weight, reference.layer4[2].conv3.weight)
    assert torch.equal(encoder.backbone.bn1.running_mean, reference.bn1.running_mean)


def test_corrupt_imagenet_file_is_a_clear_error(tmp_path, monkeypatch):
    import torchvision.models as tv

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = imagenet_file_candidates(tv.ResNet50_Weights)[0]
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="resnet50-11ad3fa6.pth: cannot read"):
        build_image_encoder(ImageEncoderConfig(name="resnet50", weights="imagenet", image_size=64))


def test_small_cnn_safetensors_round_trip(tmp_path):
    config = ImageEncoderConfig(image_size=32, channels=(4, 8))
    trained = build_image_encoder(config)
    path = tmp_path / "cnn.safetensors"
    save_file(trained.backbone.state_dict(), str(path))
    loaded = build_image_encoder(ImageEncoderConfig(image_size=32, channels=(4, 8), weights=str(path)))
    for (name, value), (_, expected) in zip(loaded.state_dict().items(), trained.state_dict().items()):
        assert torch.equal(value, expected), name
    images = random_images()
    trained.eval(), loaded.eval()
    assert torch.equal(encode(trained, images), encode(loaded, images))


def test_torchvision_safetensors_without_the_imagenet_head(tmp_path):
    import torchvision.models as tv

    reference = tv.resnet50(weights=None)
    state = {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    path = tmp_path / "resnet50.safetensors"
    save_file(state, str(path))
    encoder = build_image_encoder(ImageEncoderConfig(name="resnet50", weights=str(path), image_size=64))
    assert torch.equal(encoder.backbone.layer1[0].conv1.weight, reference.layer1[0].conv1.weight)


@pytest.mark.parametrize("name", ["weights.pth", "weights.pt", "weights.bin"])
def test_pickled_weight_files_are_refused_unread(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x80\x04 would be unpickled")
    with pytest.raises(WeightsError, match="pickled PyTorch files are not loaded"):
        build_image_encoder(ImageEncoderConfig(image_size=32, channels=(4,), weights=str(path)))


def test_weights_file_problems_are_clear(tmp_path):
    config = dict(image_size=32, channels=(4, 8))
    with pytest.raises(WeightsError, match="weights file not found"):
        build_image_encoder(ImageEncoderConfig(**config, weights=str(tmp_path / "absent.safetensors")))
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 20)
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        build_image_encoder(ImageEncoderConfig(**config, weights=str(garbage)))
    other = tmp_path / "other.safetensors"
    save_file({"blocks.block1.0.weight": torch.zeros(4, 3, 5, 5)}, str(other))
    with pytest.raises(WeightsError, match="does not fit the SmallCnn network .missing tensors"):
        build_image_encoder(ImageEncoderConfig(**config, weights=str(other)))
    wrong = build_image_encoder(ImageEncoderConfig(image_size=32, channels=(4, 16))).backbone.state_dict()
    save_file(wrong, str(other))
    with pytest.raises(WeightsError, match="wrong shape tensors: blocks.block2.0.weight"):
        build_image_encoder(ImageEncoderConfig(**config, weights=str(other)))
    with pytest.raises(WeightsError, match="must be 'none', 'imagenet' or a .safetensors file"):
        build_image_encoder(ImageEncoderConfig(**config, weights=str(tmp_path / "weights.npz")))


# --- precomputed features ----------------------------------------------------------------


def test_precomputed_features_pass_through_with_their_shape_checked():
    vectors = build_image_encoder(ImageEncoderConfig(name="precomputed", layer="fc7", feature_dim=6))
    assert isinstance(vectors, PrecomputedFeatures) and vectors.output_shape == (6, None)
    features = torch.randn(3, 6, dtype=torch.float64)
    assert torch.allclose(encode(vectors, features), features.float())
    grid = build_image_encoder(ImageEncoderConfig(name="precomputed", feature_dim=5, image_size=3))
    assert grid.output_shape == (5, 3)
    assert encode(grid, torch.randn(2, 5, 3, 3)).shape == (2, 5, 3, 3)
    with pytest.raises(ValueError, match="precomputed features of shape"):
        grid.prepare(torch.randn(2, 5, 4, 4))


# --- the config ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        ImageEncoderConfig(),
        ImageEncoderConfig(name="vgg16", layer="fc7", image_size=224, weights="imagenet", trainable=False),
        ImageEncoderConfig(name="resnet152", layer="pooled", image_size=448, weights="/w/r.safetensors"),
        ImageEncoderConfig(name="precomputed", layer="grid", feature_dim=2048, image_size=14),
        ImageEncoderConfig(channels=(16, 32, 64)),
    ],
)
def test_config_round_trips_through_a_dict(config):
    import json

    data = json.loads(json.dumps(config.to_dict()))
    assert ImageEncoderConfig.from_dict(data, source="model.json") == config


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(name="alexnet"), "name"),
        (dict(name="vgg16", layer="pooled"), "layer"),
        (dict(name="resnet50", layer="fc7"), "layer"),
        (dict(weights="imagenet"), "weights"),
        (dict(image_size=8), "image_size"),
        (dict(name="resnet50", image_size=16), "image_size"),
        (dict(channels=(8, 0)), "channels[1]"),
        (dict(channels=()), "channels"),
        (dict(name="precomputed"), "feature_dim"),
        (dict(name="precomputed", feature_dim=4, weights="imagenet"), "weights"),
        (dict(trainable="yes"), "trainable"),
    ],
)
def test_bad_configs_name_the_field(kwargs, field):
    with pytest.raises(ConfigError) as caught:
        ImageEncoderConfig(**kwargs)
    assert caught.value.field == field


@pytest.mark.parametrize(
    "data, field, problem",
    [
        ({"name": 3}, "cfg.name", "expected a string"),
        ({"image_size": "128"}, "cfg.image_size", "expected an integer"),
        ({"channels": [8, "x"]}, "cfg.channels[1]", "expected an integer"),
        ({"trainable": 1}, "cfg.trainable", "expected true or false"),
        ({"colour": "red"}, "cfg.colour", "unknown field"),
        ({"name": "vgg16", "layer": "pooled"}, "cfg.layer", "must be one of 'fc7', 'grid'"),
    ],
)
def test_bad_dicts_are_data_format_errors_naming_file_and_field(data, field, problem):
    with pytest.raises(DataFormatError) as caught:
        ImageEncoderConfig.from_dict(data, source="ckpt/model.json", where="cfg")
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert str(caught.value).startswith("ckpt/model.json: field")


def test_a_dict_that_is_not_an_object_is_rejected():
    with pytest.raises(DataFormatError, match="expected an object"):
        ImageEncoderConfig.from_dict(["small_cnn"], source="m.json", where="image_encoder")
