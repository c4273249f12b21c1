//! How the server uses glibc's allocator. The feed holds large states that are replaced whole on
//! every change; by default glibc keeps what they free in its arenas (and, after a few large
//! frees, stops mapping large buffers separately), so a server with 10,000 flags would sit at
//! well over its working size after each change.

/// Called once at start: large buffers (bodies, flag lists, hash tables) get their own mappings
/// and go back to the kernel when freed, and two arenas keep freed space reusable across the
/// threads that build and drop states.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before the runtime starts threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Hands free pages back to the kernel; after a rebuild, which frees as much as it allocates.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// How often a serving process hands free pages back.
pub const RELEASE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Hands free pages back every `every`, on a thread of its own. Rendering a large page or
/// evaluating thousands of flags frees as much as it allocates, but glibc keeps pages freed in
/// the middle of its heaps until asked: at 10,000 flags a round of web pages left ~24 MiB
/// resident that one trim returned. A trim walks the heaps for a few milliseconds.
pub fn release_periodically(every: std::time::Duration) {
    let spawned = std::thread::Builder::new()
        .name("memory-release".into())
        .spawn(move || loop {
            std::thread::sleep(every);
            let started = std::time::Instant::now();
            release_freed();
            tracing::trace!(
                took_us = started.elapsed().as_micros() as u64,
                "free pages released"
            );
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start releasing free memory; serving anyway");
    }
}
