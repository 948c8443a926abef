"""CI files that record runs, push them, report on pull requests and gate with ``check``:
a GitHub Actions workflow and a GitLab CI pipeline (``gitruns ci init``). See docs/ci.md.

Every shell step reads only the variables the CI sets for it (``GITHUB_BASE_REF``,
``CI_MERGE_REQUEST_IID`` ...), so the same steps run unchanged on a laptop with those
variables set, which is how the tests run them.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from gitruns.errors import InvalidInputError
from gitruns.query import parse

HOSTS = {"github": ".github/workflows/gitruns.yml", "gitlab": ".gitlab-ci.yml"}
DEFAULT_CHECK = 'status = "FINISHED"'


@dataclass
class WorkflowOptions:
    train: str = "python train.py"
    evaluate: str | None = None
    checks: Sequence[str] = field(default_factory=lambda: [DEFAULT_CHECK])
    baseline: str = "latest"
    install: str = "pip install gitruns"
    python: str = "3.11"
    branch: str = "main"  # the default branch: runs recorded there become baselines

    def validate(self) -> None:
        for text in self.checks:
            parse(text, baseline=True)  # a typo fails here, not in the first pull request
        for name, value in (("--train", self.train), ("--install", self.install)):
            if not value.strip():
                raise InvalidInputError(f"{name} is empty", f"give the command for {name}")


def render(host: str, options: WorkflowOptions) -> str:
    options.validate()
    if host == "github":
        return github_workflow(options)
    if host == "gitlab":
        return gitlab_pipeline(options)
    raise InvalidInputError(f"unknown CI host '{host}'", "use github or gitlab")


def _record_lines(options: WorkflowOptions) -> list[tuple[str, str]]:
    """(step name, command) for training and evaluation under gitruns record."""
    tag = '--tag ci=yes --name "{kind}-$(git rev-parse --short=8 HEAD)"'
    steps = [("Train", f"gitruns record {tag.format(kind='train')} -- {options.train}")]
    if options.evaluate:
        evaluate = f"gitruns record {tag.format(kind='eval')} -- {options.evaluate}"
        steps.append(("Evaluate", evaluate))
    return steps


def _check_args(options: WorkflowOptions) -> str:
    return " ".join(shlex.quote(text) for text in options.checks)


def _block(text: str, indent: int) -> str:
    pad = " " * indent
    return "\n".join(pad + line if line else "" for line in text.strip("\n").splitlines())


def github_workflow(options: WorkflowOptions) -> str:
    baseline = shlex.quote(options.baseline)
    record_steps = "".join(
        f"      - name: {name}\n        run: |\n{_block(command, 10)}\n"
        for name, command in _record_lines(options)
    )
    return f"""\
# Written by `gitruns ci init github` (docs/ci.md).
# On every push and pull request: record training/evaluation as gitruns runs and push them
# to refs/runs/* of this repository. On pull requests also: comment a report of the
# branch's runs against a baseline run of the base branch, and fail when a check fails.
name: gitruns
on:
  push:
    branches: [{options.branch}]
  pull_request:
permissions:
  contents: write       # push runs (refs/runs/*); branch protection rules do not cover them
  pull-requests: write  # comment the report
jobs:
  runs:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0  # runs are matched to branches by ancestry: the whole history
          # the branch's own commit, not the merge preview: runs recorded here stay
          # reachable from the branch once pushed
          ref: ${{{{ github.event.pull_request.head.sha || github.sha }}}}
      - uses: actions/setup-python@v5
        with:
          python-version: "{options.python}"
      - name: Install
        run: |
{_block(options.install, 10)}
      - name: Fetch runs
        run: |
          git config user.name "github-actions[bot]"
          git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
          gitruns fetch origin
{record_steps}      - name: Push runs
        if: always()
        # a pull request from a fork gets a read-only token: its runs stay in the job
        continue-on-error: ${{{{ github.event.pull_request.head.repo.fork == true }}}}
        run: |
          gitruns push origin
      - name: Report
        if: always()
        run: |
          if [ -n "$GITHUB_BASE_REF" ]; then
            gitruns review --base "origin/$GITHUB_BASE_REF" --baseline {baseline} \\
              -o gitruns-report.md
            gitruns report --base "origin/$GITHUB_BASE_REF" --baseline {baseline} \\
              -o gitruns-report.html
            cat gitruns-report.md >> "$GITHUB_STEP_SUMMARY"
          fi
      - name: Comment
        if: always()
        continue-on-error: ${{{{ github.event.pull_request.head.repo.fork == true }}}}
        env:
          GH_TOKEN: ${{{{ github.token }}}}
          PR_NUMBER: ${{{{ github.event.pull_request.number }}}}
        run: |
          if [ -n "$GITHUB_BASE_REF" ] && [ -f gitruns-report.md ]; then
            python -c 'import json, sys; json.dump({{"body": sys.stdin.read()}}, sys.stdout)' \\
              < gitruns-report.md > gitruns-comment.json
            curl --fail -sS -o /dev/null -X POST \\
              -H "Authorization: Bearer $GH_TOKEN" -H "Accept: application/vnd.github+json" \\
              --data @gitruns-comment.json \\
              "$GITHUB_API_URL/repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments"
          fi
      - name: Check
        run: |
          if [ -n "$GITHUB_BASE_REF" ]; then
            gitruns check --base "origin/$GITHUB_BASE_REF" --baseline {baseline} \\
              --format github --junit gitruns-check.xml \\
              {_check_args(options)}
          fi
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: gitruns-report
          path: |
            gitruns-report.md
            gitruns-report.html
            gitruns-check.xml
          if-no-files-found: ignore
"""


def gitlab_pipeline(options: WorkflowOptions) -> str:
    baseline = shlex.quote(options.baseline)
    records = "".join(f"    - {_yaml_item(command)}\n" for _name, command in _record_lines(options))
    install = "".join(
        f"    - {_yaml_item(line)}\n" for line in options.install.splitlines() if line
    )
    return f"""\
# Written by `gitruns ci init gitlab` (docs/ci.md).
# On merge requests and on the default branch: record training/evaluation as gitruns runs
# and push them to refs/runs/*. On merge requests also: post a report of the branch's runs
# against a baseline run of the target branch, and fail when a check fails.
#
# CI/CD variables (Settings > CI/CD > Variables, masked):
#   GITRUNS_PUSH_TOKEN  a project access token with write_repository: the job token
#                       cannot push, so without it runs are not pushed
#   GITRUNS_API_TOKEN   a project access token with api: posts the report as a note
gitruns:
  image: python:{options.python}
  variables:
    GIT_DEPTH: "0"  # runs are matched to branches by ancestry: the whole history
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == "{options.branch}"
  script:
{install}    - git config user.name "GitLab CI"
    - git config user.email "gitlab-ci@example.invalid"
    - |
      # branches as origin/<name>: the pipeline fetched only its own ref
      for branch in $CI_MERGE_REQUEST_TARGET_BRANCH_NAME $CI_MERGE_REQUEST_SOURCE_BRANCH_NAME \\
          $CI_COMMIT_BRANCH; do
        git fetch -q origin "+refs/heads/$branch:refs/remotes/origin/$branch"
      done
    - gitruns fetch origin
{records}    - |
      if [ -n "$GITRUNS_PUSH_TOKEN" ]; then
        git remote set-url --push origin "https://gitruns:$GITRUNS_PUSH_TOKEN@$CI_SERVER_HOST/$CI_PROJECT_PATH.git"
      fi
      if [ -n "$GITRUNS_PUSH_TOKEN" ] || [ -z "$CI_JOB_TOKEN" ]; then
        gitruns push origin
      else
        echo "gitruns: GITRUNS_PUSH_TOKEN is not set: runs are not pushed (docs/ci.md)"
      fi
    - |
      if [ -n "$CI_MERGE_REQUEST_IID" ]; then
        gitruns review --base "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME" \\
          --baseline {baseline} -o gitruns-report.md
        gitruns report --base "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME" \\
          --baseline {baseline} -o gitruns-report.html
        if [ -n "$GITRUNS_API_TOKEN" ]; then
          curl --fail -sS -o /dev/null -X POST -H "PRIVATE-TOKEN: $GITRUNS_API_TOKEN" \\
            --data-urlencode "body@gitruns-report.md" \\
            "$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes"
        fi
      fi
    - |
      if [ -n "$CI_MERGE_REQUEST_IID" ]; then
        gitruns check --base "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME" --baseline {baseline} \\
          --junit gitruns-check.xml \\
          {_check_args(options)}
      fi
  artifacts:
    when: always
    paths:
      - gitruns-report.md
      - gitruns-report.html
    reports:
      junit: gitruns-check.xml
"""


def _yaml_item(command: str) -> str:
    """A one-line script item, quoted when YAML would read it as something else."""
    import json

    plain = (
        command and not any(c in command for c in ":#{}[]&*!|>'\"%@`,") and command[0] not in "-?"
    )
    return command if plain else json.dumps(command)
