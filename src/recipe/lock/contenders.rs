//! Which children of a lock path are contenders, in which order, and the one decision a
//! waiter makes: given the children and my node, do I hold the lock, and whom do I watch?
//! Pure functions, so the ordering across the signed wrap (kazoo #606) is unit-tested.

use crate::recipe::sequence::{before, sequence_after, sort_by_sequence};

/// The sequence of `name` if it is a contender under one of `markers`: a marker followed
/// by a suffix the server writes (kazoo's `(?:markers)(-?\d{10})$`, with literal markers).
pub(crate) fn contender_sequence<S: AsRef<str>>(name: &str, markers: &[S]) -> Option<i32> {
    markers
        .iter()
        .find_map(|m| sequence_after(name, m.as_ref()))
}

/// What a contender does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// No earlier node that excludes us: the lock is ours.
    Holding,
    /// Wait for this child (a name, not a path): the latest earlier node that excludes us.
    Wait(String),
    /// Our node is not among the children (deleted, or its session is gone).
    Missing,
}

/// Decides for the node `mine` (a child name carrying `my_marker` and its sequence) among
/// `children`: the nodes that exclude it are those carrying one of `excluding` with an
/// earlier sequence (parsed, wrap-aware; never compared as strings); later nodes and
/// foreign children never count (kazoo #649, #309).
pub(crate) fn decide<S: AsRef<str>>(
    children: &[String],
    mine: &str,
    my_marker: &str,
    excluding: &[S],
) -> Decision {
    let Some(my_seq) = sequence_after(mine, my_marker) else {
        return Decision::Missing;
    };
    if !children.iter().any(|c| c == mine) {
        return Decision::Missing;
    }
    let mut best: Option<(i32, &String)> = None;
    for c in children.iter().filter(|c| *c != mine) {
        let Some(seq) = contender_sequence(c, excluding) else {
            continue;
        };
        if !before(seq, my_seq) {
            continue;
        }
        // The immediate predecessor: the earlier node closest to ours.
        let dist = seq.wrapping_sub(my_seq);
        if best.map_or(true, |(d, _)| dist > d) {
            best = Some((dist, c));
        }
    }
    match best {
        Some((_, c)) => Decision::Wait(c.clone()),
        None => Decision::Holding,
    }
}

/// The contenders among `children` (names carrying one of `markers` and a suffix), in the
/// order the server handed out their sequences (wrap-aware).
pub(crate) fn contenders<S: AsRef<str>>(children: &[String], markers: &[S]) -> Vec<String> {
    let mut found: Vec<(i32, String)> = children
        .iter()
        .filter_map(|c| contender_sequence(c, markers).map(|s| (s, c.clone())))
        .collect();
    sort_by_sequence(&mut found, |(s, _)| *s);
    found.into_iter().map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &[&str] = &["__lock__"];
    const WRITE: &[&str] = &["__lock__", "__rlock__"];

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_first_contender_holds_and_the_next_watches_its_predecessor() {
        let ch = names(&[
            "b__lock__0000000002",
            "a__lock__0000000001",
            "c__lock__0000000003",
        ]);
        assert_eq!(
            decide(&ch, "a__lock__0000000001", "__lock__", LOCK),
            Decision::Holding
        );
        assert_eq!(
            decide(&ch, "c__lock__0000000003", "__lock__", LOCK),
            Decision::Wait("b__lock__0000000002".into())
        );
        assert_eq!(
            decide(&ch, "d__lock__0000000004", "__lock__", LOCK),
            Decision::Missing
        );
    }

    #[test]
    fn order_holds_across_the_signed_wrap() {
        let ch = names(&[
            "x__lock__-2147483648",
            "y__lock__2147483647",
            "z__lock__-2147483647",
        ]);
        // 2147483647 came before -2147483648 (a string compare says the opposite).
        assert_eq!(
            decide(&ch, "y__lock__2147483647", "__lock__", LOCK),
            Decision::Holding
        );
        assert_eq!(
            decide(&ch, "x__lock__-2147483648", "__lock__", LOCK),
            Decision::Wait("y__lock__2147483647".into())
        );
        assert_eq!(
            decide(&ch, "z__lock__-2147483647", "__lock__", LOCK),
            Decision::Wait("x__lock__-2147483648".into())
        );
        assert_eq!(
            contenders(&ch, LOCK),
            names(&[
                "y__lock__2147483647",
                "x__lock__-2147483648",
                "z__lock__-2147483647"
            ])
        );
    }

    #[test]
    fn readers_wait_for_earlier_writers_only_and_writers_for_everyone_earlier() {
        let ch = names(&[
            "r1__rlock__0000000001",
            "w2__lock__0000000002",
            "r3__rlock__0000000003",
            "r4__rlock__0000000004",
            "w5__lock__0000000005",
        ]);
        // A reader: earlier writers only; two readers with no writer before share.
        assert_eq!(
            decide(&ch, "r1__rlock__0000000001", "__rlock__", LOCK),
            Decision::Holding
        );
        assert_eq!(
            decide(&ch, "r4__rlock__0000000004", "__rlock__", LOCK),
            Decision::Wait("w2__lock__0000000002".into())
        );
        // A writer: any earlier node; a later writer never blocks a reader (#649).
        assert_eq!(
            decide(&ch, "w2__lock__0000000002", "__lock__", WRITE),
            Decision::Wait("r1__rlock__0000000001".into())
        );
        assert_eq!(
            decide(&ch, "w5__lock__0000000005", "__lock__", WRITE),
            Decision::Wait("r4__rlock__0000000004".into())
        );
        // A plain Lock ignores readers.
        assert_eq!(
            decide(&ch, "w2__lock__0000000002", "__lock__", LOCK),
            Decision::Holding
        );
    }

    #[test]
    fn foreign_children_are_ignored_unless_named_as_extra_markers() {
        let ch = names(&[
            "lease_holder",
            "_c_4e2f-lock-0000000001",
            "a__lock__0000000002",
            "b__lock__00000002",
            "c__lock__x000000001",
        ]);
        assert_eq!(
            decide(&ch, "a__lock__0000000002", "__lock__", LOCK),
            Decision::Holding
        );
        assert_eq!(
            decide(
                &ch,
                "a__lock__0000000002",
                "__lock__",
                &["__lock__", "-lock-"]
            ),
            Decision::Wait("_c_4e2f-lock-0000000001".into())
        );
        assert_eq!(contenders(&ch, LOCK), names(&["a__lock__0000000002"]));
    }
}
