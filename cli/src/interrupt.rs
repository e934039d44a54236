//! Ctrl-C and termination signals: a flag that the processing loop polls, so that a run stops between two
//! chunks and removes its unfinished files.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler for SIGINT, SIGTERM and SIGHUP (Ctrl-C on Windows). Call once; an error means the
/// signals keep their default effect. Allocates (a thread).
pub fn install() -> Result<(), ctrlc::Error> {
    ctrlc::set_handler(|| REQUESTED.store(true, Ordering::SeqCst))
}

/// Whether a stop was asked for. Never allocates.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}
