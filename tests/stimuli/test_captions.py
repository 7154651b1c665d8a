"""Captions name what is in the scene, from a small fixed vocabulary, the same way every time."""

from __future__ import annotations

from neuromodels.stimuli import caption, captions, sample_scenes, vocabulary, words


def test_caption_of_a_known_scene():
    row = {
        "stimulus_id": 0,
        "category": "star",
        "shape_param": 0.5,
        "colour": "red",
        "texture": "stripes",
        "x": 0.2,
        "y": 0.1,
        "size": 0.55,
        "rotation_deg": 10.0,
        "light_deg": 80.0,
    }
    assert caption(row) == "a large red striped star at the top left, lit from above"
    row.update(texture="plain", x=0.5, y=0.5, size=0.3, light_deg=181.0, colour="blue", category="ring")
    assert caption(row) == "a small blue ring in the centre, lit from the left"


def test_captions_mention_category_colour_and_second_object_and_stay_in_vocabulary():
    table = sample_scenes(200, seed=0, p_second=0.5)
    texts = captions(table)
    assert texts == captions(table.copy())
    vocab = set(vocabulary())
    for text, (_, row) in zip(texts, table.iterrows()):
        tokens = words(text)
        assert row["category"] in tokens and row["colour"] in tokens
        assert set(tokens) <= vocab
        if isinstance(row["second_category"], str):
            assert "and" in tokens and row["second_category"] in tokens and row["second_colour"] in tokens
            assert text.index(row["category"]) < text.rindex(row["second_category"])
    assert len(vocab) < 60
    assert len(set(texts)) > 150  # captions tell most scenes apart


def test_words_drop_punctuation_and_case():
    assert words("A large Red star, lit from above") == ["a", "large", "red", "star", "lit", "from", "above"]
