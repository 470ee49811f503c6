"""Made-up but realistic people for the demo: Chinese names, mobile numbers, ID-card numbers with a valid
check digit (GB 11643-1999, ISO 7064 MOD 11-2), licence plates. Every function takes the caller's
``random.Random`` so the demo is the same on every run."""

from __future__ import annotations

import datetime as dt
import random

from actions.spreadsheets.clean import id_check_digit

# Common surnames, most frequent first; weights fall off so 王/李/张/刘/陈 dominate as they do.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_SURNAME_WEIGHTS = [1.0 / (i + 6) for i in range(len(SURNAMES))]

MALE_CHARS = "伟强磊军洋勇杰涛明超华平刚辉鹏飞斌波宇浩凯健俊帆亮晨志国建文东林峰海龙博昊轩睿哲翔铭瑞"
FEMALE_CHARS = "芳娜敏静丽艳娟霞秀玲燕莉萍红琳雪婷慧颖倩琪欣怡佳悦妍晴彤蕾薇梦雅馨瑶琳洁璐岚"
SHARED_CHARS = "子一文思雨嘉安宁天心佳晓春秋"

# Six-digit administrative division codes of the cities the demo's projects are in (and neighbours).
AREA_CODES = (
    "310101", "310104", "310105", "310106", "310107", "310110", "310112", "310115",  # 上海
    "330102", "330105", "330106", "330108", "330110",  # 杭州
    "320102", "320104", "320106", "320505", "320583",  # 南京、苏州
    "440103", "440104", "440106", "440111", "440303", "440304", "440305", "440306",  # 广州、深圳
    "430102", "420106", "510107", "370202", "350203", "340104", "360102", "410105",  # 外省来沪来粤人员
)

MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155",
    "156", "157", "158", "159", "166", "176", "177", "178", "180", "181", "182", "183", "185", "186", "187",
    "188", "189", "191", "198", "199",
)

def id_number_valid(value: str) -> bool:
    return len(value) == 18 and value[:17].isdigit() and id_check_digit(value[:17]) == value[17].upper()


def person_name(rng: random.Random, *, female: bool | None = None) -> tuple[str, bool]:
    """A name and whether it is a woman's."""
    if female is None:
        female = rng.random() < 0.5
    surname = rng.choices(SURNAMES, weights=_SURNAME_WEIGHTS)[0]
    pool = FEMALE_CHARS if female else MALE_CHARS
    if rng.random() < 0.3:  # single-character given names are common among older people
        given = rng.choice(pool)
    else:
        given = rng.choice(pool + SHARED_CHARS) + rng.choice(pool)
    return surname + given, female


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def id_number(rng: random.Random, *, female: bool, born_from: int = 1950, born_to: int = 2002) -> str:
    start = dt.date(born_from, 1, 1).toordinal()
    end = dt.date(born_to, 12, 31).toordinal()
    birth = dt.date.fromordinal(rng.randint(start, end))
    seq = rng.randrange(0, 100) * 10 + rng.choice((0, 2, 4, 6, 8) if female else (1, 3, 5, 7, 9))
    first17 = f"{rng.choice(AREA_CODES)}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_digit(first17)


PLATE_PREFIXES = ("沪A", "沪B", "沪C", "沪D", "沪E", "沪F", "浙A", "苏E", "粤A", "粤B")
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def plate(rng: random.Random, prefix: str | None = None) -> str:
    prefix = prefix or rng.choice(PLATE_PREFIXES)
    if rng.random() < 0.3:  # 新能源号牌: D/F + 5 位
        return prefix + rng.choice("DF") + f"{rng.randrange(10**5):05d}"
    tail = "".join(rng.choice(_PLATE_LETTERS + "0123456789") for _ in range(4))
    return prefix + rng.choice(_PLATE_LETTERS) + tail


COMPANY_WORDS = (
    "华信", "恒达", "瑞丰", "鼎盛", "宏远", "嘉禾", "金桥", "天和", "永盛", "诚泰", "汇通", "中元", "百川", "博雅",
    "新联", "同创", "海川", "安信", "卓越", "星辰",
)
COMPANY_TRADES = (
    "贸易有限公司", "科技有限公司", "投资管理有限公司", "餐饮管理有限公司", "服饰有限公司", "咨询有限公司",
    "文化传播有限公司", "律师事务所", "会计师事务所", "建筑设计有限公司", "网络科技有限公司", "医疗器械有限公司",
)
SHOP_BRANDS = (
    "星巴克咖啡", "肯德基", "屈臣氏", "优衣库", "喜茶", "海底捞火锅", "名创优品", "周大福", "全家便利店", "西西弗书店",
    "味千拉面", "太平鸟", "李宁", "安踏", "华为授权体验店", "小米之家", "奈雪的茶", "必胜客", "绿茶餐厅", "外婆家",
    "巴黎贝甜", "瑞幸咖啡", "孩子王", "卡朋西餐", "眼镜店", "美甲工作室", "干洗店", "药房", "花店", "培训中心",
)


def company_name(rng: random.Random, city: str = "上海") -> str:
    return f"{city}{rng.choice(COMPANY_WORDS)}{rng.choice(COMPANY_TRADES)}"
