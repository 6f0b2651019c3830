"""Load the built site in headless Chromium and check what a reader sees (used by the tests; also
``python -m dlcourse.site.browser SITE``).

Each page is opened over HTTP from a local server, through the Chrome DevTools Protocol (a websocket that
tornado, already installed with Jupyter, speaks). A page passes when:

* nothing went wrong in the browser: no console error, no uncaught exception, no failed or 4xx/5xx request;
* nothing was requested from another host (the site works offline: MathJax, search and styles are local);
* every image loaded (the figures of the committed outputs), and MathJax rendered every formula without
  an error.

``check_site`` returns one :class:`PageCheck` per page; ``search`` runs a query on the site's search page.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

__all__ = ["PageCheck", "check_site", "find_chromium"]

#: JavaScript run after the load: wait for MathJax 3's start-up typesetting, then report images and math.
_INSPECT = r"""
new Promise(resolve => {
  const report = () => {
    const imgs = [...document.querySelectorAll('main img, article img, .bd-article img')];
    const maths = [...document.querySelectorAll('span.math, div.math')];
    resolve(JSON.stringify({
      title: document.title,
      images: imgs.length,
      broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => (i.getAttribute('src') || '').slice(0, 80)),
      math: maths.length,
      rendered: maths.filter(e => e.querySelector('mjx-container')).length,
      raw: maths.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80)),
      math_errors: [...document.querySelectorAll('mjx-merror')].map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 160)),
      launch: [...document.querySelectorAll('a.dl-launch-lab, a.dl-launch-binder')].map(a => a.href),
      details: document.querySelectorAll('details').length,
      widgets: document.querySelectorAll('.dl-widget-static').length,
      search_box: document.querySelectorAll('input[name="q"]').length,
    }));
  };
  // MathJax 3 typesets after its start-up promise
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => setTimeout(report, 50), report);
  } else { setTimeout(report, 500); }
})
"""


@dataclass
class PageCheck:
    page: str
    title: str = ""
    images: int = 0
    broken_images: list[str] = field(default_factory=list)
    math: int = 0
    math_rendered: int = 0
    math_raw: list[str] = field(default_factory=list)
    math_errors: list[str] = field(default_factory=list)
    launch_links: list[str] = field(default_factory=list)
    details: int = 0
    widgets: int = 0
    search_box: int = 0
    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        found = [f"console: {e}" for e in self.console_errors]
        found += [f"requested from another host (the site must work offline): {u}" for u in self.external_requests]
        found += [f"image did not load: {s}" for s in self.broken_images]
        found += [f"formula not rendered (raw TeX): {t}" for t in self.math_raw]
        if self.math_errors:
            found += [f"formula rendered as a MathJax error: {e}" for e in self.math_errors]
        return found


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable on PATH, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: D102 - silence the access log
        pass


@contextmanager
def _serve(folder: Path):
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def _chromium(executable: str):
    profile = tempfile.mkdtemp(prefix="dlcourse-chromium-")
    proc = subprocess.Popen([executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--disable-extensions", "--disable-background-networking", "--disable-sync",
                             "--disable-component-update", "--disable-default-apps", "--mute-audio",
                             "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1280,1600",
                             "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        endpoint = None
        for line in proc.stderr:
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                endpoint = match.group(1)
                break
        if endpoint is None:
            raise RuntimeError(f"{executable} did not start its DevTools endpoint (exit {proc.poll()})")
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # keep the pipe drained
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


class _DevTools:
    """A minimal Chrome DevTools Protocol client: commands with replies, events collected per session."""

    def __init__(self, connection):
        self.connection, self.next_id, self.replies, self.events = connection, 0, {}, []

    async def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        await self.connection.write_message(json.dumps(message))
        wanted = self.next_id
        await self._read_until(lambda: wanted in self.replies, timeout, f"no reply to {method}")
        reply = self.replies.pop(wanted)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def wait_event(self, method: str, session: str, timeout: float = 60) -> None:
        await self._read_until(
            lambda: any(e.get("method") == method and e.get("sessionId") == session for e in self.events),
            timeout, f"{method} did not happen")

    async def _read_until(self, done, timeout: float, what: str) -> None:
        """Read messages (replies by id, events in order) until ``done()``; TimeoutError after ``timeout`` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done():
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"{what} within {timeout} s")
            raw = await asyncio.wait_for(self.connection.read_message(), left)
            if raw is None:
                raise RuntimeError("the browser closed the DevTools connection")
            data = json.loads(raw)
            if "id" in data:
                self.replies[data["id"]] = data
            else:
                self.events.append(data)


def _problems_from(events: list[dict], session: str, base: str) -> tuple[list[str], list[str]]:
    errors, external = [], []
    base_host = urlparse(base).netloc
    for event in events:
        if event.get("sessionId") != session:
            continue
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append((details.get("exception", {}).get("description") or details.get("text", "exception"))[:300])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))[:300])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"{entry.get('text', '')} {entry.get('url', '')}".strip()[:300])
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if url.startswith(("http:", "https:", "ws:", "wss:")) and urlparse(url).netloc != base_host:
                external.append(url[:200])
        elif method == "Network.responseReceived":
            response = params.get("response", {})
            if response.get("status", 200) >= 400:
                errors.append(f"HTTP {response.get('status')} for {response.get('url', '')[:200]}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            errors.append(f"request failed: {params.get('errorText', '')}")
    return errors, external


async def _check(endpoint: str, base: str, pages: list[str], screenshot: tuple[str, Path] | None,
                 search: str | None) -> tuple[list[PageCheck], int | None]:
    from tornado.websocket import websocket_connect

    connection = await websocket_connect(endpoint, max_message_size=64 * 2**20)
    tools = _DevTools(connection)
    results, hits = [], None
    try:
        for page in pages + ([f"search.html?q={search}"] if search else []):
            target = (await tools.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
            session = (await tools.send("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                await tools.send(f"{domain}.enable", session=session)
            await tools.send("Page.navigate", {"url": f"{base}/{page}"}, session=session)
            await tools.wait_event("Page.loadEventFired", session)
            value = (await tools.send("Runtime.evaluate", {"expression": _INSPECT, "awaitPromise": True,
                                                           "returnByValue": True}, session=session))
            data = json.loads(value.get("result", {}).get("value") or "{}")
            if search and page.startswith("search.html"):
                count = """new Promise(r => { let n = 0; const t = setInterval(() => {
                    const k = document.querySelectorAll('#search-results li').length;
                    if (k > 0 || ++n > 100) { clearInterval(t); r(k); } }, 100); })"""
                hits = (await tools.send("Runtime.evaluate", {"expression": count, "awaitPromise": True,
                                                              "returnByValue": True}, session=session))["result"]["value"]
            else:
                errors, external = _problems_from(tools.events, session, base)
                results.append(PageCheck(
                    page=page, title=data.get("title", ""), images=data.get("images", 0),
                    broken_images=data.get("broken", []), math=data.get("math", 0),
                    math_rendered=data.get("rendered", 0), math_raw=data.get("raw", []),
                    math_errors=data.get("math_errors", []), launch_links=data.get("launch", []),
                    details=data.get("details", 0), widgets=data.get("widgets", 0),
                    search_box=data.get("search_box", 0), console_errors=errors, external_requests=external))
                if screenshot and screenshot[0] == page:
                    shot = await tools.send("Page.captureScreenshot", {"format": "png"}, session=session)
                    screenshot[1].parent.mkdir(parents=True, exist_ok=True)
                    screenshot[1].write_bytes(base64.b64decode(shot["data"]))
            await tools.send("Target.closeTarget", {"targetId": target})
            tools.events = [e for e in tools.events if e.get("sessionId") != session]
    finally:
        connection.close()
    return results, hits


def check_site(site: Path, pages: list[str] | None = None, *, screenshot: tuple[str, Path] | None = None,
               search: str | None = None, chromium: str | None = None) -> tuple[list[PageCheck], int | None]:
    """Open ``pages`` (HTML paths relative to ``site``; default: every page listed in ``pages.json`` and the
    home page) in headless Chromium. ``screenshot=(page, path)`` saves a PNG of that page; ``search`` runs
    that query on the search page and returns the number of results as the second value."""
    site = Path(site)
    executable = chromium or find_chromium()
    if executable is None:
        raise RuntimeError("Chromium is not installed (Debian: apt-get install chromium; make site-check does it as root)")
    if pages is None:
        pages = ["index.html"] + [p["page"] for p in json.loads((site / "pages.json").read_text())]
    with _serve(site) as base, _chromium(executable) as endpoint:
        return asyncio.run(_check(endpoint, base, pages, screenshot, search))


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m dlcourse.site.browser",
                                     description="Open every page of a built site in headless Chromium and report problems.")
    parser.add_argument("site", nargs="?", default="site")
    parser.add_argument("--screenshot", default=None, help="save a PNG of the first lecture page here")
    args = parser.parse_args(argv)
    site = Path(args.site)
    pages = ["index.html"] + [p["page"] for p in json.loads((site / "pages.json").read_text())]
    shot = (pages[1], Path(args.screenshot)) if args.screenshot and len(pages) > 1 else None
    checks, hits = check_site(site, pages, screenshot=shot, search="gradient")
    bad = 0
    for c in checks:
        status = "ok" if not c.problems else "PROBLEMS"
        bad += bool(c.problems)
        print(f"{status:8s} {c.page}: {c.images} image(s), {c.math_rendered}/{c.math} formula(s) rendered, "
              f"{c.widgets} explorer(s), {c.details} answer(s)")
        for p in c.problems:
            print(f"         {p}".encode("utf-8", "replace").decode("utf-8"))
    print(f"search 'gradient': {hits} result(s); {len(checks) - bad}/{len(checks)} page(s) without problems")
    return 1 if bad or not hits else 0


if __name__ == "__main__":
    raise SystemExit(main())
