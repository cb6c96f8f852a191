"""Write docs/HANDOFF.md's targets table from the one table in the code.

    python tools/handoff_doc.py            # print the table (Markdown)
    python tools/handoff_doc.py --check    # exit 1 if docs/HANDOFF.md differs from it
    python tools/handoff_doc.py --write    # rewrite that block of docs/HANDOFF.md

Every size, frame rule, rate and source comes from `engine.scene.handoff.TARGETS`;
nothing is typed twice. The block sits between the BEGIN and END marker lines below.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running from a plain checkout, uninstalled
    sys.path.insert(0, str(ROOT))

from engine.fileio import write_bytes_atomic  # noqa: E402
from engine.scene.handoff import targets_markdown  # noqa: E402

DOC = ROOT / "docs" / "HANDOFF.md"
BEGIN = ("<!-- targets table: generated from engine/scene/handoff.py by "
         "`python tools/handoff_doc.py --write`; edit TARGETS, not this -->")
END = "<!-- end of the generated targets table -->"


def updated(text: str) -> str:
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC}: the marker lines are missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{targets_markdown()}{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true")
    group.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if not (args.check or args.write):
        print(targets_markdown(), end="")
        return 0
    text = DOC.read_text()
    new = updated(text)
    if args.check:
        if new != text:
            print(f"{DOC} is stale: run python tools/handoff_doc.py --write")
            return 1
        return 0
    if new != text:
        write_bytes_atomic(DOC, new.encode())
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
