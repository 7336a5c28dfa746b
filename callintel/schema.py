"""Write the analysis result's JSON Schema: ``python -m callintel.schema``."""

from __future__ import annotations

import json

from callintel.result import SCHEMA_PATH, json_schema

if __name__ == "__main__":
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
