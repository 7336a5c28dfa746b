"""The labelled-corpus generator: coverage, determinism, offsets, negations, split separation, validation."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from callintel.domain import (
    ATTRIBUTES,
    CHECKPOINTS,
    GRADES,
    SCENARIOS,
    VIOLATIONS,
    gives_purchase_grade,
    grade_for_days,
)
from callintel.errors import ConfigError
from callintel.training.corpus import generate, read_jsonl, validate_dialogue, write_jsonl
from callintel.training.corpus.bank import load_bank
from callintel.training.corpus.jsonl import check_spans
from callintel.understand.normalize import Gazetteer

FIXTURE_GAZETTEER = """
brands:
  - name: 领克
    en: "Lynk & Co"
    aliases: [零克]
    models:
      - {name: "08", aliases: [零八], powertrain: phev, body_type: suv, price_cny: [190000, 260000]}
      - {name: "03", powertrain: ice, body_type: sedan, price_cny: [110000, 160000]}
  - name: 比亚迪
    en: BYD
    aliases: [BYD, 比亚低]
    models:
      - {name: 汉, aliases: [汗], powertrain: ev, body_type: sedan, price_cny: [170000, 250000]}
  - name: 特斯拉
    en: Tesla
    aliases: [特斯啦]
    models:
      - {name: Model Y, powertrain: ev, body_type: suv, price_cny: [250000, 360000]}
"""


@pytest.fixture(scope="module")
def brands(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("gaz") / "cars.yaml"
    path.write_text(FIXTURE_GAZETTEER, encoding="utf-8")
    return Gazetteer.load(path)


@pytest.fixture(scope="module")
def samples(brands) -> dict[str, list[dict]]:
    return {split: list(generate(split, 900, seed=3, gazetteer=brands)) for split in ("train", "heldout")}


def _labels(dialogues: list[dict]) -> Counter:
    c: Counter = Counter()
    for d in dialogues:
        c["grade:" + d["grade"]] += 1
        c["scenario:" + d["scenario"]] += 1
        for t in d["turns"]:
            for k in t.get("checkpoints", []):
                c["checkpoint:" + k] += 1
            for k in t.get("violations", []):
                c["violation:" + k] += 1
            for a in t.get("attributes", []):
                c["attribute:" + a["key"]] += 1
    return c


def test_deterministic(brands) -> None:
    a = list(generate("train", 50, seed=7, gazetteer=brands))
    b = list(generate("train", 50, seed=7, gazetteer=brands))
    c = list(generate("train", 50, seed=8, gazetteer=brands))
    assert a == b
    assert a != c


@pytest.mark.parametrize("split", ["train", "heldout"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_label_appears(samples, split: str, lang: str) -> None:
    ds = [d for d in samples[split] if d["language"] == lang]
    c = _labels(ds)
    expected = (
        [f"checkpoint:{k}" for k in CHECKPOINTS]
        + [f"violation:{k}" for k in VIOLATIONS]
        + [f"attribute:{k}" for k in ATTRIBUTES]
        + [f"grade:{k}" for k in GRADES]
        + [f"scenario:{k}" for k in SCENARIOS if gives_purchase_grade(k)]  # sales calls only
    )
    missing = [k for k in expected if c[k] == 0]
    assert not missing, f"{split}/{lang} lacks {missing}"


def test_language_mix_and_violation_rate(samples) -> None:
    ds = samples["train"]
    zh = sum(d["language"] == "zh" for d in ds) / len(ds)
    assert 0.55 < zh < 0.78
    with_violation = sum(any(t.get("violations") for t in d["turns"]) for d in ds) / len(ds)
    assert 0.12 < with_violation < 0.28


def test_records_valid_and_offsets_inside_text(samples) -> None:
    for ds in samples.values():
        for d in ds:
            validate_dialogue(d)
            for t in d["turns"]:
                assert t["text"].strip()
                assert not check_spans(t)
                for a in t.get("attributes", []):
                    span = t["text"][a["start"] : a["end"]]
                    assert span == span.strip() and span


def test_noise_is_present(samples) -> None:
    texts = [t["text"] for d in samples["train"] for t in d["turns"] if d["language"] == "zh"]
    assert any("零克" in x or "比亚低" in x or "特斯啦" in x for x in texts)  # homophones from the gazetteer
    assert any("車" in x or "這" in x for x in texts)  # Traditional characters
    assert any(re.search(r"[\u4e00-\u9fff] [\u4e00-\u9fff] [\u4e00-\u9fff]", x) for x in texts)  # spaced
    assert any(re.search(r"\d+[wW]", x) for x in texts)  # 20w


def test_outbound_has_no_walkaround(samples) -> None:
    for d in samples["train"] + samples["heldout"]:
        if d["scenario"] == "outbound_followup":
            assert all("product_presentation" not in t.get("checkpoints", []) for t in d["turns"])


def test_grade_consistent_with_timeline(samples) -> None:
    for ds in samples.values():
        for d in ds:
            for t in d["turns"]:
                for a in t.get("attributes", []):
                    if a["key"] == "purchase_timeline_days":
                        assert grade_for_days(a["value"]) == d["grade"], (d["id"], t["text"], a)


def _customer_turns(ds: list[dict]):
    return [t for d in ds for t in d["turns"] if t["role"] == "customer"]


def test_negations_are_not_positive_labels(samples) -> None:
    turns = _customer_turns(samples["train"] + samples["heldout"])
    seen = Counter()
    for t in turns:
        text = t["text"]
        values = {(a["key"], json.dumps(a["value"], ensure_ascii=False)) for a in t["attributes"]}
        for neg in ("没有旧车", "不用置换", "没旧车", "no trade-in", "I don't have a car to trade in"):
            if neg in text:
                seen[neg] += 1
                assert ("trade_in", "true") not in values, text
                spans = [text[a["start"] : a["end"]] for a in t["attributes"] if a["key"] == "trade_in"]
                assert any(neg in s for s in spans), (text, spans)
        for neg in (
            "不考虑贷款",
            "贷款就不考虑了",
            "I'm not considering a loan",
            "A loan is out of the question",
        ):
            if neg in text:
                seen[neg] += 1
                assert ("payment", '"loan"') not in values, text
        for neg in ("不用试驾了", "I don't need a test drive", "试驾就不用了"):
            if neg in text:
                seen[neg] += 1
                assert t["intent_signal"] != "positive" or t["attributes"], text
    assert seen["不用试驾了"] and seen["没有旧车"] and seen["不考虑贷款"], seen
    sales = [t for d in samples["train"] for t in d["turns"] if t["role"] == "sales"]
    declined = [
        t
        for t in sales
        if t["text"].rstrip("。") in ("那试驾就先不安排了，您先看看", "那试驾就先不安排了您先看看")
    ]
    assert declined and all(t["checkpoints"] == [] for t in declined)


def _masked(text: str) -> str:
    return re.sub(r"\{\w+\}", "{}", text).strip().lower()


def test_splits_share_no_templates() -> None:
    for lang in ("zh", "en"):
        train = {_masked(t.text) for t in load_bank("train", lang).all_templates()}
        heldout = {_masked(t.text) for t in load_bank("heldout", lang).all_templates()}
        assert not train & heldout, sorted(train & heldout)


def test_splits_share_few_generated_texts(samples) -> None:
    def masked_turns(ds: list[dict]) -> set[str]:
        out = set()
        for d in ds:
            for t in d["turns"]:
                text = t["text"]
                for a in sorted(t.get("attributes", []), key=lambda a: -a["start"]):
                    text = text[: a["start"]] + "#" + text[a["end"] :]
                if len(text) > 12:
                    out.add(text)
        return out

    a, b = masked_turns(samples["train"]), masked_turns(samples["heldout"])
    assert len(a & b) / len(b) < 0.01


def test_jsonl_roundtrip(tmp_path: Path, brands) -> None:
    ds = list(generate("heldout", 20, gazetteer=brands, languages=("en",)))
    path = tmp_path / "c.jsonl"
    assert write_jsonl(path, ds) == 20
    assert list(read_jsonl(path)) == ds
    assert all(d["language"] == "en" and d["source"] == "generator:heldout" for d in ds)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: d.update(grade="X"), "unknown grade 'X'"),
        (lambda d: d.update(scenario="mall"), "unknown scenario"),
        (lambda d: d["turns"][0].update(role="agent"), "unknown role 'agent'"),
        (lambda d: d["turns"][0].update(checkpoints=["hello"]), "unknown checkpoint 'hello'"),
        (lambda d: d["turns"][0].update(violations=["lying"]), "unknown violation 'lying'"),
        (lambda d: _first_attr(d).update(key="colour"), "unknown attribute key 'colour'"),
        (lambda d: _first_attr(d).update(start=0, end=10_000), "outside text"),
        (lambda d: _first_attr(d).update(start=3, end=3), "outside text"),
        (lambda d: d.pop("turns"), "missing field 'turns'"),
    ],
)
def test_validate_rejects_broken_records(tmp_path: Path, brands, breakage, message: str) -> None:
    d = next(
        d for d in generate("train", 30, gazetteer=brands) if any(t.get("attributes") for t in d["turns"])
    )
    broken = copy.deepcopy(d)
    breakage(broken)
    with pytest.raises(ValueError, match=message):
        validate_dialogue(broken)
    path = tmp_path / "bad.jsonl"
    write_jsonl(path, [d, broken])
    with pytest.raises(ValueError, match="line 2"):
        list(read_jsonl(path))


def _first_attr(d: dict) -> dict:
    return next(a for t in d["turns"] for a in t.get("attributes", []))


def _cars(dialogues: list[dict]) -> set[str]:
    return {
        a["value"]
        for d in dialogues
        for t in d["turns"]
        for a in t.get("attributes", [])
        if a["key"] in ("models_of_interest", "competitors")
    }


def test_gazetteer_follows_the_configured_models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An installed wheel has no models/ beside the package: the default must come from the settings.
    (tmp_path / "gazetteer").mkdir()
    (tmp_path / "gazetteer" / "cars.yaml").write_text(FIXTURE_GAZETTEER, "utf-8")
    monkeypatch.setenv("CALLINTEL_MODELS_DIR", str(tmp_path))
    assert _cars(list(generate("train", 60, seed=2))) <= {
        "领克",
        "领克 08",
        "领克 03",
        "比亚迪",
        "比亚迪 汉",
        "特斯拉",
        "特斯拉 Model Y",
    }
    monkeypatch.setenv("CALLINTEL_MODELS_DIR", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="absent"):
        next(generate("train", 1))


def test_generator_labels_the_cars_the_normaliser_reads() -> None:
    # One reader and one schema for cars.yaml (issue 15): every car the generator labels is a
    # canonical name of the normaliser's gazetteer, which is what it generates from by default.
    gazetteer = Gazetteer.from_models_dir(Path(__file__).resolve().parents[2] / "models")
    names = set(gazetteer.brands()) | set(gazetteer.models())
    cars = _cars(list(generate("train", 200, seed=7)))
    assert len(cars) > 50 and cars <= names


def test_a_gazetteer_of_one_brand_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cars.yaml"
    path.write_text(FIXTURE_GAZETTEER.split("  - name: 比亚迪")[0], "utf-8")
    with pytest.raises(ValueError, match="at least two brands"):
        next(generate("train", 1, gazetteer=path))


def test_early_next_year_labels_agree_with_the_normaliser() -> None:
    # The corpus and the normaliser read 明年初 / early next year alike (issue 15): 31 January.
    import datetime as dt

    from callintel.training.corpus.generator import _days_until
    from callintel.understand.normalize import normalize_timeline

    texts = [
        str(e["text"])
        for split in ("train", "heldout")
        for lang in ("zh", "en")
        for e in load_bank(split, lang).lexicon["timeline"]
        # 开年 alone is labelled so in the held-out bank too, but the normaliser reads it as the
        # next Spring Festival: not settled here.
        if e.get("until") == "+1-01-31" and ("明年" in str(e["text"]) or "next year" in str(e["text"]))
    ]
    assert {"明年初", "early next year"} <= set(texts)
    for day in (dt.date(2025, 1, 1), dt.date(2026, 6, 30), dt.date(2026, 11, 23), dt.date(2026, 12, 31)):
        for text in texts:
            assert normalize_timeline(text, day) == _days_until("+1-01-31", day), (text, day)


def test_real_gazetteer() -> None:
    ds = list(generate("train", 200, seed=1))
    for d in ds:
        validate_dialogue(d)
