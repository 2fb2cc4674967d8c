"""Chapter 14's career data (book/data/careers.py) and figures (book/plotting/careers.py)."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from book.data.careers import (BOOK_CHAPTERS, bridge, check_profile, checklist, labour_value, load_careers, rank_roles,
                               readiness, skill_gaps, study_plan)

ROOT = Path(__file__).resolve().parent.parent
CAREERS = load_careers()


def markdown_headings(path: Path) -> set[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return {m.strip() for m in re.findall(r"^#{1,4} (.*)$", text, re.MULTILINE)}


@pytest.mark.parametrize("skill", list(CAREERS.skills.values()), ids=lambda s: s.skill_id)
def test_every_skill_maps_to_an_existing_chapter_section_and_exercise_question(skill):
    chapter = ROOT / "chapters" / f"{skill.chapter}.ipynb"
    assert chapter.is_file(), chapter
    assert skill.section in markdown_headings(chapter), f"no heading {skill.section!r} in {chapter.name}"
    exercise = ROOT / skill.exercise
    assert exercise.is_file(), exercise
    assert exercise.parent.name == skill.chapter, "the exercise belongs to another chapter"
    cells = json.loads(exercise.read_text(encoding="utf-8"))["cells"]
    questions = {m for c in cells if c["cell_type"] == "raw" and "BEGIN QUESTION" in "".join(c["source"])
                 for m in re.findall(r"^name: (q\d+)\s*$", "".join(c["source"]), re.MULTILINE)}
    assert skill.question in questions, f"{exercise.name} has no question {skill.question} (it has {sorted(questions)})"


def test_every_chapter_with_graded_exercises_is_covered():
    graded = sorted(p.parent.name for p in (ROOT / "exercises").glob("*/ch*-exercises.ipynb"))
    assert len(graded) >= 11
    taught = {s.chapter for s in CAREERS.skills.values()}
    assert set(graded) <= taught, sorted(set(graded) - taught)
    assert {f"{n:02d}" for n in range(1, 12)} <= {c[:2] for c in taught}


def test_every_role_requires_known_skills_and_every_skill_is_needed_somewhere():
    assert len(CAREERS.roles) == 11
    for role, levels in CAREERS.requirements.items():
        assert set(levels) == set(CAREERS.skills), role
        assert any(levels.values()), role
    for skill in CAREERS.skills:
        assert any(CAREERS.requirements[r][skill] for r in CAREERS.roles), f"no role needs {skill}"


def test_every_role_is_connected_on_the_map():
    ends = {r for pair in CAREERS.transitions for r in pair}
    assert ends == set(CAREERS.roles)


def test_every_labour_market_source_is_a_bib_key():
    keys = set(re.findall(r"^@\w+\{([^,\s]+),", (ROOT / "references.bib").read_text(encoding="utf-8"), re.M))
    assert CAREERS.labour
    for figure in CAREERS.labour:
        assert figure.source in keys, figure
        assert figure.method and figure.kind in ("projection", "estimate")


def test_labour_value_finds_exactly_one_figure():
    assert labour_value(CAREERS, "jobs created", "wef2025future", "million jobs") == 170
    assert labour_value(CAREERS, "jobs created", "wef2025future", "percent of jobs") == 14
    with pytest.raises(ValueError, match="0 figures"):
        labour_value(CAREERS, "jobs created", "wef2025future", "billion jobs")
    with pytest.raises(ValueError):
        labour_value(CAREERS, "", "wef2025future", "million jobs")


def test_roadmap_covers_every_chapter_and_its_projects_name_existing_notebooks():
    chapters = {c for item in CAREERS.roadmap for c in item.chapters}
    assert {f"{n:02d}" for n in range(1, 16)} <= chapters
    for item in CAREERS.roadmap:
        if item.notebook:
            assert (ROOT / item.notebook).is_file(), item.notebook
    assert [i.stage for i in CAREERS.roadmap][0] != [i.stage for i in CAREERS.roadmap][-1]


def test_gaps_readiness_and_ranking_on_hand_made_profiles():
    role = "mlops_engineer"
    need = CAREERS.requirements[role]
    assert readiness(CAREERS, {}, role) == 0.0
    assert readiness(CAREERS, {s: 3 for s in CAREERS.skills}, role) == 1.0
    # One level short on exactly one required skill.
    profile = dict(need)
    skill = next(s for s, level in need.items() if level)
    profile[skill] -= 1
    rows = skill_gaps(CAREERS, profile, role)
    assert rows[0] == (skill, need[skill], need[skill] - 1, 1)
    assert readiness(CAREERS, profile, role) == pytest.approx(1 - 1 / sum(need.values()))
    assert [s.skill_id for s in study_plan(CAREERS, profile, role)] == [skill]
    ranking = rank_roles(CAREERS, dict(need))
    assert ranking[0] == (role, 1.0)
    # A surplus on one skill does not make up for a gap on another.
    assert readiness(CAREERS, {**profile, "rnn": 3}, role) == readiness(CAREERS, profile, role)


def test_bridge_lists_what_the_target_role_needs_more_of():
    moves = bridge(CAREERS, "data_engineer", "ml_engineer")
    a, b = CAREERS.requirements["data_engineer"], CAREERS.requirements["ml_engineer"]
    assert moves == {s: b[s] - a[s] for s in CAREERS.skills if b[s] > a[s]}
    assert bridge(CAREERS, "ml_engineer", "ml_engineer") == {}


def test_checklist_has_every_chapter_given():
    chapters = sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]-*.ipynb"))
    items = checklist(CAREERS, chapters)
    assert list(items) == chapters
    assert all(items[c] for c in chapters)


@pytest.mark.parametrize("profile", [{"no_such_skill": 1}, {"rnn": 4}, {"rnn": True}, ["rnn"]])
def test_bad_profiles_are_refused(profile):
    with pytest.raises(ValueError):
        check_profile(CAREERS, profile)


def test_bad_role_is_refused():
    with pytest.raises(ValueError):
        readiness(CAREERS, {}, "astronaut")


def test_loader_refuses_a_role_missing_from_the_requirements(tmp_path):
    for f in (ROOT / "book" / "data").glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    path = tmp_path / "career_requirements.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(",".join(line.split(",")[:-1]) for line in lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="columns"):
        load_careers(tmp_path)


def test_figures_and_the_widget_build():
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from book.plotting.careers import (job_flows_figure, roadmap_figure, role_map_figure, self_assessment_widget,
                                       skill_profile_figure)

    for fig in (role_map_figure(CAREERS, highlight="ml_engineer"), roadmap_figure(CAREERS), job_flows_figure(CAREERS),
                skill_profile_figure(CAREERS, {"rnn": 2}, "research_scientist")):
        assert fig.axes
        plt.close(fig)
    pytest.importorskip("ipywidgets")
    panel = self_assessment_widget(CAREERS, "data_engineer")
    assert set(panel.sliders) == set(CAREERS.skills)
    panel.sliders["evaluation"].value = 2
    panel.role.value = "mlops_engineer"
    plt.close("all")


def test_book_chapters_match_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    numbered = tuple(re.findall(r"file: chapters/(\d\d-[\w-]+)", toc))
    assert BOOK_CHAPTERS == tuple(c for c in numbered if c != "00-preface")
