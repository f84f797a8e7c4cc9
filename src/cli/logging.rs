//! Log set-up: human or JSON lines on stderr, filtered by `RUST_LOG` (default `info`).
//!
//! Quiet mode (`demo`): only warnings and errors reach stderr; every record
//! the filter lets through goes to the file the command names with
//! [`log_to_file`] (none are kept before it does).
//!
//! sled's own records are capped at `info` whatever `RUST_LOG` says: sled
//! logs at debug and trace from epoch-reclamation closures that run in
//! thread-exit destructors, where the formatter's thread-local buffer is
//! already gone, and a log call there aborts the process at shutdown.

use std::io::Write;
use std::sync::Mutex;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

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

/// The log file of quiet mode, once named.
static LOG_FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Quiet mode's full log from now on goes to `path` (appended).
pub fn log_to_file(path: &std::path::Path) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    *LOG_FILE.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
    Ok(())
}

/// Writes to [`LOG_FILE`], or nowhere while none is named.
struct FileWriter;

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match LOG_FILE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(file) => file.write_all(buf).map(|()| buf.len()),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match LOG_FILE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// Sets up logging; `quiet`: warnings on stderr, the rest to [`log_to_file`].
pub fn init(format: LogFormat, quiet: bool) {
    let spec = std::env::var("RUST_LOG").ok();
    if quiet {
        let registry = tracing_subscriber::registry().with(env_filter(spec.as_deref()));
        let _ = match format {
            LogFormat::Human => registry
                .with(
                    fmt::layer()
                        .with_writer(std::io::stderr)
                        .with_filter(LevelFilter::WARN),
                )
                .with(fmt::layer().with_ansi(false).with_writer(|| FileWriter))
                .try_init(),
            LogFormat::Json => registry
                .with(
                    fmt::layer()
                        .json()
                        .with_writer(std::io::stderr)
                        .with_filter(LevelFilter::WARN),
                )
                .with(fmt::layer().json().with_writer(|| FileWriter))
                .try_init(),
        };
        return;
    }
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
