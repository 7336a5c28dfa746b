"""Reading the project's YAML configuration (models, vocabulary, roles, scorecards, gazetteer).

libyaml's parser where PyYAML was built with it: the same Python objects as ``yaml.safe_load``,
ten times faster (0.04 s instead of 0.38 s for the files under ``models/``, read at every start).
"""

from __future__ import annotations

from typing import Any

import yaml

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``; raises ``yaml.YAMLError`` on invalid YAML."""
    return yaml.load(text, Loader=_Loader)
