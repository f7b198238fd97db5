"""The dialog engine assembled for a process: flows, answers, rules kept fresh, the engine probe."""
