//! Log set-up: human or JSON lines on stderr, filtered by `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

use super::LogFormat;

const DEFAULT_FILTER: &str = "info,tower_http=warn";

/// sled logs one trace line from a crossbeam-epoch destructor, which can run
/// while a worker thread's thread-locals are being torn down; the fmt layer
/// then panics inside a TLS destructor and the process aborts at shutdown
/// (tokio-rs/tracing#3239). When a filter would let that line through, the
/// module is capped at debug.
const SLED_IOBUF_CAP: &str = "sled::pagecache::iobuf=debug";

/// `spec` with [`SLED_IOBUF_CAP`] added when it enables trace for sled
/// (globally or for a `sled...` target); otherwise unchanged, so the cap
/// never turns on logs that were off.
fn capped(spec: &str) -> String {
    let traces_sled = spec.split(',').map(str::trim).any(|directive| {
        let lower = directive.to_ascii_lowercase();
        lower == "trace" || (lower.starts_with("sled") && lower.ends_with("=trace"))
    });
    if traces_sled {
        format!("{spec},{SLED_IOBUF_CAP}")
    } else {
        spec.to_string()
    }
}

pub fn init(format: LogFormat) {
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| DEFAULT_FILTER.to_string());
    let filter =
        EnvFilter::try_new(capped(&spec)).unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::capped;

    #[test]
    fn sled_is_capped_only_where_trace_would_reach_it() {
        assert_eq!(capped("trace"), "trace,sled::pagecache::iobuf=debug");
        assert_eq!(
            capped("info,sled=trace"),
            "info,sled=trace,sled::pagecache::iobuf=debug"
        );
        for unchanged in ["info,tower_http=warn", "debug", "psa_bridge=trace", ""] {
            assert_eq!(capped(unchanged), unchanged);
        }
        assert!(super::EnvFilter::try_new(capped("trace")).is_ok());
    }
}
