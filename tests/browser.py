"""Headless Chromium for the report tests: load a page from disk, measure what rendered.

Debian's `chromium` (`.ci/run` installs it as root when it can), started with no sandbox, no GPU,
no background networking, no component updates, no sync and a fresh profile per launch, so a
test never touches the network or a user's browser. `probe` loads a copy of a page with a small
script added that writes, once the page has loaded, the rendered size of every image and of the
summary table into the DOM; `--dump-dom` returns it. `screenshot` takes a PNG of the page.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

NO_BROWSER = "no Chromium on this machine (.ci/run installs Debian's chromium when run as root)"

PROBE = """<script>
window.addEventListener("load", () => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
  const summary = document.getElementById("summary");
  const out = {
    images: [...document.images].map((i) => [i.alt, i.complete, i.naturalWidth, ...box(i)]),
    summary: [...box(summary), summary.querySelectorAll("tbody tr").length],
  };
  const pre = document.createElement("pre");
  pre.id = "kafka-sim-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def find_browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=dict(os.environ))


def probe(browser: str, page: Path, work: Path) -> dict[str, Any]:
    """{"images": [[alt, complete, naturalWidth, width, height], ...], "summary": [width,
    height, rows]} as rendered by the browser."""
    work.mkdir(parents=True, exist_ok=True)
    probed = work / f"probed-{page.parent.name}.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    proc = _chromium(
        browser,
        work / "profile-probe",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probed.as_uri(),
    )
    match = re.search(r'<pre id="kafka-sim-probe">(.*?)</pre>', proc.stdout, re.S)
    assert match is not None, f"no probe output from {browser}: {proc.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return result


def assert_report_renders(browser: str, page: Path, work: Path, expected_images: int) -> None:
    """The summary table and every plot of `page` rendered with a real size."""
    sizes = probe(browser, page, work)
    width, height, rows = sizes["summary"]
    assert width > 100 and height > 100 and rows >= 22, sizes["summary"]
    assert len(sizes["images"]) == expected_images
    for alt, complete, natural_width, shown_width, shown_height in sizes["images"]:
        assert complete and natural_width >= 800, alt
        assert shown_width > 300 and shown_height > 100, alt


def screenshot(browser: str, page: Path, work: Path, size: tuple[int, int]) -> Path:
    shot = work / "shot.png"
    proc = _chromium(
        browser,
        work / "profile-shot",
        f"--window-size={size[0]},{size[1]}",
        f"--screenshot={shot}",
        page.as_uri(),
    )
    assert shot.exists(), proc.stderr[-2000:]
    return shot
