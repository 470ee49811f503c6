"""The lock files (requirements.lock, requirements-test.lock) that CI and the README install from pin every
dependency pyproject.toml declares, at a version it allows, the same in both: regenerate them (README,
"Reproducible installs") whenever pyproject's dependencies change."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    assert "--hash=sha256:" in text  # pip installs it in hash-checking mode
    return {canonicalize_name(m[1]): m[2] for m in re.finditer(r"^([A-Za-z0-9._-]+)==([^\s\\]+)", text, re.M)}


def test_the_lock_files_pin_what_pyproject_declares():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    runtime, everything = _pins("requirements.lock"), _pins("requirements-test.lock")
    for lock, declared in ((runtime, project["dependencies"] + extras["postgres"] + extras["mariadb"]),
                           (everything, project["dependencies"] + [r for reqs in extras.values() for r in reqs])):
        for line in declared:
            requirement = Requirement(line)
            name = canonicalize_name(requirement.name)
            assert name in lock, f"{name} is not in the lock file: regenerate it"
            assert requirement.specifier.contains(lock[name], prereleases=True), (name, lock[name], str(requirement))
    assert {name: everything.get(name) for name in runtime} == runtime  # one version of each, whatever is installed
    assert tuple(int(part) for part in runtime["python-multipart"].split(".")[:3]) >= (0, 0, 18)
