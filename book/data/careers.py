"""Chapter 14's career data: roles, the skills this book teaches, what each role needs,
a staged roadmap and sourced labour-market figures.

Six CSV files in ``book/data/`` hold it:

* ``career_skills.csv``: one row per skill, with the chapter, the section and the
  graded exercise (notebook and question) of this book that teach it;
* ``career_roles.csv``: one row per role, its track, what it does day to day,
  what it needs beyond this book, and its place on the role map;
* ``career_requirements.csv``: a skills-by-roles table of required levels
  (0 not needed, 1 aware, 2 working, 3 fluent: :data:`LEVELS`);
* ``career_transitions.csv``: moves between roles that people commonly make;
* ``career_roadmap.csv``: a staged learning plan with portfolio projects;
* ``labour_market.csv``: published figures, each with its method and the
  ``references.bib`` key of its source.

:func:`load_careers` reads and validates all of it. The functions below compare
a reader's self-ratings (a dict from skill id to level) with a role.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from book.checks import one_of

DATA_DIR = Path(__file__).resolve().parent
LEVELS = {0: "not needed", 1: "aware", 2: "working", 3: "fluent"}
TRACKS = ("research", "data", "engineering", "product", "governance")
KINDS = ("study", "project")
# The book's numbered chapters (file stems), for the checklist; tests/test_careers.py checks them against _toc.yml.
BOOK_CHAPTERS = ("01-landscape", "02-linear-models", "03-backpropagation", "04-making-training-work",
                 "05-convolutional-networks", "06-recurrent-networks", "07-language-models",
                 "08-generative-adversarial-networks", "09-recommender-systems", "10-transfer-and-fine-tuning",
                 "11-training-at-scale", "12-applications", "13-trends", "14-careers", "15-tools")


@dataclass(frozen=True)
class Skill:
    """A skill and where this book teaches it: a chapter file, a section heading, an exercise question."""

    skill_id: str
    skill: str
    chinese: str
    chapter: str
    section: str
    exercise: str
    question: str

    @property
    def chapter_number(self) -> str:
        """The chapter's two-digit number, e.g. ``"07"``."""
        return self.chapter[:2]


@dataclass(frozen=True)
class Role:
    """A role: its name, track, daily work, what it needs beyond this book, and its place on the map."""

    role_id: str
    role: str
    chinese: str
    track: str
    x: float
    y: float
    day_to_day: str
    beyond_the_book: str


@dataclass(frozen=True)
class RoadmapItem:
    """One step of the roadmap: study or a portfolio project, over a span of months."""

    stage: str
    start_month: float
    end_month: float
    kind: str
    title: str
    chapters: tuple[str, ...]
    notebook: str
    description: str


@dataclass(frozen=True)
class LabourFigure:
    """A published labour-market figure with its unit, scope, period, kind, method and bib key."""

    indicator: str
    value: float
    unit: str
    scope: str
    period: str
    kind: str
    method: str
    source: str


@dataclass(frozen=True)
class Careers:
    """Everything :func:`load_careers` reads. ``requirements[role_id][skill_id]`` is a level 0-3."""

    skills: dict[str, Skill]
    roles: dict[str, Role]
    requirements: dict[str, dict[str, int]]
    transitions: list[tuple[str, str]]
    roadmap: list[RoadmapItem]
    labour: list[LabourFigure]


def _rows(name: str, columns: tuple[str, ...] | None, data_dir: Path) -> list[dict[str, str]]:
    path = data_dir / name
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if columns is not None and tuple(reader.fieldnames or ()) != columns:
            raise ValueError(f"{name}: expected columns {columns}, got {reader.fieldnames}")
        rows = list(reader)
    if not rows:
        raise ValueError(f"{name} has no rows")
    for i, row in enumerate(rows, start=2):
        if None in row or any(v is None for v in row.values()):
            raise ValueError(f"{name} line {i}: wrong number of fields")
    return [{k: v.strip() for k, v in row.items()} for row in rows]


def _unique(ids: list[str], what: str) -> None:
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"duplicate {what}: {dupes}")


def _level(raw: str, where: str) -> int:
    if raw not in ("0", "1", "2", "3"):
        raise ValueError(f"{where}: a level must be 0, 1, 2 or 3, got {raw!r}")
    return int(raw)


def load_careers(data_dir: str | Path | None = None) -> Careers:
    """Read and cross-check the six career tables; raise ``ValueError`` naming any bad row.

    Checks: unique ids; every field that must be filled is; levels are 0-3;
    the requirements table has one column per role and one row per skill;
    transitions and roadmap chapters name known roles and two-digit chapters;
    labour-market values are numbers with a source.
    """
    data_dir = Path(data_dir) if data_dir is not None else DATA_DIR
    skill_rows = _rows("career_skills.csv", ("skill_id", "skill", "chinese", "chapter", "section", "exercise",
                                             "question"), data_dir)
    skills = {}
    for row in skill_rows:
        if not all(row.values()):
            raise ValueError(f"career_skills.csv: empty field in {row}")
        if not (row["chapter"][:2].isdigit() and row["question"].startswith("q")):
            raise ValueError(f"career_skills.csv: bad chapter or question in {row}")
        skills[row["skill_id"]] = Skill(**row)
    _unique([r["skill_id"] for r in skill_rows], "skill ids")

    role_rows = _rows("career_roles.csv", ("role_id", "role", "chinese", "track", "x", "y", "day_to_day",
                                           "beyond_the_book"), data_dir)
    _unique([r["role_id"] for r in role_rows], "role ids")
    roles = {}
    for row in role_rows:
        if not all(row.values()):
            raise ValueError(f"career_roles.csv: empty field in {row}")
        one_of(row["track"], TRACKS, "track", owner="load_careers")
        roles[row["role_id"]] = Role(**{**row, "x": float(row["x"]), "y": float(row["y"])})

    req_rows = _rows("career_requirements.csv", None, data_dir)
    columns = list(req_rows[0])
    if columns[0] != "skill_id" or sorted(columns[1:]) != sorted(roles):
        raise ValueError(f"career_requirements.csv: columns must be skill_id and the role ids {sorted(roles)}, "
                         f"got {columns}")
    req_skills = [r["skill_id"] for r in req_rows]
    _unique(req_skills, "skills in career_requirements.csv")
    if sorted(req_skills) != sorted(skills):
        raise ValueError(f"career_requirements.csv: rows {sorted(set(req_skills) ^ set(skills))} do not match "
                         "career_skills.csv")
    requirements = {role: {} for role in roles}
    for row in req_rows:
        for role in roles:
            requirements[role][row["skill_id"]] = _level(row[role], f"career_requirements.csv {row['skill_id']}/{role}")
    for role, levels in requirements.items():
        if not any(levels.values()):
            raise ValueError(f"career_requirements.csv: role {role} requires nothing")
    requirements = {role: {s: requirements[role][s] for s in skills} for role in roles}  # skills in book order

    transitions = []
    for row in _rows("career_transitions.csv", ("from_role", "to_role"), data_dir):
        for key in ("from_role", "to_role"):
            one_of(row[key], tuple(roles), key, owner="load_careers")
        if row["from_role"] == row["to_role"]:
            raise ValueError(f"career_transitions.csv: a move from {row['from_role']} to itself")
        transitions.append((row["from_role"], row["to_role"]))
    _unique([f"{a}->{b}" for a, b in transitions], "transitions")

    roadmap = []
    for row in _rows("career_roadmap.csv", ("stage", "start_month", "end_month", "kind", "title", "chapters",
                                            "notebook", "description"), data_dir):
        start, end = float(row["start_month"]), float(row["end_month"])
        chapters = tuple(row["chapters"].split())
        if not 0 <= start < end or not chapters or not all(len(c) == 2 and c.isdigit() for c in chapters):
            raise ValueError(f"career_roadmap.csv: bad months or chapters in {row['title']!r}")
        one_of(row["kind"], KINDS, "kind", owner="load_careers")
        if row["kind"] == "project" and row["title"] == "":
            raise ValueError("career_roadmap.csv: a project needs a title")
        roadmap.append(RoadmapItem(row["stage"], start, end, row["kind"], row["title"], chapters, row["notebook"],
                                   row["description"]))

    labour = []
    for row in _rows("labour_market.csv", ("indicator", "value", "unit", "scope", "period", "kind", "method",
                                           "source"), data_dir):
        if not all(row.values()):
            raise ValueError(f"labour_market.csv: empty field in {row}")
        one_of(row["kind"], ("projection", "estimate"), "kind", owner="load_careers")
        labour.append(LabourFigure(row["indicator"], float(row["value"]), row["unit"], row["scope"], row["period"],
                                   row["kind"], row["method"], row["source"]))
    return Careers(skills, roles, requirements, transitions, roadmap, labour)


def check_profile(careers: Careers, profile: dict) -> dict[str, int]:
    """A self-rating as a full dict skill id -> level 0-3; missing skills count as 0, unknown ones are refused."""
    if not isinstance(profile, dict):
        raise ValueError(f"profile must be a dict from skill id to level, got {type(profile).__name__}")
    unknown = sorted(set(profile) - set(careers.skills))
    if unknown:
        raise ValueError(f"profile rates unknown skills {unknown}")
    out = {}
    for skill in careers.skills:
        level = profile.get(skill, 0)
        if isinstance(level, bool) or level not in (0, 1, 2, 3):
            raise ValueError(f"profile[{skill!r}] must be a level 0, 1, 2 or 3, got {level!r}")
        out[skill] = int(level)
    return out


def skill_gaps(careers: Careers, profile: dict, role_id: str) -> list[tuple[str, int, int, int]]:
    """``(skill id, required, rated, gap)`` for every skill the role needs, largest gap first.

    The gap is ``max(required - rated, 0)``: a skill rated above the role's need
    does not make up for another below it. Ties keep the book's order.
    """
    one_of(role_id, tuple(careers.roles), "role_id", owner="skill_gaps")
    rated = check_profile(careers, profile)
    rows = [(s, need, rated[s], max(need - rated[s], 0)) for s, need in careers.requirements[role_id].items() if need]
    return sorted(rows, key=lambda r: -r[3])


def readiness(careers: Careers, profile: dict, role_id: str) -> float:
    """The share of a role's required skill levels that the profile meets: 1 minus total gap / total requirement."""
    rows = skill_gaps(careers, profile, role_id)
    return 1.0 - sum(r[3] for r in rows) / sum(r[1] for r in rows)


def rank_roles(careers: Careers, profile: dict) -> list[tuple[str, float]]:
    """Every role with the profile's readiness for it, the readiest first (ties: file order)."""
    scores = [(role, readiness(careers, profile, role)) for role in careers.roles]
    return sorted(scores, key=lambda r: -r[1])


def bridge(careers: Careers, from_role: str, to_role: str) -> dict[str, int]:
    """The skills a move needs: where ``to_role`` requires more than ``from_role``, with the difference in levels."""
    for name, role in (("from_role", from_role), ("to_role", to_role)):
        one_of(role, tuple(careers.roles), name, owner="bridge")
    a, b = careers.requirements[from_role], careers.requirements[to_role]
    return {s: b[s] - a[s] for s in careers.skills if b[s] > a[s]}


def study_plan(careers: Careers, profile: dict, role_id: str) -> list[Skill]:
    """The skills with a gap for ``role_id``, in the book's order (the order they build on each other)."""
    gaps = {s for s, _, _, gap in skill_gaps(careers, profile, role_id) if gap}
    return [skill for s, skill in careers.skills.items() if s in gaps]


def checklist(careers: Careers, chapters: list[str]) -> dict[str, list[str]]:
    """A self-assessment checklist: for each chapter file stem, the lines a reader ticks.

    Chapters that teach skills get one line per skill with its section and graded
    exercise; chapters without (Part IV) get one line to read the chapter and do
    its conceptual questions.
    """
    out = {}
    for chapter in chapters:
        taught = [s for s in careers.skills.values() if s.chapter == chapter]
        if taught:
            out[chapter] = [f"I can do: {s.skill} ({s.section!r}; {Path(s.exercise).name} {s.question})"
                            for s in taught]
        else:
            out[chapter] = ["I have read it and answered its conceptual questions"]
    return out


def labour_value(careers: Careers, indicator: str, source: str, unit: str) -> float:
    """The value of the one labour-market figure with this indicator, source (bib key) and unit.

    Raises ``ValueError`` when no figure, or more than one, matches.
    """
    for name, arg in (("indicator", indicator), ("source", source), ("unit", unit)):
        if not isinstance(arg, str) or not arg:
            raise ValueError(f"labour_value: {name} must be a non-empty string, got {arg!r}")
    found = [f for f in careers.labour if (f.indicator, f.source, f.unit) == (indicator, source, unit)]
    if len(found) != 1:
        raise ValueError(f"labour_value: {len(found)} figures match {indicator!r} from {source!r} in {unit!r}; "
                         "expected exactly one")
    return found[0].value


__all__ = ["BOOK_CHAPTERS", "Careers", "KINDS", "LEVELS", "LabourFigure", "RoadmapItem", "Role", "Skill", "TRACKS", "bridge",
           "check_profile", "checklist", "labour_value", "load_careers", "rank_roles", "readiness", "skill_gaps", "study_plan"]
