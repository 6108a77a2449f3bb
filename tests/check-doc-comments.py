#!/usr/bin/env python3
"""Every exported function in the public headers has a doc comment.

The header comments are the API reference: each XS2S_EXTERN declaration
must follow a /** ... */ block whose first line is "name - summary".
"""
import pathlib
import re
import sys

DECL = re.compile(r"^XS2S_EXTERN\b[^;{]*?\b(xs2s_\w+)\s*\(", re.S | re.M)


def check(path):
    text = path.read_text()
    problems = []
    for m in DECL.finditer(text):
        name = m.group(1)
        before = text[: m.start()].rstrip()
        if not before.endswith("*/"):
            problems.append(f"{path.name}: {name} has no doc comment")
            continue
        start = before.rfind("/*")
        comment = before[start:]
        if not comment.startswith("/**"):
            problems.append(f"{path.name}: {name}: comment must start with /**")
        elif not re.search(r"\b" + re.escape(name) + r"\s+-\s+\S", comment):
            problems.append(f"{path.name}: {name}: comment must begin "
                            f"'{name} - summary'")
    return problems, len(DECL.findall(text))


def main():
    headers = sorted(pathlib.Path(sys.argv[1]).glob("*.h"))
    problems, total = [], 0
    for h in headers:
        p, n = check(h)
        problems += p
        total += n
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{total} exported declarations in {len(headers)} headers, "
          f"{len(problems)} without proper doc comments")
    return 1 if problems or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
