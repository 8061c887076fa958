"""ASV runs over neuronbench's own environment: one commit, the last N commits, or BASE vs HEAD.

``asv.conf.json`` uses the ``existing`` environment (the nox environment with every framework,
about 3 GB: asv building one per commit is out of the question), so asv never checks a commit
out itself. Instead each commit is checked out in a temporary ``git worktree`` and put first
on ``PYTHONPATH`` while ``asv run --set-commit-hash`` records its results; the benchmark
definitions always come from this checkout's ``suites/asv`` (older commits have none), and call
only code that exists in every benchmarked commit. Results go to ``reports/asv/results`` (one
machine name for every session, ``MACHINE``; the CPU it ran on is in the machine record), the
site to ``reports/asv/html``.

``asv continuous`` would build two environments, which ``existing`` cannot; ``compare`` runs
both commits the same way and reads ``asv compare --split``'s "worse" section instead, failing
on any benchmark slower by more than the factor (default 1.10, the issue's 10 %).

    python -m suites.performance.asv_runs run [--history N] [--quick] [--bench REGEX]
    python -m suites.performance.asv_runs compare BASE [--factor 1.1]
    python -m suites.performance.asv_runs publish
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "asv.conf.json"
MACHINE = "neuronbench-cpu"
RESULTS = ROOT / "reports" / "asv" / "results"


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def _asv(*args: str, env: dict[str, str] | None = None, capture: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "asv", *args, "--config", str(CONFIG)]
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, check=True, env=env, cwd=ROOT, text=True, capture_output=capture)


def machine_facts() -> dict[str, str]:
    """What asv records about the machine: the CPU model, cores, memory, OS and architecture.

    They become parameters of every result, so numbers from another CPU (sessions are not
    always given the same model) form their own line in a graph instead of joining this one.
    """
    import platform

    from suites.provenance import cpu_model

    ram = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{round(int(line.split()[1]) / 2**20)}GB"
    return {"os": f"{platform.system()} {platform.release().split('-')[0]}",
            "arch": platform.machine(), "cpu": cpu_model(),
            "num_cpu": str(len(os.sched_getaffinity(0))), "ram": ram}


def ensure_machine() -> None:
    """Write asv's machine record (``~/.asv-machine.json``) for ``MACHINE`` with this machine's
    facts. Written directly: ``asv machine --yes`` kept only some of the facts it was given."""
    import json

    record = Path.home() / ".asv-machine.json"
    data = json.loads(record.read_text()) if record.is_file() else {}
    data[MACHINE] = {"machine": MACHINE, **machine_facts()}
    data["version"] = 1
    record.write_text(json.dumps(data, indent=4, sort_keys=True) + "\n")


def portable_results() -> list[Path]:
    """Rewrite the results so they name no path of this machine: asv's ``existing`` environment
    is named after the interpreter's absolute path, which differs between checkouts (CI clones
    elsewhere) and would split the history into one line per checkout. The environment becomes
    ``existing-py<major.minor>`` and the interpreter its version. Returns the files rewritten."""
    import json

    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    env_name = f"existing-py{version}"
    rewritten = []
    for path in sorted((RESULTS / MACHINE).glob("*.json")):
        if path.name == "machine.json":
            continue
        data = json.loads(path.read_text())
        if data.get("env_name") == env_name and data.get("python") == version:
            continue
        data["env_name"], data["python"] = env_name, version
        data.setdefault("params", {})["python"] = version
        target = path.with_name(f"{data['commit_hash'][:8]}-{env_name}.json")
        target.write_text(json.dumps(data, sort_keys=True))
        if target != path:
            path.unlink()
        rewritten.append(target)
    return rewritten


def resolve(commit: str) -> str:
    return _git("rev-parse", "--verify", f"{commit}^{{commit}}")


@contextlib.contextmanager
def checkout(sha: str) -> Iterator[Path]:
    """This checkout for HEAD, else a temporary detached worktree of ``sha`` (removed after)."""
    if sha == resolve("HEAD"):
        if _git("status", "--porcelain", "--untracked-files=no"):
            print(f"warning: the working tree differs from HEAD {sha[:8]}; its results are "
                  "recorded under HEAD", file=sys.stderr)
        yield ROOT
        return
    with tempfile.TemporaryDirectory(prefix="neuronbench-asv-") as tmp:
        tree = Path(tmp) / sha[:12]
        _git("worktree", "add", "--detach", str(tree), sha)
        try:
            yield tree
        finally:
            _git("worktree", "remove", "--force", str(tree))


def has_results(sha: str) -> bool:
    return any((RESULTS / MACHINE).glob(f"{sha[:8]}-*.json"))


def run_commit(sha: str, *, quick: bool = False, bench: str | None = None) -> None:
    """Benchmark one commit's code with this checkout's benchmarks; results under its hash."""
    with checkout(sha) as tree:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(tree), *filter(None, [os.environ.get("PYTHONPATH")])])}
        args = ["run", "--environment", f"existing:{sys.executable}", "--set-commit-hash", sha,
                "--machine", MACHINE, "--show-stderr"]
        if quick:
            args.append("--quick")
        if bench:
            args += ["--bench", bench]
        _asv(*args, env=env)
    portable_results()


def history(n: int, *, quick: bool = False, bench: str | None = None, redo: bool = False) -> list[str]:
    """Run HEAD and those of the last ``n`` first-parent commits that have no results yet (oldest
    first; HEAD always, since the working tree may have moved on)."""
    shas = _git("rev-list", "--first-parent", "-n", str(n), "HEAD").split()
    todo = [s for s in reversed(shas) if redo or s == shas[0] or not has_results(s)]
    for sha in todo:
        run_commit(sha, quick=quick, bench=bench)
    return todo


def publish() -> None:
    """The site from the results, with its JavaScript libraries beside it (works offline)."""
    from suites.performance.asv_vendor import vendor_site

    portable_results()
    _asv("publish")
    vendor_site(ROOT / "reports" / "asv" / "html")


def worse_benchmarks(compare_output: str) -> list[str]:
    """The benchmarks of ``asv compare --split``'s "got worse" section whose change mark is
    ``+`` (slower beyond the factor) or ``!`` (failed after working before).

    asv 0.6 prints the sections as Markdown tables (``| + | before | after | ratio | name |``);
    older releases as whitespace columns (``+  before  after  ratio  name``). Both are read.
    """
    rows, inside = [], False
    for line in compare_output.splitlines():
        text = line.strip()
        if text.lower().startswith("benchmarks that have"):
            inside = text.lower().startswith("benchmarks that have got worse")
            continue
        if not inside or not text:
            continue
        if text.startswith("|"):
            cells = [c.strip() for c in text.strip("|").split("|")]
            if cells and cells[0] in ("+", "!"):
                rows.append(cells[-1])
        elif text.startswith(("+", "!")):
            rows.append(text.split(None, 4)[-1])
    return rows


def compare(base: str, *, factor: float = 1.10, quick: bool = False, bench: str | None = None) -> int:
    """Run BASE and HEAD, then fail (1) when any benchmark got worse by more than ``factor``."""
    base_sha, head_sha = resolve(base), resolve("HEAD")
    for sha in (base_sha, head_sha):
        run_commit(sha, quick=quick, bench=bench)
    done = _asv("compare", base_sha, head_sha, "--factor", str(factor), "--split", "--machine", MACHINE,
                capture=True)
    print(done.stdout)
    worse = worse_benchmarks(done.stdout)
    if worse:
        print(f"{len(worse)} benchmark(s) slower than {factor}x {base_sha[:8]}: {', '.join(worse)}",
              file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m suites.performance.asv_runs", allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", allow_abbrev=False, help="benchmark HEAD (and back-fill history), then publish")
    run.add_argument("--history", type=int, default=1, help="the last N commits (default 1: HEAD)")
    run.add_argument("--redo", action="store_true", help="rerun commits that already have results")
    cmp = sub.add_parser("compare", allow_abbrev=False, help="BASE against HEAD; non-zero on a regression")
    cmp.add_argument("base")
    cmp.add_argument("--factor", type=float, default=1.10)
    for p in (run, cmp):
        p.add_argument("--quick", action="store_true", help="one sample per benchmark (asv --quick)")
        p.add_argument("--bench", help="only benchmarks matching this regular expression")
    sub.add_parser("publish", allow_abbrev=False, help="rebuild reports/asv/html from the results")
    args = parser.parse_args(argv)
    if args.command == "publish":
        publish()
        return 0
    ensure_machine()
    if args.command == "compare":
        return compare(args.base, factor=args.factor, quick=args.quick, bench=args.bench)
    if args.history < 1:
        parser.error("--history must be at least 1")
    ran = history(args.history, quick=args.quick, bench=args.bench, redo=args.redo)
    print(f"benchmarked {len(ran)} commit(s): {', '.join(s[:8] for s in ran) or 'none new'}")
    publish()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
