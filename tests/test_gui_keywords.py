"""The window's keywords: the category headline, its chain, the vocabulary editor and store."""

from __future__ import annotations

import json

import pytest
from keyword_samples import predictions
from PySide6.QtCore import QPoint, Qt

from resnet_desktop.core.inference.results import Classification
from resnet_desktop.core.keywords.vocabulary import load_user_vocabulary, parse_vocabulary
from resnet_desktop.gui.keywords.vocabulary_editor import VocabularyEditor
from resnet_desktop.gui.keywords.vocabulary_store import VocabularyStore

pytestmark = pytest.mark.gui

CHELSEA = (("tiger cat", 0.383), ("Egyptian cat", 0.370), ("tabby", 0.161), ("lynx", 0.021),
           ("window screen", 0.001))


def test_the_headline_is_the_category_and_a_click_shows_its_chain(qtbot, chart):
    chart.set_result(Classification(None, "m", "cpu", 1.0, predictions(*CHELSEA)))
    assert chart.headline() == "Cat — 93.5%"
    assert chart.is_confident() and chart.labels()[0] == "tiger cat"
    assert not chart.chain_shown()
    qtbot.mouseClick(chart, Qt.MouseButton.LeftButton, pos=QPoint(40, 30))
    assert chart.chain_shown() and chart.category().path == ("animal", "mammal", "cat")
    chart.set_vocabulary(parse_vocabulary(b'{"rename": {"cat": "Katze"}}'))
    assert chart.headline() == "Katze — 93.5%"


def test_without_a_category_the_old_rule_holds(chart):
    chart.set_result(Classification(None, "m", "cpu", 1.0,
                                    predictions(("window screen", 0.4), ("tabby", 0.38))))
    assert chart.category() is None and chart.headline() == "No confident match"


def test_the_editor_saves_what_the_table_says_and_the_store_tells_everyone(qtbot):
    store = VocabularyStore()
    heard = []
    store.changed.connect(heard.append)
    store.load()
    editor = VocabularyEditor(store)
    qtbot.addWidget(editor)
    editor.search.setText("tiger c")
    assert editor.proxy.rowCount() == 1
    editor.set_entry("tiger cat", keyword="cat")
    editor.set_entry("window screen", block=True)
    editor.set_entry("espresso", minimum="50")
    editor.write_labels.setChecked(False)
    editor.save()
    assert editor.result() == editor.DialogCode.Accepted
    saved = load_user_vocabulary()
    assert saved.rename == {"tiger cat": "cat"} and saved.block == {"window screen"}
    assert saved.min_probability == {"espresso": 0.5} and saved.levels == ("category",)
    assert heard[-1].sha256 == saved.sha256


def test_the_editor_refuses_a_bad_threshold_and_stays_open(qtbot):
    store = VocabularyStore()
    editor = VocabularyEditor(store)
    qtbot.addWidget(editor)
    editor.set_entry("espresso", minimum="150")
    editor.save()
    assert "espresso: '150' is not a percentage" in editor.error.text()
    assert editor.result() != editor.DialogCode.Accepted


def test_a_broken_saved_vocabulary_leaves_the_default_and_says_why(tmp_path):
    from resnet_desktop.core.keywords.vocabulary import user_vocabulary_path

    user_vocabulary_path().parent.mkdir(parents=True, exist_ok=True)
    user_vocabulary_path().write_text(json.dumps({"levels": []}), encoding="utf-8")
    store = VocabularyStore()
    store.load()
    assert store.vocabulary.levels == ("category", "label")
    assert store.error is not None and '"levels" must be' in store.error
