# nbgrader settings for students: the Validate button and `make validate` run the notebook the
# way the grader does. JupyterLab finds this file through JUPYTER_CONFIG_PATH (see the Makefile).
from dlcourse.grading.stderr_policy import IGNORED_STDERR, apply_to_validation

c = get_config()  # noqa: F821 - provided by nbgrader

# Training cells run for tens of seconds on a laptop CPU: allow 5 minutes per cell, as grading does.
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
c.Execute.startup_timeout = 120

# A warning on stderr does not fail a test cell when graded (IgnorePattern); validation applies the
# same rule after every cell, so it reports exactly the cells the grader would score 0.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = IGNORED_STDERR
apply_to_validation(IGNORED_STDERR)
