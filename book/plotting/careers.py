"""Chapter 14's figures: the role map with common moves, a reader's skill profile
against a role, the roadmap as a timeline, and the WEF job-flow projections;
plus the interactive self-assessment (ipywidgets, imported only when it is built).

Every function takes the :class:`book.data.careers.Careers` that
:func:`book.data.careers.load_careers` returns.
"""
from __future__ import annotations

import re

import numpy as np

from book.checks import one_of
from book.data.careers import Careers, check_profile, readiness, skill_gaps, study_plan
from book.plotting.schematic import COLOURS, arrow, box, canvas

TRACK_COLOURS = {"research": "#d6eaf8", "data": "#fdebd0", "engineering": "#d5f5e3", "product": "#f9e79f",
                 "governance": "#f5b7b1"}
BOX_W, BOX_H = 2.1, 0.62


def _edge_point(centre, towards, w=BOX_W, h=BOX_H):
    """Where the segment from ``centre`` towards ``towards`` leaves a box of size w x h."""
    c, t = np.asarray(centre, float), np.asarray(towards, float)
    d = t - c
    scale = min((w / 2) / abs(d[0]) if d[0] else np.inf, (h / 2) / abs(d[1]) if d[1] else np.inf)
    return tuple(c + d * scale)


def role_map_figure(careers: Careers, highlight: str | None = None):
    """The roles as boxes coloured by track, with an arrow for each common move between them.

    ``highlight`` (a role id) draws that role's outgoing moves in red. Returns the figure.
    """
    if highlight is not None:
        one_of(highlight, tuple(careers.roles), "highlight", owner="role_map_figure")
    ax = canvas(width=10.0, height=4.4, scale=1.05)
    for role in careers.roles.values():
        box(ax, (role.x, role.y), role.role, width=BOX_W, height=BOX_H, colour=TRACK_COLOURS[role.track],
            fontsize=8.5)
    pairs = set(careers.transitions)
    rows = sorted({r.y for r in careers.roles.values()})
    for a, b in careers.transitions:
        ra, rb = careers.roles[a], careers.roles[b]
        colour = "grad" if a == highlight else "edge"
        dx = rb.x - ra.x
        if ra.y == rb.y and abs(dx) > 1.5 * BOX_W and ra.y in (rows[0], rows[-1]):
            # Along the bottom or top row past a neighbour: leave and enter through the outer edge, bulging outward.
            side = -1 if ra.y == rows[0] else 1
            sign = 1 if dx > 0 else -1
            start = (ra.x + sign * BOX_W / 4, ra.y + side * BOX_H / 2)
            end = (rb.x - sign * BOX_W / 4, rb.y + side * BOX_H / 2)
            span = abs(end[0] - start[0])
            rad = 2 * (0.2 + 0.05 * span) / span * sign * (1 if side < 0 else -1)
            arrow(ax, start, end, colour=colour, curve=rad)
            continue
        start = _edge_point((ra.x, ra.y), (rb.x, rb.y))
        end = _edge_point((rb.x, rb.y), (ra.x, ra.y))
        arrow(ax, start, end, colour=colour, gap=0.04, curve=0.25 if (b, a) in pairs else 0.0)
    for i, (track, colour) in enumerate(TRACK_COLOURS.items()):
        box(ax, (0.95 + 1.55 * i, 0.2), track, width=1.35, height=0.3, colour=colour, fontsize=8)
    ax.text(9.95, 0.2, "arrow: a common move\n(the authors' judgement)", ha="right", va="center", fontsize=8, color=COLOURS["edge"])
    ax.figure.tight_layout()
    return ax.figure


def skill_profile_figure(careers: Careers, profile: dict, role_id: str, ax=None):
    """Horizontal bars: the role's required level and the reader's rating for every skill the role needs.

    Gaps (rating below the requirement) are hatched red. The title gives the
    readiness (share of required levels met). Returns the figure.
    """
    import matplotlib.pyplot as plt

    rows = skill_gaps(careers, profile, role_id)
    order = [s for s in careers.skills if any(r[0] == s for r in rows)]
    by_skill = {r[0]: r for r in rows}
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.36 * len(order) + 1.4))
    y = np.arange(len(order))[::-1]
    need = [by_skill[s][1] for s in order]
    rated = [by_skill[s][2] for s in order]
    ax.barh(y + 0.18, need, height=0.36, color="#aab7b8", label="role requires")
    colours = ["#c0392b" if by_skill[s][3] else "#2e86c1" for s in order]
    ax.barh(y - 0.18, [max(r, 0.05) for r in rated], height=0.36,  # a sliver shows a rating of 0
            color=colours, label="your rating (red: below the requirement)")
    ax.set_yticks(y, [f"{careers.skills[s].skill} (ch. {careers.skills[s].chapter_number})" for s in order],
                  fontsize=8)
    ax.set_xticks(range(4), ["0 none", "1 aware", "2 working", "3 fluent"], fontsize=8)
    ax.set_xlim(0, 3.2)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{careers.roles[role_id].role}: readiness {readiness(careers, profile, role_id):.0%}",
                 fontsize=10)
    ax.figure.tight_layout()
    return ax.figure


def roadmap_figure(careers: Careers):
    """The roadmap as a timeline: one bar per item over its months, stages shaded, projects in orange."""
    import matplotlib.pyplot as plt

    items = careers.roadmap
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(items) + 1.2))
    stages = []
    for item in items:
        if not stages or stages[-1][0] != item.stage:
            stages.append([item.stage, item.start_month, item.end_month])
        stages[-1][2] = max(stages[-1][2], item.end_month)
    shades = ["#f4f6f7", "#eaf2f8", "#fef9e7"]
    for i, (stage, start, end) in enumerate(stages):
        ax.axvspan(start, end, color=shades[i % len(shades)], zorder=0)
        label = stage.replace(" ", "\n", 1) if end - start < 4 else stage  # a narrow band: two lines
        ax.text((start + end) / 2, len(items) - 0.35, label, ha="center", va="bottom", fontsize=9, weight="bold")
    for i, item in enumerate(items):
        y = len(items) - 1 - i
        colour = "#e59866" if item.kind == "project" else "#5dade2"
        ax.barh(y, item.end_month - item.start_month, left=item.start_month, height=0.6, color=colour, zorder=2)
        label = f"{item.title} (ch. {', '.join(item.chapters)})"
        ax.text(item.end_month + 0.2, y, label, va="center", fontsize=8, zorder=3)
    end = max(i.end_month for i in items)
    ax.set_xlim(0, end + 11)
    ax.set_ylim(-0.7, len(items) + 0.9)
    ax.set_yticks([])
    ax.set_xticks(range(0, int(end) + 1, 3))
    ax.set_xlabel("months from the start")
    from matplotlib.patches import Patch
    ax.legend(handles=[Patch(color="#5dade2", label="study"), Patch(color="#e59866", label="portfolio project")],
              loc="upper right", fontsize=8)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def job_flows_figure(careers: Careers):
    """The WEF survey projections in million jobs: created and lost per report, with the net change written on top."""
    import matplotlib.pyplot as plt

    reports = {}
    for f in careers.labour:
        if f.source.startswith("wef") and f.unit == "million jobs" and f.kind == "projection":
            reports.setdefault((f.source, f.period), {})["created" if "created" in f.indicator else "lost"] = f.value
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for i, ((source, period), v) in enumerate(sorted(reports.items(), key=lambda kv: kv[0][1])):
        ax.bar(i - 0.2, v["created"], width=0.4, color="#52be80", label="created" if i == 0 else None)
        ax.bar(i - 0.2 + 0.4, -v["lost"], width=0.4, color="#ec7063", label="eliminated / displaced" if i == 0 else None)
        net = v["created"] - v["lost"]
        ax.text(i, v["created"] + 8, f"net {net:+.0f} M", ha="center", fontsize=9)
    ax.axhline(0, color="black", linewidth=0.8)
    labels = []
    for source, period in sorted(reports, key=lambda k: k[1]):
        year = re.search(r"\d{4}", source)
        labels.append(f"Future of Jobs {year.group(0) if year else source}\n({period})")
    ax.set_xticks(range(len(reports)), labels, fontsize=8)
    ax.set_ylabel("million jobs (employers' expectations)")
    ax.set_ylim(-120, 210)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def self_assessment_widget(careers: Careers, role_id: str | None = None):
    """An ipywidgets panel: pick a role, rate each skill 0-3 with sliders, see the gaps and what to study.

    ipywidgets is imported here, so the rest of the module works without it.
    Returns the panel (display it in Jupyter); ``panel.sliders`` and
    ``panel.role`` give access to the controls, ``panel.refresh()`` redraws.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt

    roles = tuple(careers.roles)
    role_id = roles[0] if role_id is None else one_of(role_id, roles, "role_id", owner="self_assessment_widget")
    role = w.Dropdown(options=[(r.role, k) for k, r in careers.roles.items()], value=role_id, description="Role")
    sliders = {s: w.IntSlider(value=0, min=0, max=3, description=careers.skills[s].skill[:28],
                              style={"description_width": "200px"}, layout=w.Layout(width="420px"))
               for s in careers.skills}
    out = w.Output()

    def refresh(*_):
        profile = check_profile(careers, {s: sl.value for s, sl in sliders.items()})
        out.clear_output(wait=True)
        with out:
            fig = skill_profile_figure(careers, profile, role.value)
            plt.show()
            plt.close(fig)
            plan = study_plan(careers, profile, role.value)
            print("Study next:" if plan else "No gaps for this role.")
            for s in plan:
                print(f"  {s.skill}: chapter {s.chapter_number}, {s.section!r}; {s.exercise} {s.question}")

    role.observe(refresh, names="value")
    for sl in sliders.values():
        sl.observe(refresh, names="value")
    panel = w.VBox([role, w.HBox([w.VBox(list(sliders.values())), out])])
    panel.sliders, panel.role, panel.refresh, panel.output = sliders, role, refresh, out
    refresh()
    return panel


__all__ = ["TRACK_COLOURS", "job_flows_figure", "role_map_figure", "roadmap_figure", "self_assessment_widget",
           "skill_profile_figure"]
