//! Criterion benchmarks of Permafrost's hot paths live in `benches/`; the
//! comparison scripts beside them run Permafrost's tools against peer tools on
//! the same data and print ratios. This library holds only shared helpers.

/// Whether Criterion was started by `cargo bench` (real measurements) rather
/// than by `cargo test --benches` (each benchmark run once, as a smoke test).
/// Benchmarks use it to pick full-size inputs only when measuring.
pub fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}
