"""The built book, checked in a real browser (headless Chromium via Playwright).

Every page in _toc.yml, plus the landing page and the search page, is loaded
once from a local server; see conftest.py. Run against another build with
``BOOK_HTML=/path/to/_build/html``.
"""
from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest

from site_browser import (
    ALL_PAGES,
    LANDING,
    LAUNCH,
    NOTEBOOK_PAGES,
    ROOT_PAGE,
    SCREENSHOT_PAGES,
    TOC_PAGES,
    TIMEOUT_MS,
    chapter,
    page_id,
)

pages = pytest.mark.parametrize("page", ALL_PAGES, ids=page_id)


@pages
def test_page_loads_without_errors(visit, page):
    v = visit(page)
    assert not v.problems.console, f"{page.url}: console errors: {v.problems.console}"
    assert not v.problems.failed, f"{page.url}: failed requests: {v.problems.failed}"


@pages
def test_page_requests_nothing_from_other_hosts(visit, page):
    v = visit(page)
    assert not v.problems.external, f"{page.url}: requests to other hosts (blocked): {sorted(set(v.problems.external))}"


@pages
def test_math_is_typeset(visit, page):
    info = visit(page).info
    problems = []
    if info["mathBlocks"] and not info["mathjaxLoaded"]:
        problems.append(f"{info['mathBlocks']} math blocks but no MathJax script")
    if info["untypeset"]:
        problems.append(f"math that MathJax did not typeset: {info['untypeset']}")
    if info["mathErrors"] or info["domErrors"]:
        problems.append(f"TeX that MathJax could not render: {info['mathErrors']} {info['domErrors']}")
    if info["strayDollars"]:
        problems.append(f"'$' left next to math (inline $$...$$?): {info['strayDollars']}")
    if info["rawTex"]:
        problems.append(f"raw TeX delimiters in the text: {info['rawTex']}")
    assert not problems, f"{page.url}: " + "; ".join(problems)


FILE_NAME = re.compile(r"(^|/)[^/\s]+\.(png|jpe?g|gif|svg|webp)$", re.I)


@pages
def test_images_load_and_are_described(visit, page):
    images = visit(page).info["images"]
    broken = [i["src"] for i in images if not (i["complete"] and i["naturalWidth"] > 0)]
    assert not broken, f"{page.url}: images that did not load: {broken}"
    # myst-nb falls back to the file path as alt text, which describes nothing.
    undescribed = [
        i["src"]
        for i in images
        if not i["caption"] and (not i["alt"] or FILE_NAME.search(i["alt"]) or i["alt"] == i["src"])
    ]
    assert not undescribed, (
        f"{page.url}: images with neither alt text nor a caption: {undescribed}; add cell metadata "
        '{"mystnb": {"image": {"alt": "..."}}} or {"mystnb": {"figure": {"caption": "...", "name": "fig-..."}}}'
    )


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=page_id)
def test_notebook_pages_have_download_and_launch_buttons(visit, new_page, page):
    info = visit(page).info
    ipynb = [d["href"] for d in info["downloads"] if d["href"].endswith(".ipynb")]
    assert ipynb, f"{page.url}: no .ipynb download button (found {info['downloads']})"
    tab = new_page()
    response = tab.request.get(ipynb[0])
    assert response.ok and b'"cells"' in response.body(), f"{ipynb[0]}: not a notebook (HTTP {response.status})"
    tab.context.close()

    links = {d["text"]: d["href"] for d in info["launch"]}
    notebook_path = f"{page.name}.ipynb"
    for text, key in [("Binder", "binderhub_url"), ("JupyterHub", "jupyterhub_url"), ("Colab", "colab_url")]:
        if not LAUNCH.get(key):
            continue
        assert text in links, f"{page.url}: no {text} launch button (found {sorted(links)})"
        href = links[text]
        assert href.startswith(LAUNCH[key].rstrip("/")), f"{text} button goes to {href}"
        assert notebook_path in href, f"{text} button does not open {notebook_path}: {href}"


def test_search_finds_backpropagation_in_chapter_3(new_page, base_url):
    target = chapter("03-")
    assert target is not None, "no chapter 03-* in _toc.yml"
    tab = new_page()
    tab.goto(urljoin(base_url, "search.html?q=backpropagation"))
    tab.wait_for_function(
        "() => { const s = document.querySelector('#search-results .search-summary');"
        " return s && /finished|found|did not match/i.test(s.textContent); }",
        timeout=TIMEOUT_MS,
    )
    hits = tab.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
    wanted = urljoin(base_url, target.url)
    assert any(h.split("#")[0] == wanted for h in hits), f"search for 'backpropagation' did not list {target.url}: {hits}"
    assert not tab.problems.console and not tab.problems.external, vars(tab.problems)
    tab.context.close()


@pages
def test_left_navigation_lists_every_chapter(visit, base_url, page):
    """Every page's left navigation has a visible link to every page in the toc."""
    links: dict[str, bool] = {}
    for link in visit(page).info["nav"]:
        links[link["href"]] = links.get(link["href"], False) or link["visible"]
    wanted = [urljoin(base_url, p.url) for p in TOC_PAGES]
    missing = [w for w in wanted if not links.get(w)]
    assert not missing, f"{page.url}: the left navigation has no visible link to {missing}"


def test_left_navigation_link_opens_the_chapter(new_page, base_url):
    """Clicking a chapter in the landing page's navigation opens that chapter (the
    links themselves are checked on every page above)."""
    target = TOC_PAGES[1] if len(TOC_PAGES) > 1 else ROOT_PAGE  # the first after the root: a light page
    tab = new_page()
    tab.goto(urljoin(base_url, LANDING.url))
    tab.wait_for_url(urljoin(base_url, ROOT_PAGE.url), timeout=TIMEOUT_MS)
    tab.locator(f"nav.bd-docs-nav a.reference[href$='{target.url.rsplit('/', 1)[-1]}']").first.click()
    url = urljoin(base_url, target.url)
    tab.wait_for_url(lambda u: u.split("#")[0] == url, wait_until="domcontentloaded", timeout=TIMEOUT_MS)
    assert tab.locator("article h1").first.is_visible(), f"{url} shows no heading"
    tab.context.close()


def test_screenshots(visit):
    """Full-page screenshots of the landing page and two chapters, taken when each is visited."""
    shots = [visit(p).screenshot for p in SCREENSHOT_PAGES]
    assert len(shots) == 3, f"expected 3 screenshots, got {shots}"
    assert all(s and s.stat().st_size > 10_000 for s in shots), shots
