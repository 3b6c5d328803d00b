//! Memory as the benches measure it: the heap bytes Rust code holds, counted by a global
//! allocator that wraps mimalloc (the daemon's allocator), and the process's resident
//! memory. A bench that counts installs it: `#[global_allocator] static GLOBAL:
//! LiveBytes = LiveBytes;`. SQLite's own allocations are not counted (it calls malloc).

use std::{
    alloc::{GlobalAlloc, Layout},
    sync::atomic::{AtomicIsize, Ordering::Relaxed},
};

/// mimalloc with a count of the bytes live.
#[derive(Debug)]
pub struct LiveBytes;

static LIVE: AtomicIsize = AtomicIsize::new(0);

#[allow(unsafe_code)]
// SAFETY: every call is passed straight to mimalloc (the daemon's allocator); only a
// counter is added.
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: the caller's layout contract is passed on unchanged.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        // SAFETY: as for `alloc` and `dealloc`: the contract is passed on unchanged.
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

/// Heap bytes live now (only with [`LiveBytes`] installed).
pub fn live_bytes() -> isize {
    LIVE.load(Relaxed)
}

/// Resident memory of this process, in bytes.
pub fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}
