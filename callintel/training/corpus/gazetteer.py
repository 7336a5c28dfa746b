"""Brands and models from the shared gazetteer (``models/gazetteer/cars.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from callintel.settings import Settings


@dataclass(frozen=True)
class CarModel:
    """One model; ``canonical`` is the DOMAIN.md form ``"<brand> <model>"``."""

    brand: str
    brand_en: str
    brand_aliases: tuple[str, ...]
    name: str
    aliases: tuple[str, ...]
    powertrain: str | None
    body_type: str | None
    price_cny: tuple[int, int] | None

    @property
    def canonical(self) -> str:
        return f"{self.brand} {self.name}"


@dataclass(frozen=True)
class Brand:
    name: str
    en: str
    aliases: tuple[str, ...]
    models: tuple[CarModel, ...]


def load_gazetteer(path: str | Path | None = None) -> tuple[Brand, ...]:
    """Read the gazetteer YAML; raises FileNotFoundError naming the path when it is missing."""
    # The configured models dir: a source checkout's models/, or the copy a wheel carries.
    p = Path(path) if path is not None else Settings.from_env().models_dir / "gazetteer" / "cars.yaml"
    if not p.exists():
        raise FileNotFoundError(f"gazetteer not found: {p} (expected models/gazetteer/cars.yaml)")
    data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    brands: list[Brand] = []
    for b in data.get("brands", []):
        name = str(b["name"])
        en = str(b.get("en") or name)
        baliases = tuple(str(a) for a in b.get("aliases") or ())
        models = []
        for m in b.get("models") or ():
            price = m.get("price_cny")
            models.append(
                CarModel(
                    brand=name,
                    brand_en=en,
                    brand_aliases=baliases,
                    name=str(m["name"]),
                    aliases=tuple(str(a) for a in m.get("aliases") or ()),
                    powertrain=m.get("powertrain"),
                    body_type=m.get("body_type"),
                    price_cny=(int(price[0]), int(price[1])) if price else None,
                )
            )
        if models:
            brands.append(Brand(name=name, en=en, aliases=baliases, models=tuple(models)))
    if len(brands) < 2:
        raise ValueError(f"gazetteer {p} needs at least two brands with models, found {len(brands)}")
    return tuple(brands)
