"""Try every link in the dataset and report the dead ones as FILE:LINE: message (exit 1 if any).

    python scripts/check_links.py

Needs the network: CI runs it weekly (.github/workflows/links.yml). Rate-limited or forbidden
answers (401, 403, 429) are not counted as dead: those pages exist but refuse robots.
"""

import sys

from atlas.dataset import links


def main() -> int:
    found = links.collect()
    problems = links.dead(found)
    for problem in problems:
        print(problem)
    print(f"{len(found)} links checked, {len(problems)} dead.", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
