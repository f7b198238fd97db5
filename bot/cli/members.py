"""`wxshop members segments [--rebuild]` and `wxshop members segment NAME FILE.toml`: the profiles' counts and
clusters, and a segment saved from a TOML rule with its size previewed."""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

from bot.cli.groups import Common, command_group
from bot.process.config import Config


def register(sub: argparse._SubParsersAction, common: Common) -> None:
    action = command_group(sub, common, "members", "member profiles and segments")
    what = "print the members per lifecycle stage and R/F/M/B score, the clusters and the saved segments"
    seg = action("segments", what, _segments)
    seg.add_argument("--rebuild", action="store_true", help="run the nightly profile rebuild and clustering first")
    one = action("segment", 'save a segment from a TOML rule (lifecycle = ["衰退"] …) and print its size', _segment)
    one.add_argument("name", metavar="NAME")
    one.add_argument("file", type=Path, metavar="FILE")


def _open(config: Config) -> None:
    from store.core.clock import process_clock
    from store.core.db import open_database
    from store.schema.steps import prepare

    open_database(config.database.url, config.var_dir)
    prepare(process_clock().now())


def _segments(args: argparse.Namespace, config: Config) -> int:
    from bot.features.profiles import profile_rules
    from store.core.clock import process_clock
    from store.core.db import close_database
    from store.profiles.clusters import recompute_clusters, stored_clusters
    from store.profiles.compute import lifecycle_counts, rebuild_profiles, rfm_counts
    from store.profiles.models import LIFECYCLE_STAGES
    from store.profiles.segments import list_segments, parse_rule, preview

    _open(config)
    try:
        now = process_clock().now()
        if args.rebuild:
            print(f"rebuilt {rebuild_profiles(profile_rules(config.profiles), now)} profiles")
            recompute_clusters(config.profiles.clusters, config.profiles.cluster_seed, now)
        stages = lifecycle_counts()
        print("lifecycle: " + "  ".join(f"{stage} {stages.get(stage, 0)}" for stage in LIFECYCLE_STAGES))
        for letter, counts in rfm_counts().items():
            print(f"{letter}: " + "  ".join(f"{score}:{counts.get(score, 0)}" for score in range(6)))
        for cluster in stored_clusters():
            print(f"cluster {cluster.describe()}")
        for segment in list_segments():
            print(f"segment {segment.name}: {preview(parse_rule(json.loads(segment.rule)), now)} members")
    finally:
        close_database()
    return 0


def _segment(args: argparse.Namespace, config: Config) -> int:
    from store.core.clock import process_clock
    from store.core.db import close_database
    from store.profiles.segments import SegmentError, parse_rule, preview, save_segment

    try:
        rule = parse_rule(tomllib.loads(args.file.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        print(f"wxshop: {args.file}: {exc}", file=sys.stderr)
        return 1
    except SegmentError as exc:
        for problem in exc.args[0]:
            print(f"wxshop: {args.file}: {problem}", file=sys.stderr)
        return 1
    _open(config)
    try:
        now = process_clock().now()
        save_segment(args.name, rule, now)
        print(f"segment {args.name}: {preview(rule, now)} members")
    finally:
        close_database()
    return 0
