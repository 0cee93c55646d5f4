"""Categories from WordNet, the roll-up, the vocabulary and the keywords they choose."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from keyword_samples import ISSUE_VOCABULARY, imagenet_prediction, predictions

from resnet_desktop.core.inference.classifier import Prediction
from resnet_desktop.core.keywords.confidence import MIN_TOP1
from resnet_desktop.core.keywords.policy import KeywordPolicy
from resnet_desktop.core.keywords.rollup import roll_up
from resnet_desktop.core.keywords.taxonomy import default_taxonomy, synset_names
from resnet_desktop.core.keywords.vocabulary import (
    VocabularyError,
    load_vocabulary,
    parse_vocabulary,
)
from resnet_desktop.core.models.labels import imagenet_labels
from resnet_desktop.resources import resource_path

ABSTRACT = {"n00001740": "entity", "n00001930": "physical entity", "n00002684": "object",
            "n00003553": "whole", "n00004258": "living thing", "n00004475": "organism",
            "n00021939": "artifact", "n03575240": "instrumentality", "n03183080": "device",
            "n03094503": "container", "n03122748": "covering", "n04341686": "structure",
            "n03294048": "equipment", "n00020827": "matter", "n00019613": "substance"}


def test_every_imagenet_class_is_in_the_hypernym_table_with_a_chain_to_entity():
    taxonomy = default_taxonomy()
    for label in imagenet_labels():
        assert "n00001740" in taxonomy.ancestors(label.wnid), label.name


def test_tiger_cat_chain_follows_wordnet():
    names = synset_names()
    tiger_cat = imagenet_prediction("tiger cat").wnid
    ancestors = {names[w] for w in default_taxonomy().ancestors(tiger_cat)}
    assert {"domestic cat", "cat", "feline", "carnivore", "placental", "mammal", "vertebrate",
            "animal", "organism", "entity"} <= ancestors


def test_curated_categories_name_no_abstract_synset_and_nest_properly():
    taxonomy = default_taxonomy()
    listed = {s for c in taxonomy.categories.values() for s in c.synsets}
    assert not listed & set(ABSTRACT)
    names = synset_names()
    for category in taxonomy.categories.values():
        assert category.classes, f"{category.name} holds no ImageNet class"
        assert all(s in names for s in category.synsets)
        if len(category.path) > 1:
            parent = taxonomy.categories[category.path[-2]]
            assert category.classes <= parent.classes, category.name
    assert taxonomy.categories["cat"].path == ("animal", "mammal", "cat")
    assert taxonomy.categories["coffee"].path == ("food", "drink", "coffee")


def test_category_probability_is_the_sum_of_its_classes():
    top = predictions(("Egyptian cat", 0.373), ("tiger cat", 0.371), ("tabby", 0.173),
               ("window screen", 0.01))
    match = roll_up(top, default_taxonomy())
    assert match is not None
    assert match.label == "cat"
    assert match.probability == pytest.approx(0.917)
    assert match.path == ("animal", "mammal", "cat")
    assert [p.label for p in match.leaves] == ["Egyptian cat", "tiger cat", "tabby"]


def test_a_tie_between_categories_falls_back_to_their_common_parent():
    top = predictions(("beagle", 0.40), ("tabby", 0.38), ("tench", 0.05))
    match = roll_up(top, default_taxonomy())
    assert match is not None and match.label == "mammal"


def test_no_category_when_nothing_clears_the_threshold():
    assert roll_up(predictions(("tabby", 0.2), ("window screen", 0.15)), default_taxonomy()) is None
    assert roll_up(predictions(("window screen", 0.9)), default_taxonomy()) is None


def test_custom_labels_have_no_category_and_still_get_keywords():
    top = (Prediction(0, "my dog Rex", 0.9), Prediction(1, "garden", 0.1))
    policy = KeywordPolicy(0.2)
    assert policy.category(top) is None
    keywords = policy.keywords(top)
    assert keywords.flat == ("my dog Rex",)
    assert keywords.paths == (("my dog Rex",),)


def test_issue_vocabulary_renames_blocks_and_thresholds():
    vocabulary = parse_vocabulary(json.dumps(ISSUE_VOCABULARY).encode(), "vocab.json")
    policy = KeywordPolicy(0.01, vocabulary)
    keywords = policy.keywords(predictions(("tiger cat", 0.4), ("Egyptian cat", 0.37),
                                    ("tabby", 0.16), ("window screen", 0.03)))
    assert keywords.flat == ("cat", "tabby")
    assert "window screen" not in keywords.flat
    assert ("animal", "mammal", "cat") in keywords.paths
    assert ("animal", "mammal", "cat", "tabby") in keywords.paths
    coffee = policy.keywords(predictions(("espresso", 0.45), ("cup", 0.3)))
    assert "espresso" not in coffee.flat and "cup" in coffee.flat
    assert len(vocabulary.sha256) == 64


def test_levels_choose_category_or_labels():
    top = predictions(("tiger cat", 0.5), ("tabby", 0.4))
    only_category = parse_vocabulary(b'{"levels": ["category"]}')
    only_labels = parse_vocabulary(b'{"levels": ["label"]}')
    assert KeywordPolicy(0.2, only_category).keywords(top).flat == ("cat",)
    assert KeywordPolicy(0.2, only_labels).keywords(top).flat == ("tiger cat", "tabby")


def test_a_blocked_category_gives_way_to_its_parent_and_renames_reach_the_path():
    vocabulary = parse_vocabulary(b'{"block": ["cat"], "rename": {"mammal": "Mammals"}}')
    match = KeywordPolicy(0.2, vocabulary).category(predictions(("tiger cat", 0.9)))
    assert match is not None and match.label == "Mammals"
    assert match.path == ("animal", "Mammals")


@pytest.mark.parametrize(("text", "problem"), [
    (b"{", "is not valid JSON"),
    (b"[]", "must be a JSON object"),
    (b'{"renames": {}}', "unknown key 'renames'"),
    (b'{"rename": {"tabby": ""}}', '"rename" must map'),
    (b'{"block": "window screen"}', '"block" must be a list'),
    (b'{"min_probability": {"espresso": 1.5}}', "'espresso' is 1.5"),
    (b'{"min_probability": {"espresso": true}}', "'espresso' is True"),
    (b'{"levels": ["category", "leaf"]}', '"levels" must be'),
    (b'{"levels": []}', '"levels" must be'),
    (b"\xff\xfe", "is not UTF-8"),
])
def test_bad_vocabularies_get_one_line_naming_the_problem(text, problem):
    with pytest.raises(VocabularyError) as caught:
        parse_vocabulary(text, "vocab.json")
    message = str(caught.value)
    assert message.startswith("vocab.json: ") and problem in message and "\n" not in message


def test_unknown_class_names_are_refused_with_a_suggestion():
    vocabulary = parse_vocabulary(b'{"block": ["tigr cat"]}', "vocab.json")
    policy = KeywordPolicy(0.2, vocabulary)
    with pytest.raises(VocabularyError, match=r"'tigr cat' is not a class.*'tiger cat'"):
        vocabulary.check_names(policy.known_names([label.name for label in imagenet_labels()]))
    parse_vocabulary(b'{"block": ["cat"]}').check_names(policy.known_names([]))


def test_vocabulary_files_that_are_not_regular_files_are_refused(tmp_path: Path):
    with pytest.raises(VocabularyError, match="no such file"):
        load_vocabulary(tmp_path / "missing.json")
    with pytest.raises(VocabularyError, match="folder"):
        load_vocabulary(tmp_path)
    fifo = tmp_path / "vocab.json"
    if hasattr(os, "mkfifo"):
        os.mkfifo(fifo)
        with pytest.raises(VocabularyError, match="FIFO"):
            load_vocabulary(fifo)


def test_shipped_resources_carry_provenance_and_the_wordnet_licence():
    table = json.loads(resource_path("wordnet_hypernyms.json").read_text(encoding="utf-8"))
    assert "WordNet 3.0" in table["provenance"]["source"]
    assert "scripts/derive_wordnet_hypernyms.py" in table["provenance"]["command"]
    licence = resource_path("WordNet-LICENSE.txt").read_text(encoding="utf-8")
    assert "WordNet 3.0 Copyright 2006 by Princeton University" in licence


def test_real_model_rolls_chelsea_up_to_cat_and_coffee_to_a_drink(shared_model, photos):
    from resnet_desktop.core.engine import Engine

    engine = Engine()
    classifier = engine.load(shared_model)
    policy = KeywordPolicy(0.2)
    chelsea = policy.category(engine.classify_file(classifier, photos["chelsea"]).top)
    assert chelsea is not None and chelsea.label == "cat" and chelsea.probability >= 0.85
    coffee = policy.category(engine.classify_file(classifier, photos["coffee"]).top)
    assert coffee is not None and "drink" in coffee.path
    assert coffee.probability >= MIN_TOP1


def test_the_user_vocabulary_saves_and_loads_back_with_its_sha256():
    from resnet_desktop.core.keywords.vocabulary import (
        DEFAULT_VOCABULARY,
        load_user_vocabulary,
        save_vocabulary,
        user_vocabulary_path,
    )

    assert load_user_vocabulary() is DEFAULT_VOCABULARY
    original = parse_vocabulary(json.dumps(ISSUE_VOCABULARY).encode())
    saved = save_vocabulary(original)
    assert user_vocabulary_path().is_file()
    loaded = load_user_vocabulary()
    assert (loaded.rename, loaded.block, loaded.min_probability, loaded.levels) == (
        original.rename, original.block, original.min_probability, original.levels)
    assert loaded.sha256 == saved.sha256 == hashlib.sha256(
        user_vocabulary_path().read_bytes()).hexdigest()
