"""How long ``hotline agent import`` takes for 1,000 agents (issue 17: under 10 s), and the re-run.

Each run starts from a fresh SQLite database holding 5 skills, then times, through the CLI's own
entry point (``cli.main``, a database session and commit included): the first import of N agents
with 2 skill levels each (all created), the same file again (all unchanged), and an export. CSV and
YAML. Set ``HOTLINE_BENCH_DATABASE_URL`` to time against another database (e.g. PostgreSQL).

Run: ``PYTHONPATH=. python bench/provisioning.py [N]`` (default 1000). Prints seconds per step.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import cli


def _agents_csv(n: int, base: int) -> str:
    rows = [f"{base + i},Agent {i},user/{base + i},skill{i % 5}={1 + i % 10};skill{(i + 1) % 5}=5" for i in range(n)]
    return "id,name,contact,skills\n" + "\n".join(rows) + "\n"


def _agents_yaml(n: int, base: int) -> str:
    items = [
        f"- {{id: '{base + i}', name: Agent {i}, contact: user/{base + i}, "
        f"skills: {{skill{i % 5}: {1 + i % 10}, skill{(i + 1) % 5}: 5}}}}"
        for i in range(n)
    ]
    return "agents:\n" + "\n".join(items) + "\n"


def _hotline(config: Path, *args: str) -> float:
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
        code = cli.main(["--config", str(config), *args])
    took = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"hotline {' '.join(args)} failed ({code}): {err.getvalue()}{out.getvalue()[-500:]}")
    return took


def run(n: int, suffix: str, text: str, work: Path) -> dict[str, float]:
    """Seconds for the first import, the re-run and an export of ``n`` agents in one format."""
    data = work / suffix
    data.mkdir()
    url = os.environ.get("HOTLINE_BENCH_DATABASE_URL", f"sqlite:///{data / 'hotline.db'}")
    config = data / "hotline.yaml"
    config.write_text(f"data_dir: {data / 'var'}\ndatabase_url: {url}\n")
    (data / "skills.csv").write_text("name\n" + "".join(f"skill{i}\n" for i in range(5)))
    _hotline(config, "skill", "import", str(data / "skills.csv"))
    path = data / f"agents.{suffix}"
    path.write_text(text)
    changed = data / f"changed.{suffix}"  # every name and skill set different
    changed.write_text(text.replace("Agent ", "Agent no. ").replace("=5", "=6").replace(": 5}", ": 6}"))
    return {
        "first import": _hotline(config, "agent", "import", str(path)),
        "re-run (unchanged)": _hotline(config, "agent", "import", str(path)),
        "all changed": _hotline(config, "agent", "import", str(changed)),
        "export": _hotline(config, "agent", "export", str(data / f"out.{suffix}")),
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        # other ids per format: on a shared database (HOTLINE_BENCH_DATABASE_URL) the second run creates too
        for suffix, text in (("csv", _agents_csv(n, 100_000)), ("yaml", _agents_yaml(n, 200_000))):
            for step, seconds in run(n, suffix, text, Path(tmp)).items():
                print(f"{n} agents, {suffix:4s} {step:20s} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
