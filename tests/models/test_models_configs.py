"""VQA and captioner configs: defaults, checks, and JSON round trips with clear errors."""

from __future__ import annotations

import json

import pytest

from vqadesk.errors import DataFormatError
from vqadesk.models import CaptionerConfig, ConfigError, ImageEncoderConfig, VqaModelConfig

VECTOR_ENCODER = ImageEncoderConfig(
    name="vgg16", layer="fc7", image_size=224, weights="imagenet", trainable=False
)


def json_round_trip(config, cls):
    data = json.loads(json.dumps(config.to_dict()))
    return cls.from_dict(data, source="run/model.json", where="config")


def test_vqa_defaults_are_the_real_data_ones():
    config = VqaModelConfig(vocab_size=1000, num_answers=3000)
    assert (config.model, config.question_encoder) == ("attention", "lstm")
    assert (config.embed_dim, config.hidden_dim, config.fusion_dim) == (300, 512, 1024)
    assert (config.attention_dim, config.glimpses, config.dropout) == (512, 2, 0.5)
    assert (config.mlp_layers, config.max_question_len) == (1, 20)


@pytest.mark.parametrize(
    "config",
    [
        VqaModelConfig(vocab_size=50, num_answers=10),
        VqaModelConfig(model="bow", image_encoder=VECTOR_ENCODER, vocab_size=9, num_answers=3, mlp_layers=3),
        VqaModelConfig(model="lstm", question_encoder="transformer", image_encoder=VECTOR_ENCODER,
                       vocab_size=9, num_answers=3, dropout=0.0),
        VqaModelConfig(image_encoder=ImageEncoderConfig(name="resnet152", image_size=448), vocab_size=9,
                       num_answers=3, glimpses=1, embed_dim=16),
    ],
)
def test_vqa_config_round_trips(config):
    assert json_round_trip(config, VqaModelConfig) == config


@pytest.mark.parametrize(
    "config",
    [
        CaptionerConfig(vocab_size=40),
        CaptionerConfig(cell="rnn", attention=False, image_encoder=VECTOR_ENCODER, vocab_size=40, max_len=16),
    ],
)
def test_captioner_config_round_trips(config):
    assert json_round_trip(config, CaptionerConfig) == config


def test_bow_model_always_uses_a_bag_of_words():
    config = VqaModelConfig(model="bow", question_encoder="lstm", vocab_size=9, num_answers=3)
    assert config.question_encoder == "bow"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(model="mlp"), "model"),
        (dict(question_encoder="gru"), "question_encoder"),
        (dict(vocab_size=4), "vocab_size"),
        (dict(num_answers=0), "num_answers"),
        (dict(glimpses=0), "glimpses"),
        (dict(mlp_layers=-1), "mlp_layers"),
        (dict(dropout=1.0), "dropout"),
        (dict(dropout=True), "dropout"),
        (dict(image_encoder=VECTOR_ENCODER), "image_encoder.layer"),
        (dict(image_encoder={"name": "small_cnn"}), "image_encoder"),
    ],
)
def test_bad_vqa_configs_name_the_field(kwargs, field):
    values = dict(vocab_size=9, num_answers=3) | kwargs
    with pytest.raises(ConfigError) as caught:
        VqaModelConfig(**values)
    assert caught.value.field == field


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(cell="gru"), "cell"),
        (dict(attention="yes"), "attention"),
        (dict(image_encoder=VECTOR_ENCODER), "image_encoder.layer"),
        (dict(max_len=0), "max_len"),
    ],
)
def test_bad_captioner_configs_name_the_field(kwargs, field):
    with pytest.raises(ConfigError) as caught:
        CaptionerConfig(vocab_size=9, **kwargs)
    assert caught.value.field == field


def test_a_vector_encoder_is_fine_without_attention():
    assert CaptionerConfig(attention=False, image_encoder=VECTOR_ENCODER, vocab_size=9).attention is False
    assert VqaModelConfig(model="lstm", image_encoder=VECTOR_ENCODER, vocab_size=9, num_answers=3)


def corrupt(key: str, value=None, *, remove: bool = False) -> dict:
    data = VqaModelConfig(vocab_size=50, num_answers=10).to_dict()
    target = data
    *parents, last = key.split(".")
    for part in parents:
        target = target[part]
    if remove:
        del target[last]
    else:
        target[last] = value
    return data


@pytest.mark.parametrize(
    "data, field, problem",
    [
        (corrupt("vocab_size", remove=True), "config.vocab_size", "missing"),
        (corrupt("num_answers", "10"), "config.num_answers", "expected an integer, got a string"),
        (corrupt("dropout", None), "config.dropout", "expected a number, got null"),
        (corrupt("model", "resnet"), "config.model", "must be one of 'bow', 'lstm', 'attention'"),
        (corrupt("hidden_dim", 0), "config.hidden_dim", "must be a positive integer"),
        (corrupt("image_encoder", "small_cnn"), "config.image_encoder", "expected an object"),
        (corrupt("image_encoder.name", "vgg19"), "config.image_encoder.name", "must be one of"),
        (corrupt("image_encoder.layer", "pooled"), "config.image_encoder.layer", "needs a grid"),
        (corrupt("learning_rate", 0.1), "config.learning_rate", "unknown field"),
    ],
)
def test_bad_vqa_dicts_name_file_and_field(data, field, problem):
    with pytest.raises(DataFormatError) as caught:
        VqaModelConfig.from_dict(data, source="run/model.json", where="config")
    assert caught.value.path == "run/model.json"
    assert caught.value.field == field
    assert problem in caught.value.problem


def test_bad_captioner_dict_names_file_and_field():
    data = CaptionerConfig(vocab_size=40).to_dict() | {"attention": "true"}
    with pytest.raises(DataFormatError, match=r"cap.json: field 'attention': expected true or false"):
        CaptionerConfig.from_dict(data, source="cap.json")
    with pytest.raises(DataFormatError, match=r"cap.json: field 'vocab_size': missing"):
        CaptionerConfig.from_dict({}, source="cap.json")
    with pytest.raises(DataFormatError, match=r"cap.json: expected an object, got a list"):
        CaptionerConfig.from_dict([], source="cap.json")
