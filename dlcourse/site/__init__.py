"""The course as a website: lectures and assignment releases as static HTML (Sphinx + myst-nb).

``python -m dlcourse.site [OUT]`` (or ``make site``) builds it; see :func:`build_site`.
"""

from dlcourse.site.build import (DEFAULT_BINDER_REPO, DEFAULT_LAB_URL, SiteError, SitePage, SiteReport, build_site,
                                 find_course_dir)

__all__ = ["DEFAULT_BINDER_REPO", "DEFAULT_LAB_URL", "SiteError", "SitePage", "SiteReport", "build_site",
           "find_course_dir"]
