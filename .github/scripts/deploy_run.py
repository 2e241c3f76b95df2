"""Whether a workflow run is the alpha deploy: only its artifacts may be published as the deployed SBOM.

generate-sbom.yml finds artifacts named sbom-<commit>, and any run can upload an artifact of that name (a
PR's run of a modified workflow, another workflow). It pipes each candidate's run (the REST API's
`GET /repos/{repo}/actions/runs/{id}`) into this script and takes the artifact only when it exits 0: a
successful run of .github/workflows/deploy.yml in this repository, started by CI's completion on main
(deploy.yml's own trigger), never by a pull request or a fork.

Usage: gh api repos/OWNER/REPO/actions/runs/ID | python3 deploy_run.py OWNER/REPO
"""

import json
import sys
from typing import Any

DEPLOY_WORKFLOW = ".github/workflows/deploy.yml"


def refusal(run: dict[str, Any], repository: str) -> str | None:
    """Why this run is not the deploy, or None when it is."""
    head = run.get("head_repository") or {}
    checks = [
        (run.get("path") == DEPLOY_WORKFLOW, f"it is a run of {run.get('path')}, not {DEPLOY_WORKFLOW}"),
        (run.get("event") == "workflow_run", f"it was started by {run.get('event')}, not by CI's completion"),
        (run.get("head_branch") == "main", f"it ran for {run.get('head_branch')}, not main"),
        (head.get("full_name") == repository, f"it ran code from {head.get('full_name')}, not {repository}"),
        (run.get("conclusion") == "success", f"it ended {run.get('conclusion')}, not success"),
    ]
    reasons = [reason for passed, reason in checks if not passed]
    return "; ".join(reasons) or None


def main() -> int:
    repository = sys.argv[1]
    run = json.load(sys.stdin)
    reason = refusal(run, repository)
    if reason is not None:
        print(f"run {run.get('id')} is not the deploy: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
