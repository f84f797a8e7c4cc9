//! Log set-up: human or JSON lines on stderr, filtered by `RUST_LOG` (default `info`).
//!
//! sled's own records are capped at `info` whatever `RUST_LOG` says: sled
//! logs at debug and trace from epoch-reclamation closures that run in
//! thread-exit destructors, where the formatter's thread-local buffer is
//! already gone, and a log call there aborts the process at shutdown.

use tracing_subscriber::EnvFilter;

use super::LogFormat;

/// Directives that always apply, after the user's.
const FORCED: &str = "sled=info";

/// The filter for a `RUST_LOG` value (`None`: the default).
fn env_filter(spec: Option<&str>) -> EnvFilter {
    let user = spec
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new("info,tower_http=warn"));
    FORCED
        .split(',')
        .filter_map(|d| d.parse().ok())
        .fold(user, |filter, directive| filter.add_directive(directive))
}

pub fn init(format: LogFormat) {
    let spec = std::env::var("RUST_LOG").ok();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter(spec.as_deref()))
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
    use tracing::Level;
    use tracing_subscriber::layer::SubscriberExt;

    use super::env_filter;

    fn enabled(spec: Option<&str>, target_is_sled: bool, level: Level) -> bool {
        let subscriber = tracing_subscriber::registry().with(env_filter(spec));
        tracing::subscriber::with_default(subscriber, || {
            if target_is_sled {
                match level {
                    Level::TRACE => {
                        tracing::enabled!(target: "sled::pagecache::iobuf", Level::TRACE)
                    }
                    Level::DEBUG => {
                        tracing::enabled!(target: "sled::pagecache::iobuf", Level::DEBUG)
                    }
                    _ => tracing::enabled!(target: "sled::pagecache::iobuf", Level::INFO),
                }
            } else {
                tracing::enabled!(target: "psa_bridge::engine", Level::TRACE)
            }
        })
    }

    #[test]
    fn sled_stays_at_info_even_when_everything_else_traces() {
        assert!(enabled(Some("trace"), false, Level::TRACE));
        assert!(!enabled(Some("trace"), true, Level::TRACE));
        assert!(!enabled(Some("sled=trace"), true, Level::DEBUG));
        assert!(enabled(Some("trace"), true, Level::INFO));
    }

    #[test]
    fn an_unparsable_spec_falls_back_to_the_default() {
        assert!(!enabled(Some("=[not a filter"), false, Level::TRACE));
        assert!(enabled(Some("=[not a filter"), true, Level::INFO));
    }
}
