//! ACL helpers (kazoo's `kazoo.security`): digest credentials and digest ACLs.
//!
//! ZooKeeper's `digest` scheme authenticates a client with the plain `user:password`
//! ([`Client::add_auth`](super::Client::add_auth)`("digest", b"user:password")`), but stores
//! and matches the *hashed* id `user:base64(sha1("user:password"))` in ACLs. These helpers
//! compute that id. SHA-1 and base64 are written out here (a few dozen lines) so the crate
//! needs no dependency for them; SHA-1 is what ZooKeeper's `DigestAuthenticationProvider`
//! uses, not a choice of this crate.
//!
//! # Examples
//!
//! ```
//! use mio_zookeeper::{make_digest_acl, make_digest_acl_credential, Id, Perms};
//!
//! assert_eq!(
//!     make_digest_acl_credential("alice", "pw"),
//!     "alice:V55/p2T0OpjQ+low3NVAH4aLvm0="
//! );
//! let acl = make_digest_acl("alice", "pw", Perms::READ | Perms::WRITE);
//! assert_eq!(acl.id, Id::new("digest", "alice:V55/p2T0OpjQ+low3NVAH4aLvm0="));
//! assert_eq!(acl.perms, Perms::READ | Perms::WRITE);
//! ```

use crate::proto::{Acl, Id, Perms};

/// The id ZooKeeper's `digest` scheme derives from `user` and `password` (kazoo's
/// `make_digest_acl_credential`): `user:` followed by the base64 of the SHA-1 of the UTF-8
/// bytes of `user:password`.
///
/// This is what goes into a `digest` ACL and into the server's
/// `zookeeper.DigestAuthenticationProvider.superDigest` property; clients authenticate with
/// the plain `user:password`.
///
/// # Examples
///
/// ```
/// use mio_zookeeper::make_digest_acl_credential;
///
/// // The super user of kazoo's test harness.
/// assert_eq!(
///     make_digest_acl_credential("super", "test"),
///     "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
/// );
/// ```
pub fn make_digest_acl_credential(user: &str, password: &str) -> String {
    let credential = format!("{user}:{password}");
    format!("{user}:{}", base64(&sha1(credential.as_bytes())))
}

/// A `digest` ACL entry granting `perms` to `user` with `password` (kazoo's
/// `make_digest_acl`, with the permission flags as one [`Perms`]).
///
/// # Examples
///
/// ```no_run
/// use mio_zookeeper::{make_digest_acl, Client, CreateOptions, Perms};
///
/// let zk = Client::new("127.0.0.1:2181")?;
/// zk.start(None)?;
/// zk.add_auth("digest", b"alice:pw")?;
/// let opts = CreateOptions {
///     acl: Some(vec![make_digest_acl("alice", "pw", Perms::ALL)]),
///     ..CreateOptions::default()
/// };
/// zk.create("/alice-only", b"secret", opts)?;
/// # Ok::<(), mio_zookeeper::Error>(())
/// ```
pub fn make_digest_acl(user: &str, password: &str, perms: Perms) -> Acl {
    Acl::new(
        perms,
        Id::new("digest", make_digest_acl_credential(user, password)),
    )
}

/// SHA-1 (FIPS 180-4) of `data`.
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];

    // Padding: 0x80, zeros up to 56 mod 64, then the bit length as a big-endian u64.
    let bit_len = (data.len() as u64).wrapping_mul(8);
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());

    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (hi, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *hi = hi.wrapping_add(v);
        }
    }

    let mut out = [0u8; 20];
    for (chunk, v) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    out
}

/// Standard base64 (RFC 4648, with `=` padding).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextets = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for (i, s) in sextets.iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[*s as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha1_known_vectors() {
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        // Two blocks after padding.
        assert_eq!(
            hex(&sha1(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        // Exactly 55 and 56 bytes: the padding fits in one block, then needs a second.
        assert_eq!(
            hex(&sha1(&[b'a'; 55])),
            "c1c8bbdc22796e28c0e15163d20899b65621d65a"
        );
        assert_eq!(
            hex(&sha1(&[b'a'; 56])),
            "c2db330f6083854c99d4b5bfb6e8f29f201be699"
        );
        assert_eq!(
            hex(&sha1(&[b'a'; 1000])),
            "291e9a6c66994949b57ba5e650361e98fc36b1ba"
        );
    }

    #[test]
    fn base64_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
        assert_eq!(base64(b"fooba"), "Zm9vYmE=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn digest_credentials_match_zookeeper() {
        // Produced by `java org.apache.zookeeper.server.auth.DigestAuthenticationProvider`.
        assert_eq!(
            make_digest_acl_credential("super", "test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        assert_eq!(
            make_digest_acl_credential("alice", "pw"),
            "alice:V55/p2T0OpjQ+low3NVAH4aLvm0="
        );
        // UTF-8, as kazoo since PR #584.
        assert_eq!(
            make_digest_acl_credential("üser", "pässword"),
            "üser:S/LHSCEmmE6GVxI+xd586A6+JlE="
        );
    }

    #[test]
    fn digest_acl() {
        let acl = make_digest_acl("alice", "pw", Perms::READ);
        assert_eq!(acl.perms, Perms::READ);
        assert_eq!(acl.id.scheme, "digest");
        assert_eq!(acl.id.id, make_digest_acl_credential("alice", "pw"));
    }
}
