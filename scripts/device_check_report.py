"""Writes the one summary of scripts/device_check.sh (markdown) from the logs it left: the steps with
their outcome, the environment, the CUDA test counts and failures (JUnit XML), the sanitizer
summaries and the benchmark table. Exit status 1 when a step failed.

  python scripts/device_check_report.py --logs build/device/logs --out $OUT/device_check.md --dry 0
"""
from __future__ import annotations

import argparse
import re
import xml.etree.ElementTree as ET
from pathlib import Path

MAX_EXCERPT = 60  # lines of a log quoted per failure


def read(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


def steps(logs: Path) -> list[tuple[str, str, str, str]]:
    rows = []
    for line in read(logs / "steps.tsv").splitlines():
        parts = (line.split("\t") + ["", "", "", ""])[:4]
        rows.append(tuple(parts))
    return rows


def junit(path: Path) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Counts (tests, passed, failed, errors, skipped) and the failing cases with their first lines."""
    if not path.is_file():
        return {}, []
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    failures = []
    for suite in ET.parse(path).getroot().iter("testsuite"):
        for key in counts:
            counts[key] += int(suite.get(key, 0))
        for case in suite.iter("testcase"):
            for tag in ("failure", "error"):
                node = case.find(tag)
                if node is not None:
                    name = f"{case.get('classname', '')}::{case.get('name', '')}"
                    message = (node.get("message") or node.text or "").strip().splitlines()
                    failures.append((name, message[0][:300] if message else tag))
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return counts, failures


def sanitizer_excerpt(log: str) -> list[str]:
    """The summary line and the first reported errors/hazards of a compute-sanitizer log."""
    lines = [line for line in log.splitlines() if re.match(r"={9} \S", line)]  # not pytest's ===== rulers
    return lines[:MAX_EXCERPT // 2] + [line for line in lines[MAX_EXCERPT // 2:] if "SUMMARY" in line]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--logs", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--dry", default="0")
    ap.add_argument("--seconds", type=int, default=0)
    args = ap.parse_args()
    logs, dry = args.logs, args.dry == "1"

    rows = steps(logs)
    counts, failures = junit(logs / "cuda_tests.xml")
    if counts and not dry and (counts["skipped"] or not counts["passed"]):  # on the GPU every CUDA test must run
        rows.append(("CUDA tests ran", "fail", "", f"{counts['skipped']} skipped, {counts['passed']} passed: "
                     "on the GPU machine no CUDA test may skip (see the log tail)"))
    failed = [r for r in rows if r[1] == "fail"]
    verdict = "FAILED" if failed or not rows else "passed"
    mode = "dry run (no GPU: build, collection, test bodies and benchmark code on the CPU)" if dry else "GPU run"
    out = [f"# stx device check: {verdict}", "", f"Mode: {mode}; total {args.seconds} s.", "", "## Environment", "",
           "```", read(logs / "environment.txt").strip(), "```", "", "## Steps", "",
           "| step | result | seconds | detail |", "|---|---|---|---|"]
    for step, status, seconds, detail in rows:
        shown = {"pass": "pass", "fail": "**FAIL**", "skipped": "skipped"}.get(status, status)
        out.append(f"| {step} | {shown} | {seconds} | {detail.replace('|', '/')} |")

    if counts:
        out += ["", "## CUDA tests" + (" (bodies run against the CPU)" if dry else ""), "",
                f"{counts['tests']} tests: {counts['passed']} passed, {counts['failures']} failed, "
                f"{counts['errors']} errors, {counts['skipped']} skipped."]
        if failures:
            out += ["", "| failing test | first line |", "|---|---|"]
            out += [f"| `{name}` | {msg.replace('|', '/')} |" for name, msg in failures[:80]]
            if len(failures) > 80:
                out.append(f"| ... {len(failures) - 80} more | |")
    collect = read(logs / "collect.log").strip().splitlines()
    if collect:
        out += ["", f"Collected: {collect[-1]}"]

    for tool in ("memcheck", "racecheck"):
        excerpt = sanitizer_excerpt(read(logs / f"sanitizer_{tool}.log"))
        if excerpt:
            out += ["", f"## compute-sanitizer {tool}", "", "```", *excerpt, "```"]

    bench = read(logs / "bench.md").strip()
    if bench:
        out += ["", "## Benchmarks" + (" (quick sizes on the CPU: not a GPU measurement)" if dry else ""), "", bench]
    elif (logs / "bench.log").is_file():
        out += ["", "## Benchmarks (no table; log tail)", "", "```",
                *read(logs / "bench.log").splitlines()[-MAX_EXCERPT:], "```"]

    for name, title, lines in (("build_failure.log", "Build failure", MAX_EXCERPT),
                               ("cuda_tests.log", "CUDA test log (tail)", 2 * MAX_EXCERPT)):
        text = read(logs / name)
        if text and (name == "build_failure.log" or failed or not counts or counts.get("errors")):
            out += ["", f"## {title}", "", "```", *text.splitlines()[-lines:], "```"]

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out) + "\n")
    print(f"device check {verdict}: {len(failed)} failed step(s); summary in {args.out}")
    return 1 if failed or not rows else 0


if __name__ == "__main__":
    raise SystemExit(main())
