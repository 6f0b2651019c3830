"""``python -m dlcourse.site [OUT]``: build the course website (see :mod:`dlcourse.site.build`)."""

from __future__ import annotations

import argparse
import sys

from dlcourse.site.build import DEFAULT_BINDER_REPO, DEFAULT_LAB_URL, SiteError, build_site


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlcourse.site",
                                     description="Build the course website (lectures with their outputs and the "
                                                 "assignments' release text) into OUT with Sphinx; nothing is executed.")
    parser.add_argument("out", nargs="?", default="site", help="the site folder, replaced (default: site)")
    parser.add_argument("--course-dir", default=None, help="the course folder (default: the nearest one with lectures/)")
    parser.add_argument("--binder-repo", default=DEFAULT_BINDER_REPO,
                        help=f"OWNER/NAME of the GitHub repository Binder launches (default: {DEFAULT_BINDER_REPO})")
    parser.add_argument("--lab-url", default=DEFAULT_LAB_URL, help=f"JupyterLab tree URL (default: {DEFAULT_LAB_URL})")
    parser.add_argument("--jobs", type=int, default=2, help="Sphinx processes (default: 2)")
    args = parser.parse_args(argv)
    try:
        report = build_site(args.out, args.course_dir, binder_repo=args.binder_repo, lab_url=args.lab_url,
                            jobs=args.jobs)
    except SiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
