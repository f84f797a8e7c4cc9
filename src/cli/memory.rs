//! Process memory set-up, done once before any thread starts.
//!
//! glibc's malloc gives threads their own arenas, up to eight per core, and
//! each keeps the memory it once held. The daemon's threads (the runtime's
//! workers, the blocking pool that flushes the store, sled's own) each
//! take one, so a burst such as a 100,000-operation backlog leaves the
//! process with several half-empty arenas: the drain benchmark measured
//! 197 MB peak while building that backlog and 129 MB draining it with
//! glibc's default, 137 MB and 97 MB with two arenas, at the same rate
//! (docs/performance.md). Two arenas are plenty: the daemon's allocations
//! are small and short-lived, and contention on them did not show.
//!
//! `MALLOC_ARENA_MAX` in the environment still wins, for anyone tuning it.

/// Limits glibc's malloc to two arenas unless `MALLOC_ARENA_MAX` is set.
/// Call first thing in `main`, before the runtime starts its threads.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a tuning parameter of the allocator;
        // it is called before any other thread exists, and M_ARENA_MAX
        // takes effect for arenas created afterwards. A refusal (0) leaves
        // glibc's default, which is only a matter of memory use.
        let _accepted = unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    }
}
