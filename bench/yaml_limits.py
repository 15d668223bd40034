"""How long the bounded YAML reader (engine/config/yamlsafe.py) takes to refuse hostile files.

Each case is refused through ``load_flows`` (the path a flow file takes at start, reload and
``hotline flows validate``) and ``load_config``; the time is the median of 5 runs, with libyaml
and with the pure-Python PyYAML the reader falls back to.

Run: ``PYTHONPATH=. python bench/yaml_limits.py``.  Prints milliseconds per case.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import yaml

from engine.config import ConfigError, load_config, yamlsafe
from engine.ivr.errors import FlowValidationError
from engine.ivr.loader import load_flows


def _laughs() -> str:
    lines = ["variables:", "  l0: &l0 [ha, ha, ha, ha, ha, ha, ha, ha, ha]"]
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


CASES = {
    "billion laughs (9**10 values)": _laughs().encode(),
    "flow nesting [[[...]]] x 100000": b"a: " + b"[" * 100_000 + b"]" * 100_000,
    "block nesting, 1000 levels": "".join("  " * i + f"k{i}:\n" for i in range(1000)).encode(),
    "alias chain, 256 levels": (
        "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 256))
    ).encode(),
    "10,000 aliases": b"a: &a x\nb: [" + b", ".join([b"*a"] * 10_000) + b"]\n",
    "1 MiB + 1 byte": b"#" * (1024 * 1024 + 1),
    "invalid UTF-8 after 1 MiB - 1": b"#" * (1024 * 1024 - 2) + b"\n\xff",
}


def _refuse(path: Path) -> float:
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        try:
            load_flows(path)
        except FlowValidationError:
            pass
        else:
            raise AssertionError(f"{path} was accepted")
        try:
            load_config(path)
        except ConfigError:
            pass
        else:
            raise AssertionError(f"{path} was accepted as a config")
        runs.append(time.perf_counter() - start)
    return statistics.median(runs) * 1000


def main() -> None:
    loaders = {"libyaml": getattr(yaml, "CSafeLoader", None), "pure Python": yaml.SafeLoader}
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'case':40} " + " ".join(f"{name:>12}" for name in loaders))
        for name, data in CASES.items():
            path = Path(tmp) / "case.yaml"
            path.write_bytes(data)
            cells = []
            for loader in loaders.values():
                if loader is None:
                    cells.append(f"{'-':>12}")
                    continue
                yamlsafe._Loader = loader
                cells.append(f"{_refuse(path):>9.1f} ms")
            print(f"{name:40} " + " ".join(cells))


if __name__ == "__main__":
    main()
