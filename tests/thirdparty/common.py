"""Helpers of run.py: fetching sdists, running pytest, virtualenvs, harness edits."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[2]


def sh(cmd, **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=kw.pop("check", True), **kw)


def sdist(py: Path, spec: str, into: Path) -> Path:
    """Unpack the sdist of ``spec`` (``name==version``) under ``into``, afresh each run so
    the harness patched into it is this checkout's; its directory."""
    name, version = spec.split("==")
    target = into / f"{name}-{version}"
    archive = into / f"{name}-{version}.tar.gz"
    if not archive.exists():
        sh([py, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", name,
            "-d", into, spec])
    shutil.rmtree(target, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return target


def patch(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if new in text:
        return
    if old not in text:
        raise SystemExit(f"{path}: the harness's anchor is gone ({old.strip()[:60]!r})")
    path.write_text(text.replace(old, new, 1))


def failures(output: str) -> set[str]:
    """Test ids pytest reported FAILED, SUBFAILED(...) or ERROR (summary lines)."""
    pattern = r"^(?:SUB)?(?:FAILED|ERROR)(?:\(.*?\))? (tests/\S+)"
    return {m.group(1) for m in re.finditer(pattern, output, re.M)}


def on_loop(ids: set, token: str) -> set:
    """The ids whose parameters name ``token``, with that name replaced by ``LOOP``."""
    pattern = re.compile(rf"(?<![\w+]){re.escape(token)}(?![\w+])")
    return {pattern.sub("LOOP", t) for t in ids if pattern.search(t.partition("[")[2])}


def pytest(py: Path, cwd: Path, args: list[str], env: dict | None = None,
           prefix: list[str] | None = None) -> tuple[set, str]:
    full_env = dict(os.environ, **(env or {}))
    proc = sh([*(prefix or []), py, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider",
               "--timeout", "120", *args],
              cwd=cwd, env=full_env, check=False, capture_output=True, text=True)
    tail = [line for line in proc.stdout.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    summary = tail[-1] if tail else proc.stdout[-2000:] + proc.stderr[-2000:]
    print("   ", summary, flush=True)
    return failures(proc.stdout), summary


def venv_with(work: Path, name: str, deps: list[str]) -> Path:
    """The interpreter of ``work/<name>``, a virtualenv with ``deps`` and the aioxide
    wheel just built (reinstalled on every run); with no wheel built (``--no-build``),
    the checkout's ``python/`` through a ``.pth`` file instead."""
    venv = work / name
    vpy = venv / "bin" / "python"
    if not vpy.exists():
        sh([sys.executable, "-m", "venv", venv])
    sh([vpy, "-m", "pip", "install", "--quiet", *deps])
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = subprocess.run([str(vpy), "-c", purelib], check=True, capture_output=True,
                          text=True).stdout.strip()
    checkout = Path(site) / "aioxide-checkout.pth"
    wheels = sorted((work / "wheels").glob("aioxide-*.whl"))
    if wheels:
        checkout.unlink(missing_ok=True)
        sh([vpy, "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", *wheels])
    else:
        sh([vpy, "-m", "pip", "uninstall", "--quiet", "--yes", "aioxide"])
        checkout.write_text(f"{ROOT / 'python'}\n")
    return vpy


def add_harness(conftest: Path, harness: str) -> None:
    """Append ``harness`` to a suite's conftest (made if missing), once."""
    text = conftest.read_text() if conftest.exists() else ""
    if "aioxide harness" not in text:
        conftest.write_text(text + harness)


def copied_tests(py: Path, work: Path, spec: str, tests_dir: str) -> tuple[Path, bool]:
    """A copy of the sdist's tests under ``work/<name>-tests/tests``; whether it is new."""
    src = sdist(py, spec, work)
    root = work / f"{spec.split('==')[0]}-tests"
    if root.exists():
        return root, False
    shutil.copytree(src / tests_dir, root / "tests")
    return root, True


def twice(py: Path, root: Path, args: list[str]) -> tuple[set, set]:
    """The suite on the reference loop, then with AIOXIDE_THIRDPARTY set."""
    ref, _ = pytest(py, root, args)
    ax, _ = pytest(py, root, args, {"AIOXIDE_THIRDPARTY": "1"})
    return ref, ax


def unprivileged(py: Path) -> list[str]:
    """The command prefix that runs as ``nobody`` when this script runs as root (for
    programs that refuse root); nothing otherwise."""
    if os.geteuid() != 0:
        return []
    # Each directory above the interpreter must be searchable by other users.
    for d in [*Path(py).resolve().parents, *py.parents]:
        if d.stat().st_mode & 0o001 == 0:
            sh(["chmod", "o+x", d])
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
            "env", "HOME=/tmp"]


def junit(report: Path, root: Path) -> dict[str, tuple[str, str]]:
    """Each test of a pytest JUnit XML report, by id (``tests/x.py::Class::name[p]``):
    its outcome (``passed``, ``skipped`` or ``failed``; an error in setup or teardown is a
    failure) and the first line of its failure or skip message. Nothing if there is no
    report (pytest did not get that far)."""
    if not report.exists():
        return {}
    rank = {"passed": 0, "skipped": 1, "failed": 2}
    tests: dict[str, tuple[str, str]] = {}
    for case in ElementTree.parse(report).iter("testcase"):
        parts = case.get("classname", "").split(".")
        split = next((i for i in range(1, len(parts) + 1)
                      if (root / Path(*parts[:i])).with_suffix(".py").exists()), len(parts))
        test = "::".join(["/".join(parts[:split]) + ".py", *parts[split:], case.get("name", "")])
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = "skipped" if child.tag == "skipped" else "failed"
                text = child.get("message") or child.text or ""
                message = (text.strip().splitlines() or [""])[0][:200]
                break
        if test not in tests or rank[outcome] > rank[tests[test][0]]:
            tests[test] = (outcome, message)
    return tests
