"""Which service a change touches, and whether it can change what runs.

A change (a commit, a deploy tag on it) belongs to a service when one of these
names it, first match wins:

1. ``[git] services``: a repository directory (or a top folder of a monorepo)
   mapped to a service by the config;
2. the deploy tag's name: ``deploy-<service>-<version>``, ``release-<service>-…``,
   ``<service>/v1.2`` (the longest known service name in it; else the part
   between the prefix and the version);
3. the subject's prefix: ``<service>: …``, ``[<service>] …``, ``fix(<service>): …``;
4. the changed paths: the folder that most runtime files are under
   (``<service>/…``, or ``services/<service>/…``), ``_`` and ``-`` alike;
5. the repository's own name, only when it is a known service.

A change whose files are all documentation, tests or CI configuration cannot
change what runs: :func:`change_class` says ``docs``/``tests``/``ci`` and the
ranking puts it below every runtime change. Pure: no IO.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

from .topology import normalize_service

__all__ = [
    "NON_RUNTIME_CLASSES",
    "change_class",
    "change_service",
    "split_paths",
    "tag_version",
]

#: Classes of change that cannot alter what runs in production.
NON_RUNTIME_CLASSES = frozenset({"docs", "tests", "ci"})

_DOC_GLOBS = ("*.md", "*.rst", "*.adoc", "*.txt", "LICENSE*", "CHANGELOG*", "AUTHORS*", "CODEOWNERS", "NOTICE*",
              "*.png", "*.svg", "*.jpg", "*.drawio")
_DOC_DIRS = {"docs", "doc", "documentation", "runbooks", "adr", "adrs"}
_TEST_DIRS = {"tests", "test", "testing", "spec", "specs", "__tests__", "e2e", "fixtures", "testdata"}
_TEST_GLOBS = ("test_*.py", "*_test.py", "*_test.go", "*.test.js", "*.test.ts", "*.spec.js", "*.spec.ts",
               "conftest.py", "*Test.java", "*_spec.rb")
_CI_DIRS = {".github", ".gitlab", ".circleci", ".ci", "ci", ".buildkite"}
_CI_GLOBS = (".gitlab-ci.yml", "Jenkinsfile", ".pre-commit-config.yaml", ".editorconfig", ".gitignore",
             ".gitattributes", ".travis.yml", "azure-pipelines.yml", ".dockerignore", "renovate.json",
             ".github/*", "codecov.yml", "tox.ini", ".flake8", "mypy.ini", "ruff.toml", ".coveragerc")
_MIGRATION_DIRS = {"migrations", "migration", "migrate", "alembic", "flyway", "liquibase", "schema"}
_CONFIG_DIRS = {"config", "configs", "conf", "settings", "deploy", "k8s", "helm", "charts"}
_CONFIG_GLOBS = ("*.yaml", "*.yml", "*.toml", "*.ini", "*.cfg", "*.conf", "*.env", ".env*", "*.properties",
                 "docker-compose*.yml", "compose*.yaml", "Dockerfile*")
# Folders that hold services (or shared libraries) in a monorepo: services/<name>/…, libs/<name>/…
_CONTAINER_DIRS = {"services", "apps", "packages", "cmd", "src", "components", "svc", "libs", "lib", "shared", "modules"}
_VERSION = re.compile(r"^[vV]?\d[\w.+]*$")
_TAG_PREFIXES = ("deploy", "release", "rel", "prod", "production", "rollout", "hotfix", "rollback")


def split_paths(paths: str | Iterable[str] | None) -> list[str]:
    """Changed paths from a COMMITS ``paths`` value (newline-separated text) or a list;
    a rename ``a => b`` or ``dir/{a => b}/f`` counts as its new path."""
    if paths is None:
        return []
    if isinstance(paths, str):
        items = paths.split("\n")
    elif isinstance(paths, (list, tuple, set)):
        items = [str(p) for p in paths]
    else:
        return []  # a missing value (NaN, NA) in a table: no paths known
    out = []
    for p in items:
        p = p.strip()
        if not p:
            continue
        if "=>" in p:
            if "{" in p and "}" in p:
                head, rest = p.split("{", 1)
                inner, tail = rest.split("}", 1)
                p = head + inner.split("=>", 1)[1].strip() + tail
            else:
                p = p.split("=>", 1)[1]
            p = p.replace("//", "/").strip()
        out.append(p)
    return out


def _class_of(path: str) -> str:
    parts = PurePosixPath(path).parts
    if not parts:
        return "code"
    name = parts[-1]
    dirs = {d.lower() for d in parts[:-1]}
    if dirs & _CI_DIRS or any(fnmatch.fnmatch(path, g) or fnmatch.fnmatch(name, g) for g in _CI_GLOBS):
        return "ci"
    if dirs & _TEST_DIRS or any(fnmatch.fnmatch(name, g) for g in _TEST_GLOBS):
        return "tests"
    if dirs & _DOC_DIRS or any(fnmatch.fnmatch(name, g) for g in _DOC_GLOBS):
        return "docs"
    if dirs & _MIGRATION_DIRS or name.lower().endswith(".sql"):
        return "migration"
    if dirs & _CONFIG_DIRS or any(fnmatch.fnmatch(name, g) for g in _CONFIG_GLOBS):
        return "config"
    return "code"


def change_class(paths: str | Iterable[str] | None) -> str:
    """What kind of change the files make: ``docs``, ``tests`` or ``ci`` when every file
    is of that kind (``docs`` for a mix of the three); ``migration`` when any file is a
    schema migration; ``config`` when every runtime file is configuration; ``code``
    otherwise; ``""`` when the paths are unknown."""
    files = split_paths(paths)
    if not files:
        return ""
    classes = {_class_of(p) for p in files}
    if classes <= NON_RUNTIME_CLASSES:
        return classes.pop() if len(classes) == 1 else "docs"
    runtime = classes - NON_RUNTIME_CLASSES
    if "migration" in runtime:
        return "migration"
    if runtime == {"config"}:
        return "config"
    return "code"


def _known(known: Iterable[str]) -> dict[str, str]:
    """normalised name -> the name as the evidence spells it."""
    out: dict[str, str] = {}
    for k in known:
        if isinstance(k, str) and k.strip():
            out.setdefault(normalize_service(k), k)
    return out


def _in_tag(tag: str, names: dict[str, str]) -> str:
    t = normalize_service(tag.replace("/", "-").replace("@", "-"))
    best = ""
    for norm in names:
        if re.search(rf"(?:^|-){re.escape(norm)}(?:-|$)", t) and len(norm) > len(best):
            best = norm
    if best:
        return names[best]
    # deploy-<name>-<version>: the words between a known prefix and the version.
    words = t.split("-")
    if words and words[0] in _TAG_PREFIXES:
        words = words[1:]
    while words and _VERSION.match(words[-1]):
        words = words[:-1]
    # A date version (2024.12.02) or a bare version leaves nothing: no service named.
    return "-".join(words) if words and not _VERSION.match(words[0]) else ""


_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:\[(?P<bracket>[\w.\-/ ]+)\]|(?P<type>[a-z]+)\((?P<scope>[\w.\-/]+)\)!?:|(?P<plain>[\w.\-/]+)\s*:)"
)


def _in_subject(subject: str, names: dict[str, str]) -> str:
    m = _SUBJECT_PREFIX.match(subject or "")
    if not m:
        return ""
    for group in ("bracket", "scope", "plain"):
        word = m.group(group)
        if word:
            norm = normalize_service(word.split("/")[-1])
            if norm in names:
                return names[norm]
    return ""


def _in_paths(paths: list[str], names: dict[str, str], mapping: Mapping[str, str]) -> str:
    votes: Counter[str] = Counter()
    runtime = [p for p in paths if _class_of(p) not in NON_RUNTIME_CLASSES] or paths
    for p in runtime:
        parts = PurePosixPath(p).parts[:-1]
        for i, part in enumerate(parts[:3]):
            if part in mapping:
                votes[mapping[part]] += 1
                break
            norm = normalize_service(part)
            if norm in names:
                votes[names[norm]] += 1
                break
            if i == 0 and part.lower() not in _CONTAINER_DIRS:
                break
    if not votes:
        return ""
    (top, n), *rest = votes.most_common()
    return top if not rest or n > rest[0][1] else ""


def change_service(
    *,
    known: Iterable[str],
    repo: str = "",
    tags: Iterable[str] = (),
    subject: str = "",
    paths: str | Iterable[str] | None = None,
    mapping: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """The service a change touches and how that was decided, as ``(service, how)``;
    ``("", "")`` when nothing names one. ``known`` are the service names of the
    config, the service graph and the evidence; ``mapping`` is ``[git] services``."""
    names = _known(known)
    mapping = dict(mapping or {})
    repo_name = PurePosixPath(repo.rstrip("/")).name if repo else ""
    if repo_name and repo_name in mapping:
        return mapping[repo_name], f"[git] services maps {repo_name}"
    for tag in tags:
        svc = _in_tag(tag, names)
        if svc:
            return svc, f"deploy tag {tag}"
    svc = _in_subject(subject, names)
    if svc:
        return svc, "subject prefix"
    files = split_paths(paths)
    svc = _in_paths(files, names, mapping)
    if svc:
        return svc, "changed paths"
    if repo_name and normalize_service(repo_name) in names:
        return names[normalize_service(repo_name)], f"repository {repo_name}"
    return "", ""


def tag_version(tag: str) -> str:
    """The version a deploy tag names: ``deploy-execution-engine-2.14.0`` -> ``2.14.0``,
    ``v2.1`` -> ``2.1``; ``""`` when it names none."""
    words = normalize_service(tag.replace("/", "-")).split("-") if tag else []
    tail = [w for w in words if _VERSION.match(w)]
    if not tail:
        return ""
    v = tail[-1]
    return v[1:] if v[:1] in "vV" else v
