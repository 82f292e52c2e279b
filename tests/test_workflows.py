"""The GitHub workflows parse, do what CONTRIBUTING.md promises, and follow least privilege."""

import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
ACTIONS = sorted((REPO / ".github" / "actions").glob("*/action.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
WRITE_ALLOWED = {"pages", "id-token", "issues"}  # the Pages deploy job and the paper watch's poster only


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def steps(data: dict) -> list[dict]:
    if "jobs" in data:
        return [s for job in data["jobs"].values() for s in job.get("steps", [])]
    return data["runs"]["steps"]


def workflow(name: str) -> dict:
    return load(REPO / ".github" / "workflows" / name)


def test_workflows_exist():
    assert {p.name for p in WORKFLOWS} == {"pull-request.yml", "publish.yml", "links.yml", "watch.yml"}


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=lambda p: p.parent.name + "/" + p.name)
def test_structure(path):
    data = load(path)
    assert data.get("name")
    if path.name == "action.yml":
        assert data["runs"]["using"] == "composite"
    else:
        assert data.get("on") and data.get("jobs")
        for name, job in data["jobs"].items():
            assert job.get("runs-on"), f"{name}: no runs-on"
            assert job.get("steps"), f"{name}: no steps"
            if "timeout-minutes" not in job and name != "deploy":
                pytest.fail(f"{path.name}:{name} has no timeout-minutes")
    for step in steps(data):
        assert ("uses" in step) != ("run" in step), f"a step needs exactly one of uses/run: {step}"
        if path.name == "action.yml" and "run" in step:
            assert step.get("shell") == "bash"


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=lambda p: p.parent.name + "/" + p.name)
def test_actions_are_pinned_to_commits(path):
    for step in steps(load(path)):
        uses = step.get("uses")
        if uses and not uses.startswith("./"):
            assert PINNED.match(uses), f"{path.name}: {uses} is not pinned to a full commit SHA"
    text = path.read_text()
    for line in text.splitlines():
        if "uses:" in line and "@" in line:
            assert re.search(r"@[0-9a-f]{40} # v\d", line), f"say which release a pin is: {line.strip()}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege(path):
    data = load(path)
    assert "pull_request_target" not in data["on"], "pull_request_target would run contributor code with secrets"
    assert data.get("permissions") == {"contents": "read"}, "the default token must be read-only"
    for name, job in data["jobs"].items():
        granted = job.get("permissions", {})
        writes = {scope for scope, level in granted.items() if level == "write"}
        assert writes <= WRITE_ALLOWED, f"{name} asks to write {writes}"
        if writes:
            assert (path.name, name, frozenset(writes)) in {
                ("publish.yml", "deploy", frozenset({"pages", "id-token"})),
                ("watch.yml", "post", frozenset({"issues"})),
            }, f"{path.name}:{name} may not write {writes}"


def test_the_paper_watch_keeps_one_sticky_issue():
    data = workflow("watch.yml")
    assert set(data["on"]) == {"schedule", "workflow_dispatch"}  # never on contributor events
    post = data["jobs"]["post"]
    assert "run" not in " ".join(str(s) for s in data["jobs"]["triage"]["steps"] if "gh " in str(s))
    script = "\n".join(s.get("run", "") for s in post["steps"])
    assert "gh issue list --label paper-watch --state open" in script and "gh issue edit" in script
    assert script.index("gh issue edit") < script.index("gh issue create")  # update first, create only if none
    for step in steps(data):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False


def test_pull_requests_validate_test_build_and_attach_the_site():
    data = workflow("pull-request.yml")
    assert set(data["on"]) == {"pull_request"}
    assert data["permissions"] == {"contents": "read"}
    runs = "\n".join(s.get("run", "") for s in steps(data))
    for command in (
        "python -m atlas validate",
        "python -m atlas format --check",
        "python -m pytest",
        "python -m atlas build --clean",
    ):
        assert command in runs
    assert "::add-matcher::.github/atlas-problem-matcher.json" in runs
    upload = next(s for s in steps(data) if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "_build/html"


def test_main_and_weekly_publish_to_pages():
    data = workflow("publish.yml")
    assert data["on"]["push"]["branches"] == ["main"] and data["on"]["schedule"]
    assert "python -m atlas build --clean" in "\n".join(s.get("run", "") for s in steps(data))
    deploy = data["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])


def test_weekly_link_check():
    data = workflow("links.yml")
    assert data["on"]["schedule"] and "python scripts/check_links.py" in "\n".join(
        s.get("run", "") for s in steps(data)
    )


def test_problem_matcher_reads_validator_output():
    matcher = json.loads((REPO / ".github" / "atlas-problem-matcher.json").read_text())["problemMatcher"][0]["pattern"][
        0
    ]
    match = re.match(matcher["regexp"], "data/papers/frantar2022gptq.yaml:3: topics[0]: unknown topic 'x'")
    assert (
        match
        and match.group(matcher["file"]) == "data/papers/frantar2022gptq.yaml"
        and match.group(matcher["line"]) == "3"
    )


def test_setup_action_installs_cpu_torch_and_the_pins():
    runs = "\n".join(s.get("run", "") for s in steps(load(REPO / ".github" / "actions" / "setup-atlas" / "action.yml")))
    assert "--index-url https://download.pytorch.org/whl/cpu torch==2.13.0" in runs
    assert "pip install -r requirements.txt" in runs
    assert "torch==2.13.0" in (REPO / "requirements.txt").read_text().split()


def test_pre_commit_hooks():
    hooks = {
        h["id"]: h
        for repo in yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())["repos"]
        for h in repo["hooks"]
    }
    assert {"atlas-notebooks", "ruff", "atlas-validate", "atlas-format"} <= set(hooks)
    assert hooks["atlas-validate"]["entry"] == "python -m atlas validate"
    assert hooks["atlas-notebooks"]["entry"] == "python -m atlas notebooks"  # outputs never reach the .ipynb
    requirements = (REPO / "requirements.txt").read_text()
    assert "ruff==" in requirements and "pre_commit==" in requirements
