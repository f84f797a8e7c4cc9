#!/usr/bin/env python3
"""Removes, one at a time, each mechanism the invariants table in
docs/architecture.md names, runs the tests that table says catch it, and
reports CAUGHT or NOT CAUGHT. Every file is restored after each run.

Usage (from a clean checkout; takes about 20 minutes on 2 cores):
    python3 scripts/invariant-mutations.py            # all
    python3 scripts/invariant-mutations.py 0 3 8      # by index
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (invariant, file, text of the mechanism, what replaces it, tests that must fail)
MUTS = [
 ("nothing acknowledged is lost", "src/ingest/enqueue.rs",
  "    engine.store.flush().await?;\n", "", "ingest::enqueue::tests::acknowledged crash::acknowledged_webhook_survives_a_kill"),
 ("no duplicates: ticket marker lookup", "src/delivery/apply.rs",
  "read_in_place(|| connector.find_by_marker(&ticket.marker)).await?", "None::<Ticket>", "ambiguous::a_create_whose_answer_was_lost"),
 ("no duplicates: note marker lookup", "src/delivery/apply.rs",
  ".find(|c| c.marker.as_deref() == Some(comment.marker.as_str()))", ".find(|_| false)", "ambiguous::notes_whose_answers_were_lost"),
 ("no loops: in-flight rule", "src/engine/reconcile.rs",
  "&& !pending.contains(&(side, name.to_string()))", "&& pending.len() < usize::MAX", "engine::tests::fields_in_flight_are_not_changes story::escalation_story_with_webhooks"),
 ("no loops: own notes recognised", "src/engine/comments.rs",
  "if written_by_bridge(&plan.link, side, marker, outbox_before_fetch) {", "if false && written_by_bridge(&plan.link, side, marker, outbox_before_fetch) {", "engine::tests::the_links_once_only_markers story::escalation_story_with_webhooks"),
 ("no loops: close echo", "src/engine/reconcile.rs",
  "Some(known) if now.values.get(STATUS) == Some(known) => SideClose::ByBridge,", "Some(known) if false && now.values.get(STATUS) == Some(known) => SideClose::ByBridge,", "close::internal_close"),
 ("internal stays internal", "src/engine/comments.rs",
  "Visibility::Internal => rules.internal,", "Visibility::Internal => rules.public,", "visibility::internal_notes_cross_only_where_allowed"),
 ("rate limits", "connectors/core/src/http.rs",
  "let _permit = self.limiter.acquire().await;", "", "rate::"),
 ("order per ticket: one delivery per queue at a time", "src/store/outbox.rs",
  "if skip(link, byte_side(side)) {", "if false && skip(link, byte_side(side)) {", "order::one_tickets_writes"),
 ("bad input: signature", "connectors/autotask/src/hooks.rs",
  "        check_signature(secret, request)?;\n", "        let _ = secret;\n",  "webhooks::autotask_webhook_signatures"),
 ("secrets: ConnectWise Debug redaction", "connectors/connectwise/src/settings.rs",
  '.field("private_key", &"<redacted>")', '.field("private_key", &self.private_key)', "settings::tests::debug_redacts_secrets"),
 ("trigger: queue", "src/engine/trigger.rs",
  "&& ticket.queue.as_deref() == Some(trigger.queue.get_ref().as_str())", "", "trigger:: engine::tests::trigger_rules"),
]


def main():
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    if dirty:
        sys.exit("refusing to run: the checkout has uncommitted changes")
    only = sys.argv[1:]
    missed = 0
    for i, (name, path, old, new, tests) in enumerate(MUTS):
        if only and str(i) not in only:
            continue
        full = os.path.join(ROOT, path)
        original = open(full).read()
        if old not in original:
            print(f"[{i}] {name}: mechanism text not found in {path}", flush=True)
            missed += 1
            continue
        open(full, "w").write(original.replace(old, new, 1))
        try:
            args = ["cargo", "test", "--workspace", "--quiet", "--"] + tests.split()
            run = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
            caught = run.returncode != 0
            failed = [l for l in (run.stdout + run.stderr).splitlines()
                      if l.startswith("test ") and "FAILED" in l]
            print(f"[{i}] {name}: {'CAUGHT' if caught else 'NOT CAUGHT'} by {tests} {failed[:4]}",
                  flush=True)
            missed += 0 if caught else 1
        finally:
            open(full, "w").write(original)
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
