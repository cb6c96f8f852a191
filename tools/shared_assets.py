"""Where the shared test meshes are (`../shared/assets/` beside the checkout, see its
ATTRIBUTION.md): `$MAQUETTE_SHARED_ASSETS` when set, for a checkout elsewhere. One
definition for tools/ and tests/."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_ASSETS = Path(os.environ.get("MAQUETTE_SHARED_ASSETS")
                     or Path(__file__).resolve().parents[2] / "shared" / "assets")
