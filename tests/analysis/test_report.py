"""The report: plots/*.png and one self-contained report.html, checked in a real browser.

The page must open from disk with no network: every plot is a `data:` URI, there is no script,
stylesheet, font or image from elsewhere. Headless Chromium (tests/browser.py) loads it: the
summary table and every image must render with a real size, and a screenshot must not be blank.
Without a browser the browser test is skipped with the reason printed (pytest -ra).
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageStat

import sim
from sim.analysis.plots import PLOTS
from sim.analysis.report import write_report
from tests.browser import NO_BROWSER, assert_report_renders, find_browser, screenshot


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


@pytest.mark.slow
def test_the_report_renders_in_headless_chromium(report_dir: Path, tmp_path: Path) -> None:
    browser = find_browser()
    if browser is None:
        pytest.skip(NO_BROWSER)
    assert_report_renders(browser, report_dir / "report.html", tmp_path, expected_images=len(PLOTS))
    shot = screenshot(browser, report_dir / "report.html", tmp_path, (1200, 3000))
    with Image.open(shot) as image:
        grey = image.convert("L")
        assert grey.size == (1200, 3000)
        low, high = grey.getextrema()
        assert high - low > 200  # dark text on a light page
        assert ImageStat.Stat(grey).stddev[0] > 20  # not a blank page
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 100  # plots' colours
