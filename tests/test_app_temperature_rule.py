"""The temperature rule beside the temperature: the person's choice reaches every model call and is remembered."""

from __future__ import annotations

import numpy as np

from desktop._testsupport import loaded_window, make_window, sketchgen_home  # noqa: F401  (fixtures)

MODEL_TIMEOUT_MS = 60000


def test_the_rule_defaults_to_the_demos_and_is_remembered(make_window):
    window = make_window(start=False)
    control = window.temperature
    assert control.rule_value() == "js" and control.rule.currentText() == "demos"
    seen = []
    control.ruleChanged.connect(seen.append)
    control.rule.setCurrentIndex(control.rule.findData("paper"))  # as the person picks it in the toolbar
    assert seen == ["paper"]
    window.close()
    second = make_window(start=False)
    assert second.temperature.rule_value() == "paper"
    second.settings._qs.setValue("model/temperature_rule", "fastest")  # a stale or hand-edited value
    assert second.settings.temperature_rule() == "js"


def test_the_rule_reaches_the_model(make_window, qtbot):
    """A sample drawn after choosing the paper's rule is exactly what the engine draws under that rule for the
    recorded seed (and not what the demos' rule draws); a model loaded later gets the choice too."""
    window = loaded_window(make_window, qtbot)
    window.temperature.set_value(0.3)
    window.temperature.set_rule("paper")
    model = window.model
    assert model.temperature_rule == "paper"
    window.sample_action.trigger()
    qtbot.waitUntil(lambda: window.undo_stack.undoText() == "Random sample" or bool(window.errors),
                    timeout=MODEL_TIMEOUT_MS)
    assert not window.errors
    sampled = window.draw_view.last_call["sample"]
    np.testing.assert_allclose(window.document.to_stroke3(), model.sample(0.3, sampled["seed"]), atol=1e-3)
    model.temperature_rule = "js"
    js = model.sample(0.3, sampled["seed"])
    assert js.shape != window.document.to_stroke3().shape or not np.allclose(js, window.document.to_stroke3())
    window.models._set_model(model)  # as after loading a model: it takes the setting
    assert model.temperature_rule == "paper"
