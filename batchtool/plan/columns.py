"""The columns ``plan_frame`` adds to a frame, which the later steps read by these names."""

from __future__ import annotations

from typing import Final

VALID: Final = "_valid"
ERROR: Final = "_error"
LOOKUP_KEY: Final = "_lookup_key"
LOOKUP_VALUE: Final = "_lookup_value"
PRESET_STATUS: Final = "_preset_status"
PRESET_ERROR: Final = "_preset_error"
#: What is odd about a row that is sent anyway, for the person to check; null when nothing.
WARNING: Final = "_warning"

#: Between the reasons of one row in ``ERROR`` (and in ``WARNING``).
SEPARATOR: Final = "; "
