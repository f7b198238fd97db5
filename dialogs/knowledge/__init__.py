"""Shop knowledge and small talk: answers generated from the shop's own config ("有什么活动", "怎么升级",
"积分怎么用", "几天无理由", "多久发货") and short on-brand replies to "谢谢", "好的", "哈哈", "再见", "你好".

`topics` and `smalltalk` are pure (settings, the follower's facts, now, rng → Chinese text), so changing the
config changes the answer and the tests need no database; `store_facts` reads the follower's facts from the
store; `chat` puts them together as the engine's answers mapping.
"""
