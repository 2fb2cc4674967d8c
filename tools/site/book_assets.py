"""Sphinx extension: emit each inline script only once per page.

Sphinx 7.4 keeps a script added with ``app.add_js_file(None, body=...)`` after
the builder started (sphinx-thebe and sphinx-togglebutton do) twice: once with
``filename=None`` and once, copied from the registry, with ``filename=''``.
The two copies are not equal, so both reach the page, and the second
``const THEBE_JS_URL = ...`` throws "Identifier 'THEBE_JS_URL' has already
been declared" in the browser console on every page (tests/site checks that
pages load without console errors).

Loaded through ``sphinx: local_extensions`` in _config.yml, so the build does
not import the ``book`` package (and with it torch).
"""
from __future__ import annotations


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for js in scripts:
        attributes = getattr(js, "attributes", {}) or {}
        key = (getattr(js, "filename", str(js)) or "", tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app):
    app.connect("html-page-context", _dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
