//! Named points where a test can make a real node process die as `kill -9` would, to prove
//! that a crash between two steps loses nothing. An outside `kill -9` cannot be timed to fall
//! between two steps a few microseconds apart; [`crash_point`] can.
//!
//! Compiled in only with the `crash-points` feature, which the workspace's test builds turn
//! on (`cli`'s dev-dependencies); a release build has none, and [`crash_point`] is empty.
//! With the feature, the process kills itself with `SIGKILL` when the environment variable
//! `LIAISON_CRASH_AT` equals the point's name: no destructor, no flush, no clean stop.

/// Dies here, with `SIGKILL`, if the `crash-points` feature is on, `LIAISON_CRASH_AT` names `point` and
/// `when` says the point applies (asked only then: without the feature it costs nothing).
#[inline]
pub(crate) fn crash_point(point: &str, when: impl FnOnce() -> bool) {
    #[cfg(feature = "crash-points")]
    if std::env::var_os("LIAISON_CRASH_AT").is_some_and(|v| v == point) && when() {
        tracing::warn!(point, "crash point reached: killing this process");
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
    #[cfg(not(feature = "crash-points"))]
    let _ = (point, when);
}
