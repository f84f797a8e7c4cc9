//! Process gauges for `/metrics`, read at each scrape: resident memory, open
//! file descriptors and threads (from `/proc/self`, Linux only) and the tokio
//! runtime's alive tasks. They show leaks in a long run (see the soak in
//! `docs/reliability.md`).

/// Sets `process_resident_memory_bytes`, `process_open_fds`,
/// `process_threads` and `psa_bridge_tokio_alive_tasks`.
pub fn record() {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        metrics::gauge!("psa_bridge_tokio_alive_tasks")
            .set(handle.metrics().num_alive_tasks() as f64);
    }
    #[cfg(target_os = "linux")]
    {
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            let (rss_kb, threads) = parse_status(&status);
            if let Some(kb) = rss_kb {
                metrics::gauge!("process_resident_memory_bytes").set((kb * 1024) as f64);
            }
            if let Some(threads) = threads {
                metrics::gauge!("process_threads").set(threads as f64);
            }
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            metrics::gauge!("process_open_fds").set(fds.count() as f64);
        }
    }
}

/// `VmRSS` (kB) and `Threads` from `/proc/PID/status`.
pub fn parse_status(status: &str) -> (Option<u64>, Option<u64>) {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    (field("VmRSS:"), field("Threads:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_and_garbage_is_ignored() {
        let status = "Name:\tpsa-bridge\nVmRSS:\t   20480 kB\nThreads:\t7\n";
        assert_eq!(parse_status(status), (Some(20480), Some(7)));
        assert_eq!(parse_status("VmRSS: lots\n"), (None, None));
    }
}
