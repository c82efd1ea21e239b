//! Shared helpers for Liaison scenario tests.
