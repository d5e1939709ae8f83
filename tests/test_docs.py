"""The documentation site builds without a warning: every page in the navigation, every link
and anchor found, the command reference generated from the command line."""

import os
import subprocess
import sys
from pathlib import Path

from etl.settings import PROJECT_DIR


def test_the_site_builds_strictly(tmp_path: Path):
    built = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "-d", str(tmp_path)],
        cwd=PROJECT_DIR,
        # Material's notice about MkDocs 2.0, printed on every build, says nothing about ours
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    reference = (tmp_path / "commands" / "index.html").read_text()
    for command in ("verify-erasure", "partitions detach", "marts refresh", "rotate-key"):
        assert command in reference, command
