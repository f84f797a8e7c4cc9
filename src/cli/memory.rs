//! Process memory set-up, done once before any thread starts.
//!
//! glibc's malloc gives threads their own arenas, up to eight per core, and
//! each keeps the memory it once held. The daemon's threads (the runtime's
//! workers, the blocking pool that flushes the store, sled's own) each
//! take one, so a burst such as a 100,000-operation backlog leaves the
//! process with several half-empty arenas. Measured with the drain
//! benchmark (`psa-bridge-bench -- drain`, 16 MiB page cache, peak RSS
//! building the backlog / restarted and draining it): glibc's default
//! about 165 / 106 MB, four arenas 122 / 90 MB, two 113-120 / 81-88 MB,
//! one 94 / 77 MB. Fewer than four cost webhook intake a sixth of its rate
//! (64 concurrent senders contend on the allocator; `-- ingest --quick`:
//! about 4,800 accepted/s with two arenas, 6,100 with four or more), so
//! the daemon takes four (docs/performance.md).
//!
//! `MALLOC_ARENA_MAX` in the environment still wins, for anyone tuning it.

/// Arenas glibc's malloc may keep (see the module docs for the measure).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_ARENAS: libc::c_int = 4;

/// Limits glibc's malloc to four arenas unless `MALLOC_ARENA_MAX` is set.
/// Call first thing in `main`, before the runtime starts its threads.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a tuning parameter of the allocator;
        // it is called before any other thread exists, and M_ARENA_MAX
        // takes effect for arenas created afterwards. A refusal (0) leaves
        // glibc's default, which is only a matter of memory use.
        let _accepted = unsafe { libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS) };
    }
}
