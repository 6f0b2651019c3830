# nbgrader configuration of the dlcourse course.
# Paths are relative to the folder this file is in (the course directory); nbgrader and
# `dlcourse release/grade` run with that folder as their working directory.
from dlcourse.grading.stderr_policy import IGNORED_STDERR, apply_to_validation

c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = "dlcourse"
c.CourseDirectory.source_directory = "solutions"     # instructor notebooks: solutions + hidden tests
c.CourseDirectory.release_directory = "assignments"  # student notebooks, generated and committed

# Files of an assignment's source folder that never reach students or grading kernels:
# probes.py holds the out-of-process checks (dlcourse.grading.probes).
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*", "probes.py"]

# What a student sees in place of a solution region.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Execution while autograding: training cells run for tens of seconds on a laptop CPU,
# so a cell may take up to 5 minutes before it is interrupted; `dlcourse grade` adds a
# wall-clock limit per student on top.
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
c.Execute.startup_timeout = 120

# Autograde with a kernel that is restarted after a crash or hang (the rest of the notebook
# is still graded), and with warnings on stderr ignored when scoring: nbgrader scores any
# stderr output of a test cell as a failure, and a RuntimeWarning is not a wrong answer.
c.Autograde.autograde_preprocessors = [
    # only `dlcourse grade` autogrades (sandbox, probes, copy detection): the formgrader's Autograde
    # button and a hand-run `nbgrader autograde` stop here with a message saying so
    "dlcourse.grading.guard.RequireDlcourseGrade",
    "dlcourse.grading.execute.ResilientExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = IGNORED_STDERR
# `nbgrader validate` has no IgnorePattern step of its own: apply the same rule there, so that it
# reports exactly the cells autograding scores 0 (dlcourse.grading.stderr_policy).
apply_to_validation(IGNORED_STDERR)

# The gradebook: sqlite in the course folder by default. When several graders share a
# course, point every grader at one PostgreSQL database instead (driver: psycopg, installed
# with dlcourse; see README, "A shared gradebook on PostgreSQL"), e.g.
# c.CourseDirectory.db_url = "postgresql://grader:secret@db.example.org/dlcourse"

# Keep feedback readable when a submission prints a flood of output.
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100

# Feedback never shows hidden tests: their code and tracebacks are removed. It says why the
# out-of-process probes withdrew a test's points, and a written answer nobody has graded yet
# reads "awaiting manual grading" (dlcourse's feedback template, an extension of nbgrader's).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "dlcourse.grading.feedback.HideHiddenTests",
    "dlcourse.grading.feedback_status.FeedbackStatus",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
from dlcourse.grading.feedback_status import TEMPLATE_FILE, TEMPLATE_NAME, template_dirs  # noqa: E402

c.HTMLExporter.template_name = TEMPLATE_NAME
c.HTMLExporter.template_file = TEMPLATE_FILE
c.HTMLExporter.extra_template_basedirs = template_dirs()
