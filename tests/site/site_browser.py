"""What the browser checks need to know about the book: its pages (read from
_toc.yml), its launch-button settings (from _config.yml), where the built site
is, and the JavaScript that inspects a loaded page. Shared by conftest.py and
test_site.py (a module name of its own, so it never clashes with the root
conftest.py)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from tools.notebooks import toc_files

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("BOOK_HTML", "_build/html"))
if not SITE.is_absolute():
    SITE = ROOT / SITE
# Screenshots go next to the site folder: _build/html -> _build/screenshots.
SCREENSHOTS = SITE.parent / "screenshots"
CHROMIUM = os.environ.get("BOOK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-default-browser-check",
    "--mute-audio",
]
VIEWPORT = {"width": 1280, "height": 900}  # wide enough for the left navigation
TIMEOUT_MS = 30_000  # generous: CI shares two cores with the notebook tests
SCREENSHOT_TIMEOUT_MS = 120_000  # a chapter is ~20,000 px tall


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


# --------------------------------------------------------------------------- #
# What the book contains, read from _toc.yml and _config.yml (not hard-coded)
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Page:
    name: str  # toc name, e.g. "chapters/01-landscape"; "index" and "search" for the extras
    url: str  # path relative to the site root, e.g. "chapters/01-landscape.html"
    notebook: bool = False  # the source is an .ipynb file
    in_toc: bool = True


def toc_pages() -> list[Page]:
    """Every page in _toc.yml, root first, in reading order."""
    return [Page(stem, f"{stem}.html", notebook=(ROOT / f"{stem}.ipynb").is_file()) for stem in toc_files(ROOT)]


TOC_PAGES = toc_pages()
ROOT_PAGE = TOC_PAGES[0]
LANDING = Page("index", "index.html", in_toc=False)
SEARCH = Page("search", "search.html", in_toc=False)
ALL_PAGES = [LANDING, *TOC_PAGES, SEARCH]
NOTEBOOK_PAGES = [p for p in TOC_PAGES if p.notebook]
LAUNCH = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8")).get("launch_buttons", {})


def chapter(prefix: str) -> Page | None:
    """The toc page whose file name starts with ``prefix`` (e.g. "03-")."""
    return next((p for p in TOC_PAGES if p.name.rsplit("/", 1)[-1].startswith(prefix)), None)


# Full-page screenshots, for people to look at: the landing page, the first
# notebook chapter and chapter 3.
SCREENSHOT_PAGES = list(dict.fromkeys(p for p in (LANDING, *NOTEBOOK_PAGES[:1], chapter("03-")) if p))


# What a page shows, gathered in one pass in the browser.
INSPECT_JS = r"""
async () => {
  const out = {};
  // MathJax: wait for its startup promise (it typesets the page before resolving).
  const mathEls = Array.from(document.querySelectorAll('.math'));
  out.mathjaxLoaded = !!document.querySelector('script[src*="mathjax"]');
  out.mathErrors = [];
  if (out.mathjaxLoaded) {
    const t0 = Date.now();
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
      if (Date.now() - t0 > 30000) { out.mathErrors.push('MathJax did not start within 30 s'); break; }
      await new Promise(r => setTimeout(r, 50));
    }
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      await MathJax.startup.promise;
      for (const item of Array.from(MathJax.startup.document.math)) {
        let mml = '';
        try { mml = MathJax.startup.toMML(item.root); } catch (e) { mml = 'toMML failed: ' + e; }
        // A TeX syntax error gives <merror>; an undefined macro is drawn in red (noundefined).
        if (/<merror|mathcolor="red"|toMML failed/.test(mml)) out.mathErrors.push(item.math);
      }
    }
  }
  out.mathBlocks = mathEls.length;
  out.untypeset = mathEls.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.trim().slice(0, 80));
  out.domErrors = Array.from(document.querySelectorAll('mjx-merror')).map(e => e.textContent.slice(0, 80));
  // A '$' glued to typeset math means the delimiters were not understood.
  out.strayDollars = mathEls.filter(e => {
    const before = e.previousSibling, after = e.nextSibling;
    return (before && before.nodeType === 3 && /\$\s*$/.test(before.textContent)) ||
           (after && after.nodeType === 3 && /^\s*\$/.test(after.textContent));
  }).map(e => e.textContent.trim().slice(0, 80));
  // Raw TeX left in the prose (code cells and typeset math excluded).
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const prose = article.cloneNode(true);
  prose.querySelectorAll('pre, code, script, style, textarea, mjx-container, .highlight, .cell_input').forEach(e => e.remove());
  const text = prose.textContent;
  out.rawTex = [];
  for (const re of [/\$\$/g, /\\\[/g, /\\\]/g, /\\\(/g, /\\\)/g, /\\begin\{/g]) {
    let m;
    while ((m = re.exec(text)) !== null && out.rawTex.length < 10) {
      out.rawTex.push(text.slice(Math.max(0, m.index - 30), m.index + 40).replace(/\s+/g, ' '));
    }
  }
  // Images: loaded, and described by alt text or a figure caption.
  out.images = Array.from(document.images).map(img => {
    const fig = img.closest('figure');
    const cap = fig && fig.querySelector('figcaption');
    return {
      src: img.getAttribute('src') || '',
      complete: img.complete,
      naturalWidth: img.naturalWidth,
      alt: (img.getAttribute('alt') || '').trim(),
      caption: cap ? cap.textContent.trim() : '',
    };
  });
  // Header buttons.
  out.downloads = Array.from(document.querySelectorAll('.dropdown-download-buttons a'))
    .map(a => ({text: a.textContent.trim(), href: a.href}));
  out.launch = Array.from(document.querySelectorAll('.dropdown-launch-buttons a'))
    .map(a => ({text: a.textContent.trim(), href: a.getAttribute('href') || ''}));
  // Left navigation: where its links go (no fragment) and whether each is visible.
  out.nav = Array.from(document.querySelectorAll('nav.bd-docs-nav a.reference'))
    .map(a => ({href: a.href.split('#')[0], visible: !!(a.offsetWidth || a.offsetHeight)}));
  out.title = document.title;
  return out;
}
"""


def page_id(p: Page) -> str:
    return p.name
