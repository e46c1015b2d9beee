"""The report: plots/*.png and one self-contained report.html, checked in a real browser.

The page must open from disk with no network: every plot is a `data:` URI, there is no script,
stylesheet, font or image from elsewhere. Headless Chromium (Debian's `chromium`; `.ci/run`
installs it when it can) loads a copy of the page with a small probe script added, and reports
the size at which the summary table and every image rendered; a screenshot must not be blank.
Without a browser the browser test is skipped with the reason printed (pytest -ra).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageStat

import sim
from sim.analysis.plots import PLOTS
from sim.analysis.report import write_report

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


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory, short_run_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("report") / short_run_dir.name
    shutil.copytree(short_run_dir, folder)
    written = write_report(folder)
    assert written[-1] == folder / "report.html"
    return folder


def test_plots_and_page_are_written(report_dir: Path) -> None:
    assert sorted(p.stem for p in (report_dir / "plots").glob("*.png")) == sorted(PLOTS)
    for png in (report_dir / "plots").glob("*.png"):
        with Image.open(png) as image:
            assert image.width >= 800 and image.height >= 250, png.name


def test_the_page_is_self_contained_and_complete(report_dir: Path) -> None:
    page = (report_dir / "report.html").read_text()
    result = sim.load_result(report_dir)
    # Nothing from elsewhere: no script, no link, no http(s) resource, every image inline.
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", page)
    sources = re.findall(r"<img src='([^']*)'", page)
    assert len(sources) == len(PLOTS)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    for name in PLOTS:
        assert f"id='plot-{name}'" in page
    # The summary table lists every key of summary.json with its value.
    summary = page[page.index("<table class='summary'") :]
    summary = summary[: summary.index("</table>")]
    for key in result.summary:
        assert f"<td>{html.escape(key)}</td>" in summary, key
    assert "OK; expect: 3/3 held" in page
    assert "<table class='expectations'" in page
    # The events timeline and the effective scenario.
    assert "<table class='events'" in page and "broker_started" in page
    config = (report_dir / "config.yaml").read_text()
    assert html.escape(config) in page


def test_report_of_a_result_in_memory_needs_a_folder(hello_kafka: Path, tmp_path: Path) -> None:
    result = sim.run(sim.load_scenario(hello_kafka, {"duration": "1s", "drain": "0s"}))
    with pytest.raises(ValueError, match="needs out_dir"):
        write_report(result)
    written = write_report(result, tmp_path / "r")
    assert written[-1].read_text().count("data:image/png;base64,") == len(PLOTS)
    assert "duration: 1000.0" in written[-1].read_text()


def _browser() -> str | None:
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
    return subprocess.run(argv, capture_output=True, text=True, timeout=240, env=dict(os.environ))


@pytest.mark.slow
def test_the_report_renders_in_headless_chromium(report_dir: Path, tmp_path: Path) -> None:
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium on this machine (.ci/run installs Debian's chromium as root)")
    page = (report_dir / "report.html").read_text()
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"))
    dom = _chromium(
        browser,
        tmp_path / "profile-1",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probed.as_uri(),
    )
    match = re.search(r'<pre id="kafka-sim-probe">(.*?)</pre>', dom.stdout, re.S)
    assert match is not None, dom.stderr[-2000:]
    sizes = json.loads(html.unescape(match.group(1)))
    width, height, rows = sizes["summary"]
    assert width > 100 and height > 100 and rows >= 22
    assert len(sizes["images"]) == len(PLOTS)
    for alt, complete, natural_width, shown_width, shown_height in sizes["images"]:
        assert complete and natural_width >= 800, alt
        assert shown_width > 300 and shown_height > 100, alt

    shot = tmp_path / "shot.png"
    proc = _chromium(
        browser,
        tmp_path / "profile-2",
        "--window-size=1200,3000",
        f"--screenshot={shot}",
        (report_dir / "report.html").as_uri(),
    )
    assert shot.exists(), proc.stderr[-2000:]
    with Image.open(shot) as image:
        grey = image.convert("L")
        assert grey.size == (1200, 3000)
        low, high = grey.getextrema()
        assert high - low > 200  # dark text on a light page
        assert ImageStat.Stat(grey).stddev[0] > 20  # not a blank page
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 100  # plots' colours
