"""Captions that say one category with several words (issue 20): the default captions never change, a synonym
names the same category, every word of a category maps back to it, and the synonyms are real single words."""

from neuromodels.stimuli import CATEGORY_NAMES, caption, captions, sample_scenes, vocabulary, words
from neuromodels.stimuli.captions import CATEGORY_SYNONYMS, canonical_word, category_word


def test_default_captions_unchanged_and_synonyms_name_the_same_category():
    table = sample_scenes(20, seed=3, p_second=0.5)
    assert [caption(row, 0) for _, row in table.iterrows()] == captions(table)
    for _, row in table.iterrows():
        plain, said = words(caption(row)), words(caption(row, synonym=1))
        assert len(plain) == len(said)
        changed = [(a, b) for a, b in zip(plain, said) if a != b]
        assert changed and all(canonical_word(b) == a for a, b in changed)


def test_every_category_has_several_distinct_words():
    assert set(CATEGORY_SYNONYMS) == set(CATEGORY_NAMES)
    every = [w for ws in CATEGORY_SYNONYMS.values() for w in ws]
    assert len(every) == len(set(every))  # no word names two categories
    for name, ws in CATEGORY_SYNONYMS.items():
        assert ws[0] == name and len(ws) >= 3
        assert all(words(w) == [w] for w in ws)
        assert [canonical_word(category_word(name, k)) for k in range(len(ws))] == [name] * len(ws)
    assert category_word("disc", len(CATEGORY_SYNONYMS["disc"])) == "disc"  # counted modulo
    assert category_word("blob", 2) == "blob" and canonical_word("red") == "red"
    assert set(vocabulary()) < set(vocabulary(synonyms=True)) and set(every) <= set(vocabulary(synonyms=True))
