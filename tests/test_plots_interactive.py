"""dlcourse.plots.figure_explorer: controls that redraw one figure, drawn once before the notebook is saved."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from dlcourse.plots import figure_explorer  # noqa: E402


def _controls():
    return dict(scale=widgets.FloatSlider(value=1.0, min=0.0, max=2.0),
                depth=widgets.IntSlider(value=3, min=1, max=10),
                activation=widgets.Dropdown(options=["tanh", "relu"], value="tanh"))


def test_draws_once_with_the_controls_values_and_again_on_every_change():
    calls = []
    controls = _controls()
    box = figure_explorer(lambda **values: calls.append(values), controls)
    assert calls == [{"scale": 1.0, "depth": 3, "activation": "tanh"}], f"first draw: {calls}"
    controls["depth"].value = 7
    controls["activation"].value = "relu"
    assert calls[1:] == [{"scale": 1.0, "depth": 7, "activation": "tanh"},
                         {"scale": 1.0, "depth": 7, "activation": "relu"}], f"redraws: {calls[1:]}"
    assert box.children[1] is box.output and isinstance(box.output, widgets.Output)
    shown = [w for column in box.children[0].children for w in column.children]
    assert shown == list(controls.values()), "every control is shown once, in order"


def test_layout_in_columns_and_no_draw_until_asked():
    calls = []
    box = figure_explorer(lambda **v: calls.append(v), _controls(), columns=3, draw_now=False)
    assert calls == [] and len(box.children[0].children) == 3
    box.redraw()
    assert len(calls) == 1


def test_a_returned_figure_is_closed_after_it_is_shown():
    def draw(scale, depth, activation):
        fig, ax = plt.subplots()
        ax.plot([0, depth], [0, scale], label=activation)
        return fig

    before = len(plt.get_fignums())
    figure_explorer(draw, _controls())
    assert len(plt.get_fignums()) == before, "the explorer leaked an open figure"


@pytest.mark.parametrize("kwargs, name", [
    (dict(draw=None, controls=_controls()), "draw"),
    (dict(draw=print, controls={}), "controls"),
    (dict(draw=print, controls={"x": 3}), "controls"),
    (dict(draw=print, controls=_controls(), columns=0), "columns"),
    (dict(draw=print, controls=_controls(), columns=True), "columns"),
])
def test_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        figure_explorer(**kwargs)
