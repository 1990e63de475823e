"""``python -m kpi_logic ...``: see :mod:`kpi_logic.cli`."""

from __future__ import annotations

import sys

from kpi_logic.cli import main

sys.exit(main())
