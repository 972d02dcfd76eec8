//! What the bench programs (benches/clients, benches/caches) share: reading their command
//! line, and percentiles of their timings.

/// The flags in a command line (`argv[0]` first): `cargo bench` passes `--bench` to every
/// bench target, which means nothing here and is dropped.
pub(crate) fn flags(argv: impl IntoIterator<Item = String>) -> Vec<String> {
    argv.into_iter()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect()
}

/// The items of a comma-separated flag value, trimmed, empty ones dropped.
pub(crate) fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// p50 and p99 of latencies in µs (the nearest rank); `None`s when there are none.
pub(crate) fn percentiles(mut us: Vec<f64>) -> (Option<f64>, Option<f64>) {
    if us.is_empty() {
        return (None, None);
    }
    us.sort_by(f64::total_cmp);
    let at = |q: f64| us[((us.len() - 1) as f64 * q).round() as usize];
    (Some(at(0.5)), Some(at(0.99)))
}
