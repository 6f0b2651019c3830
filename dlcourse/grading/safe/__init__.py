"""Student-derived data made safe for where it goes: a terminal, a CSV cell, an HTML page.

Everything that comes out of a submission is hostile: markdown and raw cells, metadata,
outputs (the kernel runs student code, so any output can be forged), exception names and
messages, file names. This module is the one place that makes such data safe:

- :func:`console_text` makes one printable line: no terminal escapes, no control or
  bidirectional characters, no line breaks, and a length cap at a word boundary;
- :func:`csv_cell` also neutralises spreadsheet formulas;
- :func:`sanitize_notebook` leaves a notebook that nbconvert's HTML templates (lab,
  classic, and nbgrader's formgrader and feedback templates built on them) render without
  running a script or loading anything from elsewhere;
- :func:`plain_markdown` turns text into markdown that renders exactly that text;
- :func:`strip_hidden_echo` and :func:`repeats_hidden` find hidden test code that a
  message repeats.

nbconvert's own ``SanitizeHTML`` preprocessor is not enough for the notebook: it runs
bleach over markdown *source*, which knows nothing of markdown (``[x](javascript:...)``
links, images from other sites and mermaid blocks, which nbconvert emits unescaped, pass;
``$a<b$`` and ``a<b`` in code become ``&lt;`` and then render as ``&amp;lt;``), and it
leaves output metadata alone (an image's ``width`` is written into an unquoted attribute,
``filenames`` into ``src``), as well as execution counts, attachments and raw cells of
other formats. So markdown is checked here with nbconvert's own markdown parser, and
outputs are rebuilt from an allowlist.
"""

from dlcourse.grading.safe.hidden import repeats_hidden, strip_hidden_echo
from dlcourse.grading.safe.markdown import literal_markdown, plain_markdown, safe_markdown
from dlcourse.grading.safe.notebook import sanitize_notebook
from dlcourse.grading.safe.text import console_text, csv_cell

__all__ = ["console_text", "csv_cell", "literal_markdown", "plain_markdown", "repeats_hidden", "safe_markdown",
           "sanitize_notebook", "strip_hidden_echo"]
