"""Keep the example offline: litellm downloads its table of model prices when it is imported,
unless told to use the copy it ships with."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
