"""The quick run's HTML reports as a reader's browser shows them: headless Chromium (the
system's, driven by Playwright). Without Chromium these tests skip, unless
``CHAINSIGHT_REQUIRE_BROWSER`` is set, as CI sets it after installing the browser."""

from __future__ import annotations

import os
import re
import shutil

import pytest

WIDTH = 1280  # the page may not scroll sideways at this width
PHONE = 390  # nor the index on a phone
RAW_TEXT = re.compile(r"Traceback \(most recent call last\)|\b[A-Z][a-z]+Warning\b")
CUSTOMER_ID = re.compile(r"\bC\d{7}\b")  # the synthetic retailer's customer ids

# What a page holds that a reader should not see, and whether it fits.
_INSPECT = """() => ({
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  broken: Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)
               .map(i => i.alt || i.src.slice(0, 60)),
  unnamed: Array.from(document.images).filter(i => !(i.alt || '').startsWith('Chart: '))
               .length,
  stderr: document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')
               .length,
  numbered: Array.from(document.querySelectorAll('table')).filter(t => Array.from(
               t.querySelectorAll('tbody tr th:first-child')).slice(0, 3)
               .map(e => e.textContent.trim()).join(',') === '0,1,2').length,
  remote: Array.from(document.querySelectorAll('script[src], link[href]'))
               .map(e => e.src || e.href).filter(u => /^https?:/.test(u)),
  text: document.body.innerText,
})"""


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CHAINSIGHT_REQUIRE_BROWSER"):
            pytest.fail("CHAINSIGHT_REQUIRE_BROWSER is set but no chromium is installed "
                        "(apt-get install -y chromium fonts-noto-cjk)")
        pytest.skip("no chromium on this machine (apt-get install -y chromium fonts-noto-cjk)")
    return path


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    path = _chromium()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield b
        b.close()


def _open(browser, page_path, width: int):
    """The page at ``width`` px, offline (any request off this machine fails), with the
    console errors and failed requests it raised."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.route(re.compile(r"^https?://"), lambda route: route.abort())
    page.goto(page_path.as_uri(), wait_until="load")
    return page, page.evaluate(_INSPECT), problems


def test_every_report_reads_cleanly_at_1280_px(quick_run, browser):
    out, metrics = quick_run
    pages = sorted(out.glob("*.html"))
    assert {p.stem for p in pages} >= set(metrics) | {"index"}
    found = {}
    for path in pages:
        page, seen, problems = _open(browser, path, WIDTH)
        page.close()
        if seen["overflow"] > 0:
            problems.append(f"the page scrolls sideways by {seen['overflow']} px")
        problems += [f"image does not load: {b}" for b in seen["broken"]]
        if seen["unnamed"]:
            problems.append(f"{seen['unnamed']} chart(s) without a title for their alt text")
        if seen["numbered"]:
            problems.append(f"{seen['numbered']} table(s) numbering their rows 0, 1, 2")
        if seen["stderr"]:
            problems.append(f"{seen['stderr']} error-stream output(s) shown")
        problems += [f"loads from the network: {u}" for u in seen["remote"]]
        problems += [f"shows {m.group(0)!r}" for m in RAW_TEXT.finditer(seen["text"])]
        problems += [f"shows a customer id {m.group(0)}"
                     for m in CUSTOMER_ID.finditer(seen["text"])][:3]
        if problems:
            found[path.name] = problems
    assert not found, found


def test_index_fits_a_phone_and_is_saved_as_a_screenshot(quick_run, browser):
    out, _ = quick_run
    page, seen, problems = _open(browser, out / "index.html", PHONE)
    page.close()
    assert seen["overflow"] <= 0 and not problems, (seen["overflow"], problems)
    page, _, _ = _open(browser, out / "index.html", WIDTH)
    shot = out.with_name(f"{out.name}-index.png")  # beside the run: not a report file
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    assert shot.stat().st_size > 10_000
    print(f"index screenshot: {shot}")
