//! Log set-up: human or JSON lines on stderr, filtered by `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

use super::LogFormat;

/// See [`init`]: caps the one sled module that logs from a TLS destructor.
const SLED_IOBUF_CAP: &str = "sled::pagecache::iobuf=debug";

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn"))
        // sled logs one trace line from a crossbeam-epoch destructor, which
        // can run while a worker thread's thread-locals are being torn down;
        // the fmt layer then panics inside a TLS destructor and the process
        // aborts at shutdown (tokio-rs/tracing#3239). That module never
        // logs above debug otherwise.
        .add_directive(SLED_IOBUF_CAP.parse().unwrap_or_default());
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
    #[test]
    fn the_sled_cap_parses() {
        let directive: Result<tracing_subscriber::filter::Directive, _> =
            super::SLED_IOBUF_CAP.parse();
        assert!(directive.is_ok(), "{directive:?}");
    }
}
