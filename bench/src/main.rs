//! `psa-bridge-bench <scenario> [--quick] [--json]`: runs benchmark
//! scenarios against the real daemon and prints a table, or with `--json`
//! one JSON array with an object per scenario. Missed targets are printed,
//! not failures; the exit status is 1 only when a run itself broke, 2 on a
//! usage error.

use std::process::ExitCode;

use psa_bridge_bench::report::Size;
use psa_bridge_bench::SCENARIOS;

const USAGE: &str =
    "usage: psa-bridge-bench <ingest|sync|latency|drain|micro|all> [--quick] [--json]\n\
    --quick  every scenario at reduced size (`all --quick` takes a few minutes)\n\
    --tiny   the CI smoke test's size: checks the harness, the figures mean nothing\n\
    --json   print one JSON array, an object per scenario (progress goes to stderr)\n\
    The daemon binary: PSA_BRIDGE_BIN, else built with cargo (`cargo build -p psa-bridge`\n\
    in the bench's profile) when run by cargo, else psa-bridge beside this binary.";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut size = Size::Full;
    let mut json = false;
    let mut scenario = None;
    for arg in &args {
        match arg.as_str() {
            "--quick" => size = Size::Quick,
            "--tiny" => size = Size::Tiny,
            "--json" => json = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            name if !name.starts_with('-') && scenario.is_none() => {
                scenario = Some(name.to_string())
            }
            other => {
                eprintln!("unexpected argument {other:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(scenario) = scenario else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let scenarios: Vec<&str> = match scenario.as_str() {
        "all" => SCENARIOS.to_vec(),
        name if SCENARIOS.contains(&name) => vec![name],
        other => {
            eprintln!("unknown scenario {other:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let binary = match psa_bridge_bench::daemon::binary() {
        Ok(binary) => binary,
        Err(e) => {
            eprintln!("psa-bridge-bench: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    eprintln!(
        "psa-bridge-bench: {} at {} size; daemon {}; {cores} cores",
        scenarios.join(", "),
        size.name(),
        binary.display()
    );
    let mut reports = Vec::new();
    for name in scenarios {
        let begin = std::time::Instant::now();
        eprintln!("running {name} ...");
        match psa_bridge_bench::run(name, size, &binary).await {
            Ok(report) => {
                eprintln!("{name} done in {:.1} s", begin.elapsed().as_secs_f64());
                if !json {
                    report.print();
                }
                reports.push(report.to_json());
            }
            Err(e) => {
                eprintln!("psa-bridge-bench: {name} broke: {e:#}");
                if json {
                    println!("{}", serde_json::Value::Array(reports));
                }
                return ExitCode::FAILURE;
            }
        }
    }
    if json {
        println!("{}", serde_json::Value::Array(reports));
    }
    ExitCode::SUCCESS
}
