//! Sequence suffixes of sequential nodes, compared as numbers across the signed wrap.
//!
//! ZooKeeper appends `%010d` of a signed 32-bit counter kept on the parent: ten digits
//! while positive, then, past 2147483647, `-2147483648` and upwards (ten or eleven
//! characters with the sign). kazoo compares the suffixes as strings, which orders `-...`
//! before `0...` (its issue #606). Here a suffix is parsed and compared in serial-number
//! arithmetic: `a` comes before `b` when `b - a` (wrapping) is positive, which is right as
//! long as the live nodes of one parent span fewer than 2^31 sequence numbers.

/// The sequence number the server appended to `name` right after `marker` (the last
/// occurrence of `marker`): `None` if `marker` is missing or what follows it is not a
/// suffix the server writes (ten digits, or a `-` and nine or ten digits).
pub(crate) fn sequence_after(name: &str, marker: &str) -> Option<i32> {
    let at = name.rfind(marker)?;
    parse_suffix(&name[at + marker.len()..])
}

/// The sequence number of a suffix as the server writes it, or `None`.
pub(crate) fn parse_suffix(suffix: &str) -> Option<i32> {
    let digits = suffix.strip_prefix('-').unwrap_or(suffix);
    let negative = digits.len() != suffix.len();
    let ok_len = if negative {
        digits.len() == 9 || digits.len() == 10
    } else {
        digits.len() == 10
    };
    if !ok_len || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    suffix.parse::<i32>().ok()
}

/// Whether sequence `a` was handed out before `b` (serial-number order across the wrap).
pub(crate) fn before(a: i32, b: i32) -> bool {
    b.wrapping_sub(a) > 0
}

/// Sorts `items` by the sequence `seq` gives each, in the order the server handed them out.
pub(crate) fn sort_by_sequence<T>(items: &mut [T], seq: impl Fn(&T) -> i32) {
    let Some(reference) = items.first().map(&seq) else {
        return;
    };
    items.sort_by_key(|t| seq(t).wrapping_sub(reference));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_parse_as_the_server_writes_them() {
        assert_eq!(
            sequence_after("abc__lock__0000000012", "__lock__"),
            Some(12)
        );
        assert_eq!(
            sequence_after("abc__lock__2147483647", "__lock__"),
            Some(i32::MAX)
        );
        assert_eq!(
            sequence_after("abc__lock__-2147483648", "__lock__"),
            Some(i32::MIN)
        );
        assert_eq!(
            sequence_after("abc__lock__-000000005", "__lock__"),
            Some(-5)
        );
        assert_eq!(
            sequence_after("entry-100-0000000001", "entry-100-"),
            Some(1)
        );
        assert_eq!(sequence_after("abc__rlock__0000000001", "__lock__"), None);
        assert_eq!(sequence_after("abc__lock__000000001", "__lock__"), None);
        assert_eq!(sequence_after("abc__lock__00000000012", "__lock__"), None);
        assert_eq!(sequence_after("abc__lock__+000000012", "__lock__"), None);
        assert_eq!(sequence_after("abc__lock__x000000012", "__lock__"), None);
        assert_eq!(sequence_after("lease_holder", "__lock__"), None);
    }

    #[test]
    fn order_holds_across_the_signed_wrap() {
        assert!(before(1, 2));
        assert!(!before(2, 1));
        assert!(!before(3, 3));
        assert!(before(i32::MAX, i32::MIN));
        assert!(before(i32::MAX - 1, -2_147_483_646));
        let mut v = vec![i32::MIN + 1, i32::MAX, i32::MIN, i32::MAX - 2];
        sort_by_sequence(&mut v, |s| *s);
        assert_eq!(v, vec![i32::MAX - 2, i32::MAX, i32::MIN, i32::MIN + 1]);
        let mut w = vec![i32::MIN, i32::MAX - 2, i32::MAX];
        sort_by_sequence(&mut w, |s| *s);
        assert_eq!(w, vec![i32::MAX - 2, i32::MAX, i32::MIN]);
    }
}
