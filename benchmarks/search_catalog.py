"""A deterministic, realistic Chinese catalog for the search benchmark, written in the catalog CSV format.

Each leaf category has a kind (apparel, shoes, phone, gadget, beauty, food, home, baby) that decides the brands,
materials, specs (颜色/尺码, 颜色/内存, 规格 …) and price band of its products; tags mix gift audiences
(送妈妈, 送女友 …), seasons and selling points, so the benchmark queries hit realistic posting-list sizes.
"""

from __future__ import annotations

import random
from typing import Any

from store.catalog.csv_format import COLUMNS, format_price

TREE: dict[str, dict[str, list[str]]] = {
    "服饰": {
        "女装": ["连衣裙", "T恤", "半身裙", "衬衫", "卫衣", "羽绒服", "毛衣", "牛仔裤", "风衣", "针织衫"],
        "男装": ["T恤", "衬衫", "卫衣", "夹克", "羽绒服", "休闲裤", "牛仔裤", "polo衫", "西装"],
        "童装": ["儿童羽绒服", "儿童套装", "儿童T恤", "儿童卫衣", "儿童裤子"],
        "内衣": ["文胸", "内裤", "睡衣", "袜子", "保暖内衣"],
    },
    "鞋包": {
        "男鞋": ["运动鞋", "皮鞋", "板鞋", "休闲鞋"],
        "女鞋": ["高跟鞋", "单鞋", "运动鞋", "靴子", "凉鞋"],
        "箱包": ["双肩包", "钱包", "行李箱", "单肩包", "手提包"],
    },
    "数码": {
        "手机": ["智能手机", "老人机"],
        "耳机": ["蓝牙耳机", "有线耳机", "头戴式耳机"],
        "配件": ["充电宝", "数据线", "手机壳", "充电器", "贴膜"],
        "电脑": ["笔记本电脑", "平板电脑", "键盘", "鼠标", "显示器"],
        "智能设备": ["智能手表", "手环", "智能音箱"],
    },
    "美妆": {
        "护肤": ["面霜", "精华", "面膜", "洗面奶", "爽肤水", "防晒霜"],
        "彩妆": ["口红", "粉底液", "眼影", "睫毛膏", "腮红"],
        "香水": ["女士香水", "男士香水"],
    },
    "食品": {
        "茶叶": ["绿茶", "红茶", "普洱", "乌龙茶", "花茶"],
        "零食": ["坚果", "饼干", "糖果", "肉干", "果干"],
        "酒水": ["白酒", "红酒", "啤酒"],
        "粮油": ["大米", "食用油", "面粉"],
    },
    "家居": {
        "床品": ["四件套", "被子", "枕头", "毛毯"],
        "厨具": ["保温杯", "炒锅", "刀具", "餐具", "水杯"],
        "家电": ["电饭煲", "空气炸锅", "吹风机", "电动牙刷", "加湿器", "扫地机器人"],
        "收纳": ["收纳箱", "衣架", "置物架"],
    },
    "母婴": {
        "喂养": ["奶瓶", "婴儿奶粉", "辅食"],
        "尿裤": ["婴儿纸尿裤", "拉拉裤", "湿巾"],
        "玩具": ["积木", "毛绒玩具", "遥控车", "拼图"],
    },
    "运动户外": {
        "健身": ["瑜伽垫", "哑铃", "跳绳"],
        "户外": ["帐篷", "登山包", "冲锋衣", "睡袋"],
        "球类": ["篮球", "足球", "羽毛球拍"],
    },
}

KIND_OF_INDUSTRY = {
    "服饰": "apparel",
    "鞋包": "shoes",
    "数码": "gadget",
    "美妆": "beauty",
    "食品": "food",
    "家居": "home",
    "母婴": "baby",
    "运动户外": "home",
}
BRANDS = {
    "apparel": [
        "优衣库",
        "太平鸟",
        "森马",
        "海澜之家",
        "波司登",
        "李宁",
        "安踏",
        "ZARA",
        "H&M",
        "雅戈尔",
        "以纯",
        "美特斯邦威",
    ],
    "shoes": ["耐克", "阿迪达斯", "李宁", "安踏", "回力", "百丽", "特步", "新秀丽", "小米", "骆驼"],
    "phone": ["Apple", "华为", "小米", "OPPO", "vivo", "荣耀", "一加", "三星", "Redmi", "realme"],
    "gadget": ["华为", "小米", "Apple", "漫步者", "Anker", "绿联", "索尼", "罗技", "联想", "倍思", "QCY", "BOSE"],
    "beauty": ["雅诗兰黛", "兰蔻", "迪奥", "完美日记", "花西子", "珀莱雅", "欧莱雅", "资生堂", "薇诺娜", "大宝"],
    "food": ["三只松鼠", "良品铺子", "百草味", "西湖", "八马", "张一元", "茅台", "五粮液", "金龙鱼", "福临门"],
    "home": ["苏泊尔", "美的", "九阳", "膳魔师", "象印", "罗莱", "水星家纺", "小米", "戴森", "飞利浦", "迪卡侬"],
    "baby": ["帮宝适", "花王", "好奇", "贝亲", "飞鹤", "美赞臣", "乐高", "费雪", "babycare"],
}
ADJECTIVES = {
    "apparel": ["纯棉", "真丝", "雪纺", "羊毛", "亚麻", "莫代尔", "加绒", "冰丝", "针织", "牛仔"],
    "shoes": ["真皮", "透气", "轻便", "防水", "复古", "百搭", "缓震", "帆布", "加绒", "大容量"],
    "phone": ["5G", "旗舰", "长续航", "拍照", "游戏", "折叠屏"],
    "gadget": ["无线", "降噪", "快充", "便携", "轻薄", "高清", "蓝牙", "智能", "大容量", "运动"],
    "beauty": ["保湿", "美白", "抗老", "控油", "滋润", "哑光", "持久", "温和", "修护", "提亮"],
    "food": ["有机", "特级", "手工", "原味", "低糖", "散装", "罐装", "礼盒装", "新茶", "进口"],
    "home": ["不锈钢", "陶瓷", "全棉", "智能", "家用", "大容量", "静音", "便携", "北欧风", "加厚"],
    "baby": ["超薄", "透气", "婴儿", "无添加", "益智", "柔软", "大号", "新生儿", "防胀气", "安全"],
}
STYLES = ["新款", "经典款", "爆款", "简约", "韩版", "宽松", "修身", "国潮", "商务", "休闲", "ins风", "复古"]
COLOURS = ["黑色", "白色", "红色", "蓝色", "灰色", "粉色", "绿色", "卡其色", "藏青色", "酒红色", "米白色", "紫色"]
SIZES = ["S", "M", "L", "XL", "XXL"]
SHOE_SIZES = [str(n) for n in range(35, 46)]
MEMORY = ["64GB", "128GB", "256GB", "512GB", "1TB"]
WEIGHTS = ["100g", "250g", "500g", "1kg", "礼盒装"]
VOLUMES = ["30ml", "50ml", "100ml", "200ml", "500ml"]
TAGS = [
    "送妈妈",
    "送爸爸",
    "送女友",
    "送男友",
    "送长辈",
    "礼物",
    "学生党",
    "平价",
    "国货",
    "新品",
    "爆款",
    "夏季",
    "冬季",
    "春秋",
    "商务",
    "运动",
    "办公",
    "母亲节",
    "情人节",
    "中秋",
    "年货",
    "出差",
    "宿舍",
    "网红",
]
AUDIENCE = {
    "女装": ["女", "女士", ""],
    "男装": ["男", "男士", ""],
    "童装": ["儿童", "男童", "女童"],
    "男鞋": ["男", "男士"],
    "女鞋": ["女", "女士"],
    "内衣": ["男", "女", ""],
}
MODELS = {
    "Apple": ["iPhone 15", "iPhone 15 Pro", "iPhone 14"],
    "华为": ["Mate 60", "Pura 70", "nova 12"],
    "小米": ["小米14", "Redmi K70", "Xiaomi 14 Ultra"],
    "OPPO": ["Find X7", "Reno 11"],
    "vivo": ["X100", "iQOO 12"],
    "荣耀": ["Magic6", "荣耀90"],
    "三星": ["Galaxy S24", "Galaxy Z Flip5"],
    "Redmi": ["Note 13", "K70"],
}
BASE_PRICE = {
    "apparel": (49, 899),
    "shoes": (69, 1299),
    "phone": (599, 12999),
    "gadget": (19, 2999),
    "beauty": (29, 1500),
    "food": (9, 999),
    "home": (19, 3999),
    "baby": (19, 599),
}


def _kind(industry: str, leaf: str) -> str:
    if leaf in ("智能手机", "老人机", "笔记本电脑", "平板电脑"):
        return "phone"
    return KIND_OF_INDUSTRY[industry]


def _specs(rng: random.Random, kind: str, count: int) -> list[str]:
    if kind == "apparel":
        colours, sizes = rng.sample(COLOURS, 3), SIZES
        options = [f"颜色:{c};尺码:{s}" for c in colours for s in sizes]
    elif kind == "shoes":
        colours = rng.sample(COLOURS, 2)
        options = [f"颜色:{c};尺码:{s}" for c in colours for s in SHOE_SIZES]
    elif kind == "phone":
        options = [f"颜色:{c};内存:{m}" for c in rng.sample(COLOURS, 3) for m in MEMORY]
    elif kind == "beauty":
        options = [f"规格:{v}" for v in VOLUMES] + [f"色号:{n}" for n in ("01", "02", "03", "999", "M01")]
    elif kind == "food":
        options = [f"规格:{w}" for w in WEIGHTS]
    else:
        options = [f"颜色:{c}" for c in COLOURS] + [f"规格:{v}" for v in VOLUMES]
    return rng.sample(options, min(count, len(options)))


def generate(rng: random.Random, skus: int, writer: Any) -> int:
    """Write a header and `skus` SKU rows (products of 1–8 SKUs); returns the number of rows."""
    leaves = [(i, s, leaf) for i, series in TREE.items() for s, ls in series.items() for leaf in ls]
    writer.writerow(COLUMNS)
    written = 0
    product = 0
    while written < skus:
        product += 1
        industry, series, leaf = rng.choice(leaves)
        kind = _kind(industry, leaf)
        brand = rng.choice(BRANDS[kind])
        adjectives = rng.sample(ADJECTIVES[kind], 2)
        audience = rng.choice(AUDIENCE.get(series, [""]))
        model = f" {rng.choice(MODELS[brand])}" if leaf == "智能手机" and brand in MODELS else ""
        title = f"{brand}{model} {adjectives[0]}{leaf} {adjectives[1]} {rng.choice(STYLES)} {audience}".strip()
        tags = "|".join(rng.sample(TAGS, rng.randint(1, 4)))
        low, high = BASE_PRICE[kind]
        base = rng.randint(low, high)
        count = min(rng.choice([1, 2, 3, 4, 4, 5, 6, 8]), skus - written)
        path = f"{industry}/{series}/{leaf}" if rng.random() > 0.05 else f"{industry}/{series}"
        spu = f"S{product:06d}"
        for n, spec in enumerate(_specs(rng, kind, count), 1):
            price = base * 100 + rng.choice([0, 0, 0, 1000, 2000, 5000]) * (n % 3) - rng.choice([0, 1, 10])
            stock = 0 if rng.random() < 0.05 else rng.randint(1, 500)
            writer.writerow(
                [
                    path,
                    spu,
                    title,
                    f"{spu}-{n}",
                    spec,
                    format_price(max(price, 100)),
                    stock,
                    rng.choice([0, 5, 10, 20]),
                    rng.choice(["0", "0.03", "0.05", "0.1"]),
                    "0",
                    f"https://img.example.com/{spu}/{n}.jpg",
                    f"{brand}{leaf}，{adjectives[0]}{adjectives[1]}。",
                    tags,
                ]
            )
            written += 1
    return written
