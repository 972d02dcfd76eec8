//! [`DigestMd5`]: an RFC 2831 DIGEST-MD5 client as ZooKeeper's server expects it
//! (SECURITY.md §2.5).

use std::borrow::Cow;

use md5::{Digest, Md5};

use super::{SaslError, SaslMechanism, SaslStep};

/// The service and host ZooKeeper's server uses for DIGEST-MD5 (Java, kazoo and the C
/// client all send them): the digest-uri is `zookeeper/zk-sasl-md5`.
const DIGEST_URI: &str = "zookeeper/zk-sasl-md5";
/// The realm to answer with when the challenge names none (the server's host name).
const DEFAULT_REALM: &str = "zk-sasl-md5";
/// RFC 2831 §2.1.1: a challenge is at most 2048 bytes.
const MAX_CHALLENGE: usize = 2048;
/// The nonce count: one response per nonce.
const NC: &str = "00000001";

/// The DIGEST-MD5 SASL mechanism (RFC 2831), client side, as ZooKeeper's server speaks it.
///
/// The exchange (SECURITY.md §2.5): an empty initial token; the server's challenge
/// (`realm`, `nonce`, `charset=utf-8`, `algorithm=md5-sess`) gets the digest-response
/// (digest-uri `zookeeper/zk-sasl-md5`, `nc=00000001`, `qop=auth`); the server's
/// `rspauth=` is checked against the password, and the exchange is [`SaslStep::Done`].
/// Authentication only: no integrity or confidentiality layer.
///
/// With `charset=utf-8` a username or password whose characters all fit ISO-8859-1 is
/// hashed as ISO-8859-1 (RFC 2831 §2.1.2.1), as Java's client does; otherwise as UTF-8.
///
/// `Debug` never shows the password. A clone of a mechanism that has not started is a
/// fresh one for a new connection (it draws its own client nonce, unless one was fixed
/// with [`with_cnonce`](Self::with_cnonce)).
///
/// # Examples
///
/// ```
/// use mio_zookeeper::sasl::{DigestMd5, SaslMechanism};
///
/// let mech: Box<dyn SaslMechanism> = Box::new(DigestMd5::new("bob", "bobsecret"));
/// assert_eq!(mech.name(), "DIGEST-MD5");
/// assert!(!mech.is_complete());
/// assert!(!format!("{:?}", DigestMd5::new("bob", "bobsecret")).contains("bobsecret"));
/// ```
#[derive(Clone)]
pub struct DigestMd5 {
    username: String,
    password: String,
    cnonce: Option<String>,
    state: State,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Waiting for the server's challenge (the empty initial token is sent or about to be).
    Challenge,
    /// The digest-response went out; this is the rspauth the server must send back.
    Rspauth(String),
    Done,
    Failed,
}

impl std::fmt::Debug for DigestMd5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestMd5")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .field("cnonce", &self.cnonce)
            .field("state", &self.state)
            .finish()
    }
}

impl DigestMd5 {
    /// A mechanism for this user and password (the `user_<name>="<password>"` entries of
    /// the server's JAAS `Server` section).
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        DigestMd5 {
            username: username.into(),
            password: password.into(),
            cnonce: None,
            state: State::Challenge,
        }
    }

    /// Fixes the client nonce instead of drawing a random one: for tests that check the
    /// response against known values. Never use a fixed cnonce against a real server.
    pub fn with_cnonce(mut self, cnonce: impl Into<String>) -> Self {
        self.cnonce = Some(cnonce.into());
        self
    }

    fn respond(&mut self, challenge: &[u8]) -> Result<SaslStep, SaslError> {
        let c = Challenge::parse(challenge)?;
        let utf8 = match c.charset.as_deref() {
            None => false,
            Some(cs) if cs.eq_ignore_ascii_case("utf-8") => true,
            Some(_) => return Err(SaslError::MalformedChallenge("charset is not utf-8")),
        };
        let nonce = c.nonce.as_deref().ok_or(SaslError::MissingNonce)?;
        match c.algorithm.as_deref() {
            Some(a) if a.eq_ignore_ascii_case("md5-sess") => {}
            other => return Err(SaslError::UnsupportedAlgorithm(other.map(str::to_owned))),
        }
        if let Some(qop) = c.qop.as_deref() {
            if !qop
                .split(',')
                .any(|q| q.trim().eq_ignore_ascii_case("auth"))
            {
                return Err(SaslError::UnsupportedQop(qop.to_owned()));
            }
        }
        let realm = c.realm.as_deref().unwrap_or(DEFAULT_REALM);
        let user = encode(&self.username, utf8).ok_or(SaslError::NotLatin1("username"))?;
        let pass = encode(&self.password, utf8).ok_or(SaslError::NotLatin1("password"))?;
        let realm_bytes = encode(realm, utf8).ok_or(SaslError::NotLatin1("realm"))?;
        let cnonce = self
            .cnonce
            .clone()
            .unwrap_or_else(|| crate::recipe::random_uuid().replace('-', ""));
        let inputs = Inputs {
            username: &user,
            realm: &realm_bytes,
            password: &pass,
            nonce: nonce.as_bytes(),
            cnonce: cnonce.as_bytes(),
            digest_uri: DIGEST_URI,
        };
        let (response, rspauth) = (inputs.digest("AUTHENTICATE"), inputs.digest(""));

        let mut out = String::new();
        if utf8 {
            out.push_str("charset=utf-8,");
        }
        out.push_str("username=");
        quote(&mut out, &self.username);
        out.push_str(",realm=");
        quote(&mut out, realm);
        out.push_str(",nonce=");
        quote(&mut out, nonce);
        out.push_str(",nc=");
        out.push_str(NC);
        out.push_str(",cnonce=");
        quote(&mut out, &cnonce);
        out.push_str(",digest-uri=");
        quote(&mut out, DIGEST_URI);
        out.push_str(",maxbuf=65536,response=");
        out.push_str(&response);
        out.push_str(",qop=auth");
        self.state = State::Rspauth(rspauth);
        Ok(SaslStep::Respond(out.into_bytes()))
    }
}

impl SaslMechanism for DigestMd5 {
    fn name(&self) -> &str {
        "DIGEST-MD5"
    }

    /// Empty: in DIGEST-MD5 the server speaks first (Java's client sends an empty token).
    fn initial_response(&mut self) -> Result<Vec<u8>, SaslError> {
        match self.state {
            State::Challenge => Ok(Vec::new()),
            _ => Err(SaslError::OutOfOrder(
                "initial_response called after the exchange started",
            )),
        }
    }

    /// The challenge gets the digest-response; the server's `rspauth=` is verified and
    /// gives [`SaslStep::Done`].
    fn step(&mut self, challenge: &[u8]) -> Result<SaslStep, SaslError> {
        let result = match std::mem::replace(&mut self.state, State::Failed) {
            State::Challenge => self.respond(challenge),
            State::Rspauth(expected) => verify_rspauth(challenge, &expected).map(|()| {
                self.state = State::Done;
                SaslStep::Done
            }),
            State::Done => {
                self.state = State::Done;
                return Err(SaslError::OutOfOrder(
                    "step called after the exchange completed",
                ));
            }
            State::Failed => {
                return Err(SaslError::OutOfOrder(
                    "step called after the exchange failed",
                ))
            }
        };
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn is_complete(&self) -> bool {
        self.state == State::Done
    }
}

fn verify_rspauth(message: &[u8], expected: &str) -> Result<(), SaslError> {
    let mut rspauth = None;
    for d in Directives::new(message)? {
        let (key, value) = d?;
        if key.eq_ignore_ascii_case("rspauth") {
            if rspauth.is_some() {
                return Err(SaslError::MalformedChallenge("rspauth appears twice"));
            }
            rspauth = Some(value);
        }
    }
    let rspauth = rspauth.ok_or(SaslError::MissingRspauth)?;
    // Not secret-dependent in a way that matters: the server already holds the password.
    if rspauth.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(SaslError::RspauthMismatch)
    }
}

/// The values of RFC 2831 §2.1.2.1 that the response and rspauth are hashed from, the
/// strings already in the bytes that are hashed (ISO-8859-1 or UTF-8).
struct Inputs<'a> {
    username: &'a [u8],
    realm: &'a [u8],
    password: &'a [u8],
    nonce: &'a [u8],
    cnonce: &'a [u8],
    digest_uri: &'a str,
}

impl Inputs<'_> {
    /// `HEX(KD(HEX(H(A1)), nonce:nc:cnonce:qop:HEX(H(A2))))` with qop `auth`, md5-sess and
    /// no authzid; `a2_method` is `"AUTHENTICATE"` for the response, `""` for rspauth.
    fn digest(&self, a2_method: &str) -> String {
        let inner = Md5::new()
            .chain_update(self.username)
            .chain_update(b":")
            .chain_update(self.realm)
            .chain_update(b":")
            .chain_update(self.password)
            .finalize();
        let a1 = Md5::new()
            .chain_update(inner)
            .chain_update(b":")
            .chain_update(self.nonce)
            .chain_update(b":")
            .chain_update(self.cnonce)
            .finalize();
        let a2 = Md5::new()
            .chain_update(a2_method)
            .chain_update(b":")
            .chain_update(self.digest_uri)
            .finalize();
        let kd = Md5::new()
            .chain_update(hex(&a1))
            .chain_update(b":")
            .chain_update(self.nonce)
            .chain_update(b":")
            .chain_update(NC)
            .chain_update(b":")
            .chain_update(self.cnonce)
            .chain_update(b":auth:")
            .chain_update(hex(&a2))
            .finalize();
        hex(&kd)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes to hash: ISO-8859-1 when every character fits (always required without
/// `charset=utf-8`; `None` if it does not fit), else UTF-8.
fn encode(s: &str, utf8: bool) -> Option<Vec<u8>> {
    if s.chars().all(|c| u32::from(c) <= 0xff) {
        Some(s.chars().map(|c| u32::from(c) as u8).collect())
    } else if utf8 {
        Some(s.as_bytes().to_vec())
    } else {
        None
    }
}

/// Appends `s` as an RFC 2831 quoted-string (`"` and `\` escaped with `\`).
fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// The directives of a challenge that this client reads; others are ignored (RFC 2831:
/// "any unrecognized options should be ignored").
#[derive(Debug, Default)]
struct Challenge<'a> {
    /// The first realm offered (a challenge may offer several).
    realm: Option<Cow<'a, str>>,
    nonce: Option<Cow<'a, str>>,
    qop: Option<Cow<'a, str>>,
    charset: Option<Cow<'a, str>>,
    algorithm: Option<Cow<'a, str>>,
}

impl<'a> Challenge<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, SaslError> {
        if bytes.len() > MAX_CHALLENGE {
            return Err(SaslError::MalformedChallenge("longer than 2048 bytes"));
        }
        let mut c = Challenge::default();
        for d in Directives::new(bytes)? {
            let (key, value) = d?;
            let (slot, twice) = match key.to_ascii_lowercase().as_str() {
                "realm" => {
                    if c.realm.is_none() {
                        c.realm = Some(value);
                    }
                    continue;
                }
                "nonce" => (&mut c.nonce, "nonce appears twice"),
                "qop" => (&mut c.qop, "qop appears twice"),
                "charset" => (&mut c.charset, "charset appears twice"),
                "algorithm" => (&mut c.algorithm, "algorithm appears twice"),
                _ => continue,
            };
            if slot.is_some() {
                return Err(SaslError::MalformedChallenge(twice));
            }
            *slot = Some(value);
        }
        Ok(c)
    }
}

/// An iterator over the `key=value` directives of a DIGEST-MD5 message: values are a
/// token or a quoted-string (with `\` escapes, commas allowed inside), separated by
/// commas with optional whitespace; empty list elements are skipped (RFC 2831 `#rule`).
struct Directives<'a> {
    s: &'a str,
    pos: usize,
    failed: bool,
}

impl<'a> Directives<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, SaslError> {
        let s =
            std::str::from_utf8(bytes).map_err(|_| SaslError::MalformedChallenge("not UTF-8"))?;
        Ok(Directives {
            s,
            pos: 0,
            failed: false,
        })
    }

    fn skip_ws_and_commas(&mut self) {
        let rest = &self.s[self.pos..];
        let trimmed = rest.trim_start_matches(|c: char| c == ',' || is_lws(c));
        self.pos += rest.len() - trimmed.len();
    }

    fn skip_ws(&mut self) {
        let rest = &self.s[self.pos..];
        self.pos += rest.len() - rest.trim_start_matches(is_lws).len();
    }

    fn token(&mut self) -> &'a str {
        let rest = &self.s[self.pos..];
        let end = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        self.pos += end;
        &rest[..end]
    }

    fn next_directive(&mut self) -> Result<(&'a str, Cow<'a, str>), SaslError> {
        let key = self.token();
        if key.is_empty() {
            return Err(SaslError::MalformedChallenge("a directive has no name"));
        }
        self.skip_ws();
        if !self.s[self.pos..].starts_with('=') {
            return Err(SaslError::MalformedChallenge(
                "a directive has no '=' after its name",
            ));
        }
        self.pos += 1;
        self.skip_ws();
        let value = if self.s[self.pos..].starts_with('"') {
            self.pos += 1;
            self.quoted()?
        } else {
            let v = self.token();
            if v.is_empty() {
                return Err(SaslError::MalformedChallenge("a directive has no value"));
            }
            Cow::Borrowed(v)
        };
        self.skip_ws();
        if self.pos < self.s.len() && !self.s[self.pos..].starts_with(',') {
            return Err(SaslError::MalformedChallenge(
                "a directive's value is not followed by ','",
            ));
        }
        Ok((key, value))
    }

    /// The rest of a quoted-string whose opening `"` was consumed.
    fn quoted(&mut self) -> Result<Cow<'a, str>, SaslError> {
        let rest = &self.s[self.pos..];
        let mut owned: Option<String> = None;
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(match owned {
                        Some(s) => Cow::Owned(s),
                        None => Cow::Borrowed(&rest[..i]),
                    });
                }
                '\\' => {
                    let Some((_, escaped)) = chars.next() else {
                        break;
                    };
                    owned
                        .get_or_insert_with(|| rest[..i].to_owned())
                        .push(escaped);
                }
                c => {
                    if let Some(s) = owned.as_mut() {
                        s.push(c);
                    }
                }
            }
        }
        Err(SaslError::MalformedChallenge(
            "a quoted value has no closing '\"'",
        ))
    }
}

impl<'a> Iterator for Directives<'a> {
    type Item = Result<(&'a str, Cow<'a, str>), SaslError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        self.skip_ws_and_commas();
        if self.pos >= self.s.len() {
            return None;
        }
        let d = self.next_directive();
        self.failed = d.is_err();
        Some(d)
    }
}

fn is_lws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// RFC 2616 token characters: any visible ASCII but the separators.
fn is_token_char(c: char) -> bool {
    c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-liner that computed the expected values below (set u, p, n, c to the
    /// test's username, password, nonce and cnonce; r and q are ZooKeeper's fixed realm
    /// and digest-uri; it prints the response and the rspauth):
    ///
    /// python3 -c 'import hashlib as h;M=lambda b:h.md5(b);u,r,p,n,c,q=b"bob",b"zk-sasl-md5",b"bobsecret",b"I6Kb06nonce+/=",b"0123456789abcdef0123456789abcdef",b"zookeeper/zk-sasl-md5";a1=M(M(u+b":"+r+b":"+p).digest()+b":"+n+b":"+c).hexdigest().encode();f=lambda m:M(a1+b":"+n+b":00000001:"+c+b":auth:"+M(m+b":"+q).hexdigest().encode()).hexdigest();print(f(b"AUTHENTICATE"),f(b""))'
    const ZK_CHALLENGE: &[u8] =
        br#"realm="zk-sasl-md5",nonce="I6Kb06nonce+/=",charset=utf-8,algorithm=md5-sess"#;
    const ZK_CNONCE: &str = "0123456789abcdef0123456789abcdef";
    const ZK_RESPONSE: &str = "1029fbdf4f7bce749865a8e2687496ca";
    const ZK_RSPAUTH: &str = "b77467b5cd409dda74a62ae517a586ea";

    fn bob() -> DigestMd5 {
        DigestMd5::new("bob", "bobsecret").with_cnonce(ZK_CNONCE)
    }

    fn respond(mech: &mut DigestMd5, challenge: &[u8]) -> Result<String, SaslError> {
        assert_eq!(mech.initial_response()?, b"");
        match mech.step(challenge)? {
            SaslStep::Respond(r) => Ok(String::from_utf8(r).unwrap()),
            SaslStep::Done => panic!("Done on a challenge"),
        }
    }

    #[test]
    fn rfc2831_section4_example() {
        let inputs = Inputs {
            username: b"chris",
            realm: b"elwood.innosoft.com",
            password: b"secret",
            nonce: b"OA6MG9tEQGm2hh",
            cnonce: b"OA6MHXh6VqTrRk",
            digest_uri: "imap/elwood.innosoft.com",
        };
        assert_eq!(
            inputs.digest("AUTHENTICATE"),
            "d388dad90d4bbd760a152321f2143af7"
        );
        assert_eq!(inputs.digest(""), "ea40f60335c427b5527b84dbabcdfffd");
    }

    #[test]
    fn zookeeper_exchange() {
        let mut mech = bob();
        assert_eq!(mech.name(), "DIGEST-MD5");
        let response = respond(&mut mech, ZK_CHALLENGE).unwrap();
        assert_eq!(
            response,
            format!(
                "charset=utf-8,username=\"bob\",realm=\"zk-sasl-md5\",nonce=\"I6Kb06nonce+/=\",\
                 nc=00000001,cnonce=\"{ZK_CNONCE}\",digest-uri=\"zookeeper/zk-sasl-md5\",\
                 maxbuf=65536,response={ZK_RESPONSE},qop=auth"
            )
        );
        assert!(!mech.is_complete());
        let fin = format!("rspauth={ZK_RSPAUTH}");
        assert_eq!(mech.step(fin.as_bytes()), Ok(SaslStep::Done));
        assert!(mech.is_complete());
        assert_eq!(
            mech.step(fin.as_bytes()),
            Err(SaslError::OutOfOrder(
                "step called after the exchange completed"
            ))
        );
        assert!(mech.is_complete());
        assert!(mech.initial_response().is_err());
    }

    #[test]
    fn rspauth_in_upper_case_or_quoted_is_accepted() {
        let mut mech = bob();
        respond(&mut mech, ZK_CHALLENGE).unwrap();
        let fin = format!("rspauth=\"{}\"", ZK_RSPAUTH.to_uppercase());
        assert_eq!(mech.step(fin.as_bytes()), Ok(SaslStep::Done));
    }

    #[test]
    fn wrong_rspauth_fails_and_stays_failed() {
        let mut mech = bob();
        respond(&mut mech, ZK_CHALLENGE).unwrap();
        // Our own response value echoed back is not the rspauth (A2 differs).
        let err = mech
            .step(format!("rspauth={ZK_RESPONSE}").as_bytes())
            .unwrap_err();
        assert_eq!(err, SaslError::RspauthMismatch);
        assert!(err
            .to_string()
            .contains("could not prove it knows the password"));
        assert!(!mech.is_complete());
        let fin = format!("rspauth={ZK_RSPAUTH}");
        assert_eq!(
            mech.step(fin.as_bytes()),
            Err(SaslError::OutOfOrder(
                "step called after the exchange failed"
            ))
        );

        let mut mech = bob();
        respond(&mut mech, ZK_CHALLENGE).unwrap();
        assert_eq!(mech.step(b""), Err(SaslError::MissingRspauth));
    }

    #[test]
    fn a_random_cnonce_differs_per_mechanism() {
        let a = respond(&mut DigestMd5::new("bob", "x"), ZK_CHALLENGE).unwrap();
        let b = respond(&mut DigestMd5::new("bob", "x"), ZK_CHALLENGE).unwrap();
        assert_ne!(a, b);
        let fresh = DigestMd5::new("bob", "x");
        let (mut c1, mut c2) = (fresh.clone(), fresh);
        assert_ne!(
            respond(&mut c1, ZK_CHALLENGE).unwrap(),
            respond(&mut c2, ZK_CHALLENGE).unwrap()
        );
    }

    /// python3 -c '…u,r,p,n,c,q="jürgen".encode("latin-1"),b"zk-sasl-md5","päss".encode("latin-1"),b"n1",b"c1",b"zookeeper/zk-sasl-md5";…'
    /// python3 -c '…u,r,p,n,c,q="日本".encode(),b"zk-sasl-md5","päss€".encode(),b"n1",b"c1",b"zookeeper/zk-sasl-md5";…'
    /// (the rest of the one-liner as above)
    #[test]
    fn iso_8859_1_rule_with_charset_utf8() {
        let challenge = br#"nonce="n1",realm="zk-sasl-md5",charset=utf-8,algorithm=md5-sess"#;
        let mut latin = DigestMd5::new("jürgen", "päss").with_cnonce("c1");
        let r = respond(&mut latin, challenge).unwrap();
        assert!(
            r.contains("response=c7c6a72633ecb838b24735f450501e2d,"),
            "{r}"
        );
        // The username is sent in UTF-8 on the wire (charset=utf-8), only hashed as Latin-1.
        assert!(r.contains("username=\"jürgen\""), "{r}");
        assert_eq!(
            latin.step(b"rspauth=69a111af120c5c16b0228329acea81ef"),
            Ok(SaslStep::Done)
        );

        let mut wide = DigestMd5::new("日本", "päss€").with_cnonce("c1");
        let r = respond(&mut wide, challenge).unwrap();
        assert!(
            r.contains("response=2dd6e663c02f34635aef00b3c7eac37d,"),
            "{r}"
        );
        assert_eq!(
            wide.step(b"rspauth=72478c2ffea526bdad4fe5364fafca69"),
            Ok(SaslStep::Done)
        );
    }

    #[test]
    fn without_charset_utf8_only_latin1_can_be_sent() {
        let challenge = br#"nonce="n1",realm="zk-sasl-md5",algorithm=md5-sess"#;
        let r = respond(
            &mut DigestMd5::new("jürgen", "päss").with_cnonce("c1"),
            challenge,
        );
        let r = r.unwrap();
        assert!(r.starts_with("username="), "no charset directive: {r}");
        assert!(
            r.contains("response=c7c6a72633ecb838b24735f450501e2d,"),
            "{r}"
        );
        let err = respond(&mut DigestMd5::new("bob", "päss€"), challenge).unwrap_err();
        assert_eq!(err, SaslError::NotLatin1("password"));
        let err = respond(&mut DigestMd5::new("日本", "x"), challenge).unwrap_err();
        assert_eq!(err, SaslError::NotLatin1("username"));
    }

    #[test]
    fn challenge_syntax() {
        // Commas and escapes inside quotes, unquoted values, spaces, empty list elements,
        // several realms (the first one is used), unknown directives, keys in any case.
        let challenge = br#" ,realm="zk-sasl-md5" , realm="other,realm",,  NONCE = "a,b\"c\\d" ,
            qop="auth-int, auth,auth-conf", stale=false,Charset=UTF-8,algorithm=MD5-sess,cipher="rc4",maxbuf=65536,"#;
        let c = Challenge::parse(challenge).unwrap();
        assert_eq!(c.realm.as_deref(), Some("zk-sasl-md5"));
        assert_eq!(c.nonce.as_deref(), Some("a,b\"c\\d"));
        assert_eq!(c.qop.as_deref(), Some("auth-int, auth,auth-conf"));
        assert_eq!(c.charset.as_deref(), Some("UTF-8"));
        assert_eq!(c.algorithm.as_deref(), Some("MD5-sess"));
        let r = respond(&mut bob(), challenge).unwrap();
        // The nonce goes back quoted again, escapes and all.
        assert!(r.contains(r#",nonce="a,b\"c\\d","#), "{r}");
        assert!(r.contains(r#",realm="zk-sasl-md5","#), "{r}");

        // No realm: the server's host name.
        let r = respond(&mut bob(), br#"nonce=abc,charset=utf-8,algorithm=md5-sess"#).unwrap();
        assert!(r.contains(r#",realm="zk-sasl-md5","#), "{r}");
        assert!(r.contains(r#",nonce="abc","#), "{r}");
    }

    #[test]
    fn challenge_errors_say_what_is_wrong() {
        let cases: &[(&[u8], SaslError)] = &[
            (
                br#"realm="zk-sasl-md5",charset=utf-8,algorithm=md5-sess"#,
                SaslError::MissingNonce,
            ),
            (
                br#"nonce="n",charset=utf-8"#,
                SaslError::UnsupportedAlgorithm(None),
            ),
            (
                br#"nonce="n",algorithm=md5"#,
                SaslError::UnsupportedAlgorithm(Some("md5".into())),
            ),
            (
                br#"nonce="n",algorithm=md5-sess,qop="auth-int,auth-conf""#,
                SaslError::UnsupportedQop("auth-int,auth-conf".into()),
            ),
            (
                br#"nonce="n",nonce="m",algorithm=md5-sess"#,
                SaslError::MalformedChallenge("nonce appears twice"),
            ),
            (
                br#"nonce="n",algorithm=md5-sess,charset=iso-8859-1"#,
                SaslError::MalformedChallenge("charset is not utf-8"),
            ),
            (
                b"nonce=\"n",
                SaslError::MalformedChallenge("a quoted value has no closing '\"'"),
            ),
            (
                b"nonce",
                SaslError::MalformedChallenge("a directive has no '=' after its name"),
            ),
            (
                b"nonce=",
                SaslError::MalformedChallenge("a directive has no value"),
            ),
            (
                b"=x",
                SaslError::MalformedChallenge("a directive has no name"),
            ),
            (
                b"nonce=\"a\"b",
                SaslError::MalformedChallenge("a directive's value is not followed by ','"),
            ),
            (b"nonce=\xff", SaslError::MalformedChallenge("not UTF-8")),
            (
                &[b'x'; 2049],
                SaslError::MalformedChallenge("longer than 2048 bytes"),
            ),
        ];
        for (challenge, want) in cases {
            let mut mech = bob();
            assert_eq!(
                respond(&mut mech, challenge).as_ref(),
                Err(want),
                "{}",
                String::from_utf8_lossy(challenge)
            );
            assert!(!mech.is_complete());
            assert!(
                mech.step(ZK_CHALLENGE).is_err(),
                "a failed exchange stays failed"
            );
        }
        assert_eq!(
            SaslError::UnsupportedAlgorithm(None).to_string(),
            "DIGEST-MD5: the server's challenge asks for algorithm (none), but only md5-sess exists"
        );
        assert_eq!(
            SaslError::UnsupportedAlgorithm(Some("md5".into())).to_string(),
            "DIGEST-MD5: the server's challenge asks for algorithm \"md5\", but only md5-sess exists"
        );
    }

    /// No bytes make the mechanism panic: every prefix of a valid challenge and final
    /// message, and a few thousand pseudo-random byte strings (biased towards the
    /// characters the parser cares about), in both states.
    #[test]
    fn garbage_truncated_and_non_utf8_never_panic() {
        let fin = format!("rspauth={ZK_RSPAUTH}");
        for end in 0..=ZK_CHALLENGE.len() {
            let _ = bob().step(&ZK_CHALLENGE[..end]);
        }
        for end in 0..=fin.len() {
            let mut mech = bob();
            respond(&mut mech, ZK_CHALLENGE).unwrap();
            let _ = mech.step(&fin.as_bytes()[..end]);
        }
        const ALPHABET: &[u8] =
            b"=,\"\\ \tnoncealgorithmd5-sessqopauthrealmcharsetutf8\xc3\xa9\xff\x00";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..5000 {
            let len = (next() % 80) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 4 == 0 {
                        (r >> 8) as u8
                    } else {
                        ALPHABET[(r >> 8) as usize % ALPHABET.len()]
                    }
                })
                .collect();
            let _ = bob().step(&bytes);
            let mut mech = bob();
            respond(&mut mech, ZK_CHALLENGE).unwrap();
            assert!(!matches!(mech.step(&bytes), Ok(SaslStep::Respond(_))));
        }
    }
}
