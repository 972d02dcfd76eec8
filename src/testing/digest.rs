//! ZooKeeper's digest ids: `user:base64(sha1("user:password"))`.
//!
//! The harness needs them for the server's super digest; the computation lives in the
//! library ([`crate::make_digest_acl_credential`]) since clients need it to build
//! `digest` ACLs too.

/// The id that ZooKeeper's `digest` scheme derives from `user` and `password`:
/// `user:` followed by the base64 of the SHA-1 of `user:password`. The same as
/// [`make_digest_acl_credential`](crate::make_digest_acl_credential).
///
/// This is what goes into a `digest` ACL (`Id { scheme: "digest", id }`) and into the
/// server's `zookeeper.DigestAuthenticationProvider.superDigest` property, while clients
/// authenticate with the plain `user:password`.
///
/// # Examples
///
/// ```
/// use mio_zookeeper::testing::digest_id;
///
/// // The pair kazoo's test harness uses as its super user.
/// assert_eq!(digest_id("super", "test"), "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
/// ```
pub fn digest_id(user: &str, password: &str) -> String {
    crate::make_digest_acl_credential(user, password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_ids_match_zookeeper() {
        // Produced by `java org.apache.zookeeper.server.auth.DigestAuthenticationProvider`.
        assert_eq!(
            digest_id("super", "test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        assert_eq!(
            digest_id("alice", "pw"),
            "alice:V55/p2T0OpjQ+low3NVAH4aLvm0="
        );
    }
}
