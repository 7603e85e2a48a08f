"""An embedded PostgreSQL under .data/ for machines where DATABASE_URL is not set."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path


def embedded_database_url(data_dir: Path) -> str:
    """Start (or join) the PostgreSQL server kept in `data_dir` and return its socket URL.

    The server is shared by every process of the project and stops when the last one exits.
    """
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pgserver  # imported here: production deployments never need it

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    return server.get_uri()
