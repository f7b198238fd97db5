"""The Chinese the console shows for the admin API's errors: one table, applied by `api.error` to every error body.

Every error answers `{"error": <the English detail API clients and logs rely on>, "message": <Chinese>, ...}`;
the console shows `message`. A detail the table does not know still gets a Chinese sentence for its status, so
no English reaches an operator. Problems of a 422 get `problems_zh` the same way, one line each.
"""

from __future__ import annotations

import re

BY_STATUS = {
    400: "提交的内容有误，请检查后再试",
    401: "登录已过期，请重新登录",
    403: "没有权限执行这个操作",
    404: "找不到这条记录",
    405: "不支持这个操作",
    409: "当前状态不允许这个操作",
    413: "上传的内容太大",
    422: "提交的内容有问题，请按提示修改",
    429: "操作太频繁，请稍后再试",
    500: "服务器出错了，问题已记录，请稍后再试",
    502: "微信接口拒绝了这次调用，请稍后再试",
    503: "服务暂时不可用，请稍后再试",
}

# (pattern on the English detail, Chinese; {0}, {1}… are the pattern's groups), most specific first
PATTERNS: tuple[tuple[str, str], ...] = (
    (r"body is not JSON|request body must be a JSON object|body must be a JSON object", "请求内容不是有效的 JSON 对象"),
    (r"the CSV must be UTF-8", "CSV 文件必须是 UTF-8 编码"),
    (r"catalog CSV too large", "商品 CSV 文件太大"),
    (r"(\w+) must be a whole number between (-?\d+) and (\d+)", "参数 {0} 必须是 {1} 到 {2} 之间的整数"),
    (r"(\w+) must be 1\.\.(\d+)", "参数 {0} 必须在 1 到 {1} 之间"),
    (r"(\w+) must be a date like", "日期格式应为 2026-11-24（参数 {0}）"),
    (r"unknown status", "未知的状态"),
    (r"unknown kind", "未知的类型"),
    (r"query parameter text is required", "请填写要测试的文字"),
    (r"amount_fen must be an integer", "金额必须是整数（分）"),
    (r"quantity must be a whole number", "数量必须是大于 0 的整数"),
    (r"stock \(and stock_alert\) must be", "库存和预警库存必须是不小于 0 的整数"),
    (r"method must be points, coupon, refund or transfer", "补偿方式只能是积分、优惠券、退款或转账"),
    (r"reason \(a string for the buyer\) is required", "请填写给买家的拒绝理由"),
    (r"carrier and tracking_no are required", "请填写快递公司和运单号"),
    (r"tracking number must be", "运单号应为 6 到 32 位字母、数字或 -"),
    (r"unknown carrier", "不认识这家快递公司"),
    (r"missing or wrong X-CSRF-Token", "页面已过期，请刷新后再试"),
    (r"the console session has ended", "登录已过期，请重新登录"),
    (r"the admin API is disabled", "管理接口未启用：请登录管理后台"),
    (r"missing or wrong bearer token", "访问令牌缺失或错误"),
    (r"the password must be changed first", "请先修改密码"),
    (r"role (\w+) may not", "当前角色无权执行这个操作"),
    (r"this route has no role", "这个接口尚未配置权限，只有管理员可以使用"),
    (r"the current password is wrong", "当前密码不正确"),
    (r"the password is too short", "密码太短：至少 10 个字符"),
    (r"the password is too simple", "密码太简单：至少使用 4 种不同的字符"),
    (r"the password must not contain the username", "密码不能包含用户名"),
    (r"the new password must differ", "新密码不能与当前密码相同"),
    (r"invalid username", "用户名只能包含字母、数字和 . _ @ -，以字母或数字开头，最多 64 个字符"),
    (r"unknown role", "角色只能是管理员、运营或只读"),
    (r"you cannot (disable|demote) yourself", "不能停用自己或降低自己的角色"),
    (r"admin user '([^']*)' exists already", "账号 {0} 已存在"),
    (r"no admin user '([^']*)'", "找不到账号 {0}"),
    (r"a rule named '([^']*)' exists already", "已有名为「{0}」的规则"),
    (r"exists already", "名称已被占用"),
    (r"scene '([^']*)' is already used", "场景值 {0} 已被其他二维码使用"),
    (r"no rule with that name", "找不到这条规则"),
    (r"no such SKU", "找不到这个规格"),
    (r"no such category", "找不到这个类目"),
    (r"no such coupon template", "找不到这个优惠券模板"),
    (r"no active coupon template", "没有启用中的这个优惠券模板"),
    (r"no such example", "找不到这条例句"),
    (r"no such member or follower|no such follower", "找不到这位粉丝"),
    (r"no such notice", "找不到这条消息"),
    (r"no such order|unknown order", "找不到这个订单"),
    (r"no such product", "找不到这个商品"),
    (r"no such question", "问题列表里没有这一条"),
    (r"no campaign", "找不到这个营销活动"),
    (r"no (such )?(ticket|case)|unknown case", "找不到这个售后单"),
    (r"this order has no shipment", "这个订单还没有发货记录"),
    (r"refunded in full already", "这个订单已全额退款"),
    (r"nothing to refund", "这个订单没有可退的金额"),
    (r"unpaid", "订单尚未支付"),
    (r"cancelled", "已取消，不能再操作"),
    (r"WeChat refused.*?\b(-?\d{1,6})\b", "微信接口拒绝了这次调用（错误码 {0}），请稍后再试"),
    (r"WeChat refused", "微信接口拒绝了这次调用，请稍后再试"),
    (r"has problems|have problems|breaks WeChat's limits|was not taught|was not issued|expected ", ""),
    (r"a dependency \(Redis or the database\) is unavailable", "服务暂时不可用，请稍后再试"),
    (r"internal error", "服务器出错了，问题已记录，请稍后再试"),
    (r"not found|unknown route", "找不到这个接口或记录"),
    (r"method not allowed", "不支持这个操作"),
)
_COMPILED = tuple((re.compile(pattern, re.IGNORECASE), text) for pattern, text in PATTERNS)
_HAN = re.compile(r"[\u4e00-\u9fff]")
_ENGLISH = re.compile(r"[A-Za-z]{2,}[ ,;:'][ ]?[A-Za-z]{2,}")  # two English words: a sentence, not a field name


def chinese(status: int, detail: str) -> str:
    """The operator's sentence for an error: the table's match for `detail`, else the status's sentence."""
    if _HAN.search(detail) and not re.search(r"[A-Za-z]{4,} [A-Za-z]{3,}", detail):
        return detail
    for pattern, text in _COMPILED:
        found = pattern.search(detail)
        if found:
            return text.format(*found.groups()) if text else BY_STATUS.get(status, BY_STATUS[400])
    return BY_STATUS.get(status, BY_STATUS[500] if status >= 500 else BY_STATUS[400])


FIELD_NAMES = {"name": "名称", "key": "key 值", "url": "链接"}
WHERE = (
    (re.compile(r"sub_button (\d+) \(([^)]*)\)"), "第{0}个子按钮「{1}」"),
    (re.compile(r"button (\d+) \(([^)]*)\)"), "第{0}个按钮「{1}」"),
)
PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), text)
    for pattern, text in (
        (r"(name|key|url) is (\d+) bytes, WeChat allows (\d+)", "{0}长 {1} 字节，微信最多 {2} 字节"),
        (r"expected 1 to (\d+) (?:sub_)?buttons?, got (\d+)", "按钮应为 1 到 {0} 个，现在是 {1} 个"),
        (r"needs a key", "需要填写 key 值"),
        (r"needs an http\(s\) url", "需要填写 http(s) 链接"),
        (r"unknown type", "按钮类型不正确"),
        (r"required|missing|must not be empty|is empty", "必填"),
        (r"too long|at most (\d+)", "太长了"),
        (r"must be (?:a |an )?(?:whole number|integer|number)", "必须是数字"),
        (r"unknown|expected one of|must be one of", "取值不在允许的范围内"),
    )
)


def chinese_problem(problem: object) -> str:
    """One line of a 422's problems for the console: kept when it has no English sentence, else the button or
    field it names and what is wrong with it, in Chinese."""
    text = str(problem)
    if not _ENGLISH.search(text):
        return text
    whole = next(((pattern, zh) for pattern, zh in _COMPILED if zh and pattern.search(text)), None)
    if whole is not None:  # a sentence the table knows, field and all
        return whole[1].format(*whole[0].search(text).groups())  # type: ignore[union-attr]
    where, _, what = text.partition(": ") if ": " in text else ("", "", text)
    for pattern, zh in _COMPILED:
        found = pattern.search(what)
        if found and zh:
            said = zh.format(*found.groups())
            break
    else:
        said = next((zh.format(*(FIELD_NAMES.get(g, g) for g in m.groups()))
                     for pattern, zh in PROBLEMS if (m := pattern.search(what))), "内容不符合要求")  # fmt: skip
    if not where:
        return said
    place = where
    for pattern, zh in WHERE:
        place = pattern.sub(lambda m, zh=zh: zh.format(*m.groups()), place)
    if _ENGLISH.search(place):
        place = "有一项内容"
    elif place == where and re.fullmatch(r"[\w.\[\]]+", where):
        place = f"字段 {where}"
    return f"{place}：{said}"
