"""What the customer prefers and is: payment, trade-in, powertrain, body type, usage,
concerns and household, each read through a keyword table, Chinese and English."""

from __future__ import annotations

import re

from callintel.text import simplified
from callintel.understand.normalize.keywords import CJK, compile_table, first_affirmed, negated, prepare, scan

# ---------------------------------------------------------------------------------------------
# Payment and trade-in

# fmt: off
_PAYMENT = compile_table(
    {
        "lease": [
            "融资租赁", "以租代购", "以租代售", "经营性租赁", "租赁", "租购", "租的方式", "租车方式",
            "leas(?:e|ed|ing)",
        ],
        "loan": [
            "分期", "贷款", "按揭", "首付", "月供", "车贷", "金融方案", "做金融", "零首付", "低首付",
            "免息", "0息", "零利率", "loans?", "financ(?:e|ed|ing)", "installments?", "monthly payments?",
            "pay monthly", "down ?payment", "pay (?:it )?off over time",
        ],
        "full": [
            "全款", "一次性", "付清", "现金(?!优惠|折扣|减|返)", "全额", "pay in full", "paid in full",
            "full payment", "pay(?:ing)? (?:in )?cash", "in cash", "cash", "outright", "all at once",
            "up ?front in full", "pay (?:it )?up ?front",
            "(?:pay|paying) the (?:full|whole) (?:amount|price|sum)",
        ],
    }
)
# fmt: on
# 全款不够, 全款买不起, can't afford to pay cash: the customer will not pay in full.
_FULL_DENIED_AFTER = re.compile(r"^\S{0,3}?(?:不够|买不起|付不起|拿不出|压力大|有压力|不太行|不行|不现实)")
_FULL_DENIED_BEFORE = re.compile(
    r"(?:付不起|拿不出|买不起|can't afford(?: to)?(?: pay)?|cannot afford(?: to)?)\s*$"
)


def normalize_payment(text: str) -> str | None:
    """``full``, ``loan`` or ``lease``; None when no way of paying is said or both are weighed.

    全款/一次性/付清/现金/pay in full/cash -> full; 分期/贷款/按揭/首付/月供/免息/loan/finance/
    monthly payments/down payment -> loan; 租赁/融资租赁/以租代购/lease -> lease (a lease talks of
    首付 and 月供 too, so lease wins). Denials flip: 不贷款/不分期/不用按揭/no loan/don't need
    financing -> full; 不全款/全款不够/付不起全款/can't afford to pay cash -> loan. When full and loan
    are both affirmed (全款还是分期) the text does not decide and gives None.
    """
    prepared = prepare(text)
    said: set[str] = set()
    for hit in scan(_PAYMENT, prepared):
        denied = (
            negated(prepared, hit.start)
            or (hit.value == "full" and bool(_FULL_DENIED_AFTER.search(prepared[hit.end : hit.end + 8])))
            or (
                hit.value == "full"
                and bool(_FULL_DENIED_BEFORE.search(prepared[max(0, hit.start - 30) : hit.start]))
            )
        )
        if not denied:
            said.add(hit.value)
        elif hit.value == "loan":
            said.add("full")
        elif hit.value == "full":
            said.add("loan")
    if "lease" in said:
        return "lease"
    return said.pop() if len(said) == 1 else None


# fmt: off
_TRADE_IN = compile_table(
    {
        "no": [
            "没有旧车", "没旧车", "没有车", "没车", "无车", "不置换", "不用置换", "不需要置换",
            "不打算置换", "不想置换", "不考虑置换", "不换购", "首购", "首次购车", "第一次买车",
            "第(?:一|1)(?:辆|台|部)车", "头一(?:辆|台)车", "刚拿(?:的)?(?:驾照|驾驶证|证)", "旧车留着",
            "旧车不卖", "不卖旧车", "旧车不处理", "增购", "no trade[ -]?ins?", "not trading", "won't trade",
            "don't have (?:a|an old|a current) car", "no old car", "(?:my )?first car",
            "keep(?:ing)? my (?:old|current) car", "additional car", "second car",
        ],
        "yes": [
            "置换", "以旧换新", "旧车", "换购", "老车", "二手车评估", "卖掉(?:现在|我)的车",
            "trade[ -]?ins?", "trading (?:it |my \\w+ )?in", "trade (?:it|my \\w+(?: \\w+)?) in",
            "my old car", "part exchange", "sell my (?:old |current )?car",
        ],
    }
)
# fmt: on


def normalize_trade_in(text: str) -> bool | None:
    """True when the customer has a car to trade in, False when not, None when not said.

    True: 置换, 以旧换新, 旧车, 换购, 老车, trade in, trading my car in, my old car, part exchange.
    False: 没有旧车, 不置换 (any denied 置换), 首购, 第一辆车, 刚拿驾照, 旧车留着, 增购 (a second car
    beside the old one), no trade-in, first car, keep my old car. A denial outweighs a mention.
    """
    prepared = prepare(text)
    verdict: bool | None = None
    for hit in scan(_TRADE_IN, prepared):
        if hit.value == "no" or negated(prepared, hit.start):
            return False
        verdict = True
    return verdict


# ---------------------------------------------------------------------------------------------
# Powertrain, body type, usage, concerns

# fmt: off
_POWERTRAIN = compile_table(
    {
        "erev": [
            "增程", "增程式", "增程器", "range[ -]extend(?:er|ed)", "extended[ -]range", "e?rev", "reev",
        ],
        "phev": ["插混", "插电", "插电混动", "插电式混动", "dm-?i", "plug-?in(?: hybrid)?", "phev"],
        "hybrid": [
            "油电混动", "油电混合", "非插电混动", "非插混", "混动", "双擎", "油电",
            "self[ -]charging hybrid", "full hybrid", "hybrid", "hev",
        ],
        "ev": [
            "纯电", "纯电动", "(?<!油)电动车", "(?<!油)电车", "电动汽车", "bev", "evs?",
            "electric(?! hybrid)", "all[ -]electric", "battery electric",
        ],
        "ice": [
            "燃油", "油车", "汽油", "烧油", "柴油", "纯油", "gasoline", "petrol", "gas car", "diesel",
            "combustion", "ice",
        ],
    }
)
# fmt: on

# fmt: off
_BODY_TYPE = compile_table(
    {
        "suv": ["suvs?", "越野车?", "运动型多功能车", "crossover", "sport utility"],
        "sedan": ["轿车", "三厢车?", "小轿车", "轿跑", "sedans?", "saloon", "four[ -]doors?"],
        "mpv": [
            "mpvs?", "商务车", "保姆车", "面包车", "多用途汽?车", "minivan", "people carrier", "people mover",
            "\\bvan",
        ],
        "hatchback": ["两厢车?", "掀背", "小钢炮", "hatchbacks?", "hatch"],
        "wagon": ["旅行车", "旅行版", "猎装", "瓦罐", "wagons?", "estate", "shooting brake", "touring"],
    }
)
# fmt: on

# fmt: off
_USAGE = compile_table(
    {
        "commute": [
            "上下班", "通勤", "代步", "上班", "市区开", "城里开", "买菜", "commut(?:e|es|ing)", "to work",
            "daily driv(?:e|er|ing)", "get around town", "city driving", "around town",
        ],
        "family": [
            "家用", "家里用", "一家人", "全家", "家庭", "接送孩子", "接孩子", "送孩子", "带孩子", "带娃",
            "老婆开", "老人", "family", "kids", "school run",
        ],
        "long_distance": [
            "长途", "跑长途", "自驾游", "跑高速", "回老家", "远途", "出远门", "跨省", "long[ -]distance",
            "road trips?", "long trips?", "long drives?", "highway",
        ],
        "business": [
            "商务", "接待客户", "见客户", "谈生意", "做生意", "跑业务", "谈业务", "公司用", "公务",
            "business", "clients?",
            "company car", "work trips?",
        ],
        "ride_hailing": [
            "网约车", "跑网约", "跑滴滴", "跑专车", "专车", "滴滴", "出租车?", "拉活", "跑车拉客",
            "ride[ -]?hailing", "didi",
            "uber", "taxi",
        ],
        "leisure": [
            "周末出去玩", "出去玩", "郊游", "露营", "钓鱼", "旅游", "兜风", "自驾", "户外", "leisure",
            "weekend trips?", "camping", "fishing", "for fun", "outdoors?",
        ],
    }
)
# fmt: on

# fmt: off
_CONCERN = compile_table(
    {
        "price": [
            "价格", "价钱", "性价比", "太贵", "有点贵", "挺贵", "比较贵", "贵了", "贵不贵", "优惠", "折扣",
            "降价",
            "便宜", "落地价", "多少钱", "砍价", "预算不够", "prices?", "expensive", "costs?", "discounts?",
            "cheaper", "too much",
        ],
        "range": [
            "续航", "跑多远", "里程焦虑", "掉电", "能跑多少公里", "range", "how far", "miles per charge",
        ],
        "charging": [
            "充电", "充电桩", "快充", "慢充", "超充", "换电", "家充", "charg(?:e|es|er|ers|ing)",
            "supercharg(?:er|ers|ing)", "charging stations?",
        ],
        "space": [
            "空间", "后排", "后备箱", "尾箱", "坐得下", "坐不下", "太挤", "有点挤", "挤不挤", "腿部",
            "第三排", "储物", "space", "room", "trunk", "boot", "legroom", "third row", "cramped",
        ],
        "safety": [
            "安全", "碰撞", "气囊", "自燃", "起火", "刹车", "safety", "safe", "crash(?:es)?", "airbags?",
            "catch(?:es)? fire",
        ],
        "maintenance": [
            "保养", "维修", "维护", "修车", "售后", "配件", "maintenance", "servic(?:e|ing) costs?",
            "servicing", "repairs?", "after[ -]sales",
        ],
        "resale": [
            "保值", "残值", "贬值", "二手价", "二手车价", "resale", "depreciat(?:e|es|ion)",
            "holds? (?:its|their) value", "residual value",
        ],
        "delivery_time": [
            "提车", "交付", "交车", "等车", "现车", "排队", "多久能拿到", "deliver(?:y|ed)",
            "wait(?:ing)? time", "lead time", "in stock", "how soon can i get",
        ],
        "reliability": [
            "质量", "可靠", "毛病", "故障", "耐用", "皮实", "靠谱", "召回", "reliab(?:le|ility)",
            "break(?:s)? down", "problems", "quality", "recalls?",
        ],
        "fuel_economy": [
            "油耗", "省油", "费油", "能耗", "电耗", "百公里", "fuel economy", "fuel consumption", "mpg",
            "gas mileage", "fuel[ -]efficien(?:t|cy)", "consumption",
        ],
        "comfort": [
            "舒适", "舒服", "座椅", "噪音", "隔音", "悬挂", "颠簸", "晕车", "异味", "comfort(?:able)?",
            "noisy", "noise", "quiet", "ride quality", "seats",
        ],
        "performance": [
            "动力", "加速", "百公里加速", "操控", "马力", "推背", "提速", "爬坡", "performance",
            "acceleration", "power(?:ful)?", "handling", "horsepower", "torque", "sluggish",
        ],
        "smart_features": [
            "智能", "智驾", "辅助驾驶", "自动驾驶", "车机", "语音", "座舱", "自动泊车", "领航", "ota",
            "激光雷达", "smart features?", "autopilot", "self[ -]driving", "driver assist(?:ance)?",
            "infotainment", "voice control", "screens?",
        ],
        "financing": [
            "贷款利率", "利率", "利息", "月供", "首付", "金融政策", "贷款", "分期", "免息", "征信",
            "financing", "interest rates?", "monthly payments?", "down ?payment", "loans?", "apr",
        ],
        "trade_in_value": [
            "旧车能卖多少", "旧车估价", "旧车值多少", "置换补贴", "评估价", "置换价", "旧车评估",
            "trade[ -]in (?:value|price|offer)", "old car (?:is )?worth", "valuation",
        ],
        "insurance": ["保险", "保费", "车险", "insurance", "premiums?", "insur(?:e|ed)"],
    }
)
# fmt: on
# A concern the customer sets aside is none: 续航不担心, 不在乎价格, price doesn't matter.
_CONCERN_DISMISSED_BEFORE = re.compile(
    r"(?:不担心|不在乎|不在意|不关心|不介意|无所谓|不用担心|不考虑)\S{0,2}$|"
    r"(?<![a-z])(?:not worried about|don't care about|do not care about|not concerned about|"
    r"not bothered about|no concerns? about)\s+(?:the\s+)?$"
)
_CONCERN_DISMISSED_AFTER = re.compile(
    r"^\S{0,2}?(?:不担心|没问题|不是问题|无所谓|够用|够了|还行|不重要|不在乎|都行|可以接受|能接受)|"
    r"^\s*(?:is|are)?\s*(?:fine|ok|okay|good enough|not a concern|not an issue|not a problem|no problem|"
    r"doesn't matter|does not matter)"
)


def normalize_powertrain(text: str) -> str | None:
    """``ev``/``phev``/``erev``/``hybrid``/``ice``: the first affirmed mention.

    纯电/电车/electric/EV -> ev; 插混/插电/DM-i/plug-in -> phev; 增程/range extender/EREV -> erev;
    油电混动/混动/双擎/hybrid -> hybrid (a bare 混动 is a hybrid, 插电混动 a phev); 燃油/油车/汽油/
    petrol/gasoline -> ice. Denied ones are skipped (不要纯电, not an electric).
    """
    return first_affirmed(_POWERTRAIN, text)


def normalize_body_type(text: str) -> str | None:
    """``suv``/``sedan``/``mpv``/``hatchback``/``wagon``: the first affirmed mention.

    SUV/越野/crossover -> suv; 轿车/三厢/sedan -> sedan; MPV/商务车/保姆车/minivan -> mpv;
    两厢/掀背/hatchback -> hatchback; 旅行车/旅行版/猎装/wagon/estate -> wagon.
    """
    return first_affirmed(_BODY_TYPE, text)


def normalize_usage(text: str) -> str | None:
    """One of commute, family, long_distance, business, ride_hailing, leisure: the first affirmed.

    上下班/通勤/代步/commute -> commute; 家用/一家人/接送孩子/family/kids -> family; 长途/自驾游/
    回老家/road trips -> long_distance; 商务/见客户/公司用/business -> business; 网约车/跑滴滴/
    出租/ride-hailing/Didi/Uber -> ride_hailing; 出去玩/露营/钓鱼/旅游/camping -> leisure.
    """
    return first_affirmed(_USAGE, text)


def normalize_concern(text: str) -> str | None:
    """One of DOMAIN.md's 16 concern keys: the first worry the text voices.

    From keyword tables (价格/太贵/price -> price, 续航/range -> range, 充电/charging -> charging,
    保值/resale -> resale, 月供/利率/financing -> financing, 置换补贴/trade-in value ->
    trade_in_value ...; see ``_CONCERN``). A worry set aside is skipped: 不担心续航, 续航够用,
    价格无所谓, not worried about range, price doesn't matter. A plain 不 is not a denial here:
    不安全 and 不保值 are the worries themselves.
    """
    prepared = prepare(text)
    for hit in scan(_CONCERN, prepared):
        if _CONCERN_DISMISSED_BEFORE.search(prepared[max(0, hit.start - 30) : hit.start]):
            continue
        if _CONCERN_DISMISSED_AFTER.search(prepared[hit.end : hit.end + 20]):
            continue
        return hit.value
    return None


# ---------------------------------------------------------------------------------------------
# Household

# Household situations: (Chinese value, English value, phrases). First match wins, so the
# wider situation (三代同堂) comes before its parts (孩子, 老人).
_HOUSEHOLD: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (zh, en, re.compile(pattern))
    for zh, en, pattern in (
        (
            "三代同堂",
            "three generations",
            r"三代同堂|三代人|祖孙三代|一大家子|上有老下有小|老人(?:和|跟|带)?孩子|老的小的|"
            r"grandparents and (?:the )?kids|three generations|whole family under one roof",
        ),
        (
            "三个孩子",
            "three kids",
            r"三个(?:孩子|娃|小孩|宝宝)|仨(?:孩子|娃)|三胎|three (?:kids|children)",
        ),
        (
            "两个孩子",
            "two kids",
            r"两个(?:孩子|娃|小孩|宝宝)|俩(?:孩子|娃|小孩|宝)|二胎|"
            r"two (?:kids|children|teenagers|teens|boys|girls|little ones)|second (?:child|baby)|"
            r"(?:a|one) (?:kid|child|toddler|baby|teenager) and (?:a|one|another) (?:kid|child|toddler|baby)",
        ),
        (
            "一个孩子",
            "one child",
            r"一个(?:孩子|娃|小孩|宝宝)|有个(?:孩子|娃|小孩|宝宝)|独生|"
            r"(?<![a-z])(?:one|a) (?:kid|child|toddler|baby)(?![a-z])|our (?:son|daughter)",
        ),
        (
            "新婚",
            "newly married",
            r"新婚|刚结婚|刚成家|刚领证|just (?:got )?married|newly ?weds?|newly married",
        ),
        (
            "有老人",
            "lives with parents",
            r"老人|爸妈|父母|公婆|岳父母|parents? (?:live|living|lives) with|live with (?:my |our )?parents|"
            r"elderly",
        ),
        (
            "单身",
            "single",
            r"单身|未婚|还没结婚|没成家|就我一个人|自己一个人|(?<![a-z])single(?![a-z])|just me|live alone",
        ),
    )
)


_HOUSEHOLD_WORD = re.compile(
    r"孩子|娃|小孩|儿子|女儿|老婆|老公|爱人|媳妇|妻子|丈夫|父母|爸|妈|老人|家|口人|夫妻|两口|结婚|单身|怀孕|宝宝|"
    r"孙|兄弟|姐妹|女朋友|男朋友|对象|猫|狗|宠物|"
    r"(?<![a-z])(kids?|child(ren)?|sons?|daughters?|wife|husband|partner|family|parents|mum|mom|dad|baby|"
    r"married|single|pregnant|grand\w*|teen\w*|dogs?|cats?|girlfriend|boyfriend|couple|twins|toddler)(?![a-z])",
    re.IGNORECASE,
)


def normalize_household(text: str) -> str | None:
    """A short household description (DOMAIN.md: 两个孩子, 三代同堂).

    Common situations get one canonical value, in the text's language: 三代同堂 / three
    generations, 三个孩子, 两个孩子 (俩孩子, 二胎) / two kids, 一个孩子 (有个娃) / one child,
    新婚 (刚结婚, 刚成家) / newly married, 有老人 (爸妈跟我们住) / lives with parents, 单身 /
    single. Anything else is kept as said, simplified and stripped of punctuation.
    """
    prepared = prepare(text)
    chinese = bool(re.search(f"[{CJK}]", prepared))
    for zh, en, pattern in _HOUSEHOLD:
        if pattern.search(prepared):
            return zh if chinese else en
    stripped = simplified(text).strip(" \t\r\n,.;:!?，。；：！？、…")
    # Kept as said only when it speaks of people or pets at home: "guys" or "一下" is no household.
    return stripped if stripped and _HOUSEHOLD_WORD.search(stripped) else None
