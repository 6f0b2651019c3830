"""Saved widget state as static HTML, for pages that are read without a kernel or a widget manager.

A lecture executed with its widget state saved holds, in the notebook's metadata, the state of every widget
it displayed: the controls' values and ranges, and the outputs an ``Output`` widget had captured (the first
figure of an explorer). :func:`render_widget` turns a displayed widget into plain HTML from that state:
boxes as flex rows/columns, sliders, dropdowns, checkboxes and buttons as *disabled* form elements showing
their saved values, output areas as their saved outputs (images, text, HTML). The page then shows the
explorer exactly as it was saved, needs no JavaScript and loads nothing from the network; moving the
controls needs the notebook (the page says so).
"""

from __future__ import annotations

import html
from collections.abc import Mapping

__all__ = ["WIDGET_STATE", "WIDGET_VIEW", "render_widget", "saved_widget_state", "staticize_widgets"]

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
REF = "IPY_MODEL_"

_SLIDERS = {"FloatSliderModel", "IntSliderModel", "FloatLogSliderModel", "FloatRangeSliderModel",
            "IntRangeSliderModel", "SelectionSliderModel", "SelectionRangeSliderModel"}
_CHOICES = {"DropdownModel", "SelectModel", "RadioButtonsModel", "ToggleButtonsModel"}
_BOXES = {"HBoxModel": "row", "VBoxModel": "column", "BoxModel": "row", "GridBoxModel": "row"}


def saved_widget_state(metadata: Mapping) -> dict:
    """The ``model_id -> {"model_name", "state", ...}`` map a notebook saved (empty when it saved none)."""
    state = (metadata.get("widgets") or {}).get(WIDGET_STATE) or {}
    models = state.get("state") if isinstance(state, Mapping) else None
    return dict(models) if isinstance(models, Mapping) else {}


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _label(state: Mapping) -> str:
    text = state.get("description") or ""
    return f'<span class="dl-widget-label">{_esc(text)}</span>' if text else ""


def _readout(state: Mapping, value) -> str:
    fmt = state.get("readout_format") or ""
    try:
        shown = format(value, fmt) if fmt else value
    except (TypeError, ValueError):
        shown = value
    return f'<span class="dl-widget-readout">{_esc(shown)}</span>'


def _output_html(output: Mapping) -> str:
    data = output.get("data") or {}
    if output.get("output_type") == "stream":
        return f"<pre>{_esc(output.get('text', ''))}</pre>"
    if "image/png" in data:
        return f'<img alt="saved figure" src="data:image/png;base64,{_esc("".join(data["image/png"]).strip())}"/>'
    if "image/svg+xml" in data:
        return "".join(data["image/svg+xml"])
    if "text/html" in data:
        return "".join(data["text/html"])
    if "text/plain" in data:
        return f"<pre>{_esc(''.join(data['text/plain']))}</pre>"
    return ""


def render_widget(model_id: str, models: Mapping, _seen: frozenset = frozenset()) -> str:
    """HTML for the widget ``model_id`` and its children, from the saved ``models`` (see module docstring).

    A model that is missing or that refers back to itself renders as nothing rather than failing: a page
    must build from whatever a notebook saved.
    """
    model = models.get(model_id)
    if not isinstance(model, Mapping) or model_id in _seen:
        return ""
    seen = _seen | {model_id}
    name = model.get("model_name", "")
    state = model.get("state") or {}
    if name in _BOXES:
        children = [c[len(REF):] for c in state.get("children", []) if isinstance(c, str) and c.startswith(REF)]
        inner = "".join(render_widget(c, models, seen) for c in children)
        return f'<div class="dl-widget-box" style="display:flex;flex-direction:{_BOXES[name]};gap:0.2em 1.5em;flex-wrap:wrap">{inner}</div>'
    if name == "OutputModel":
        return '<div class="dl-widget-output">' + "".join(_output_html(o) for o in state.get("outputs", [])) + "</div>"
    if name in _SLIDERS:
        value = state.get("value")
        if name.startswith("Selection"):
            options = state.get("_options_labels") or []
            index = state.get("index", 0)
            value = options[index] if isinstance(index, int) and 0 <= index < len(options) else ""
            return f'<label class="dl-widget">{_label(state)} <input type="range" disabled/> {_readout(state, value)}</label>'
        if isinstance(value, list):  # range sliders
            shown = " – ".join(str(v) for v in value)
            return f'<label class="dl-widget">{_label(state)} <input type="range" disabled/> {_esc(shown)}</label>'
        low, high, step = state.get("min", 0), state.get("max", 100), state.get("step", 1)
        shown = 10 ** value * 1.0 if name == "FloatLogSliderModel" and isinstance(value, (int, float)) else value
        return (f'<label class="dl-widget">{_label(state)} <input type="range" disabled min="{_esc(low)}" '
                f'max="{_esc(high)}" step="{_esc(step)}" value="{_esc(value)}"/> {_readout(state, shown)}</label>')
    if name in _CHOICES:
        options = state.get("_options_labels") or []
        index = state.get("index")
        items = "".join(f'<option{" selected" if i == index else ""}>{_esc(o)}</option>' for i, o in enumerate(options))
        return f'<label class="dl-widget">{_label(state)} <select disabled>{items}</select></label>'
    if name in ("CheckboxModel", "ToggleButtonModel"):
        checked = " checked" if state.get("value") else ""
        return f'<label class="dl-widget"><input type="checkbox" disabled{checked}/> {_esc(state.get("description", ""))}</label>'
    if name == "ButtonModel":
        return f'<button disabled>{_esc(state.get("description", ""))}</button>'
    if name in ("HTMLModel", "HTMLMathModel"):
        return f'<div class="dl-widget">{state.get("value", "")}</div>'
    if name in ("LabelModel", "TextModel", "IntTextModel", "FloatTextModel", "BoundedIntTextModel",
                "BoundedFloatTextModel"):
        return f'<label class="dl-widget">{_label(state)} <span>{_esc(state.get("value", ""))}</span></label>'
    return ""


NOTE = ('<p class="dl-widget-note"><em>Interactive in the notebook: these controls show their saved values; '
        "open the notebook in JupyterLab to move them.</em></p>")


def staticize_widgets(nb) -> int:
    """Replace, in ``nb`` (an nbformat notebook, changed in place), every displayed widget by static HTML of
    its saved state, and drop the saved state from the metadata (nothing is left for a widget manager to
    load). Returns how many widget outputs were replaced; one without saved state becomes a short note."""
    models = saved_widget_state(nb.metadata)
    replaced = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data") or {}
            view = data.get(WIDGET_VIEW)
            if not view:
                continue
            model_id = view.get("model_id", "") if isinstance(view, Mapping) else ""
            body = render_widget(model_id, models)
            if not body:
                body = "<p><em>An interactive widget: run the notebook to see it.</em></p>"
            output["data"] = {"text/html": f'<div class="dl-widget-static">{body}{NOTE if body else ""}</div>'}
            replaced += 1
    nb.metadata.pop("widgets", None)
    return replaced
