#!/usr/bin/env bash
# The full crash campaign (docs/reliability.md, "Crashes"): 100 tickets in two
# pairings (ServiceNow <-> ConnectWise, Jira <-> Autotask), 1,000 changes on
# both sides, the daemon SIGKILLed 50 times at random instants. Prints its
# figures; a failure keeps the daemon logs and store and names their folder.
#
#   scripts/crash-campaign.sh [SEED]      (default: the current time)
#
# PSA_CAMPAIGN_TICKETS, PSA_CAMPAIGN_CHANGES and PSA_CAMPAIGN_KILLS override
# the sizes. Replay a failure with the seed it printed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PSA_CAMPAIGN_SEED="${1:-$(date +%s)}"
export PSA_CAMPAIGN_TICKETS="${PSA_CAMPAIGN_TICKETS:-100}"
export PSA_CAMPAIGN_CHANGES="${PSA_CAMPAIGN_CHANGES:-1000}"
export PSA_CAMPAIGN_KILLS="${PSA_CAMPAIGN_KILLS:-50}"
exec cargo test --locked --test e2e campaign::crash_campaign -- --nocapture --test-threads 1
