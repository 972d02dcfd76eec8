//! [`NodeData`]: what the write operations accept as a node's data.

use bytes::Bytes;

/// A node's data as the write operations take it ([`create`](crate::client::Client::create),
/// [`set`](crate::client::Client::set), and the transaction's
/// [`create`](crate::client::Transaction::create) and
/// [`set_data`](crate::client::Transaction::set_data)): bytes in any of their usual forms, or
/// [`NullData`].
///
/// Borrowed bytes (`b"..."`, `&[u8]`, `&str`, `&Vec<u8>`, `&String`) are copied once; owned
/// ones (`Vec<u8>`, `String`, [`Bytes`], `&Bytes`) are taken as they are, without a copy.
///
/// ZooKeeper tells null data apart from empty data (a reader gets `None` for the first,
/// `Some(b"")` for the second), so a write can store either: `b""` stores empty data,
/// [`NullData`] stores null. That difference is why this is not simply `AsRef<[u8]>`.
///
/// # Examples
///
/// ```no_run
/// # let zk = mio_zookeeper::Client::new("127.0.0.1:2181")?;
/// use bytes::Bytes;
/// use mio_zookeeper::{CreateMode, NullData};
///
/// zk.create("/literal", b"v1", CreateMode::Persistent)?;
/// zk.create("/string", format!("{}", 42), CreateMode::Persistent)?;
/// zk.create("/owned", Bytes::from(vec![0u8; 1024]), CreateMode::Persistent)?;
/// zk.create("/null", NullData, CreateMode::Persistent)?;
/// assert_eq!(zk.get("/null", None)?.0, None);
/// # Ok::<(), mio_zookeeper::Error>(())
/// ```
pub trait NodeData {
    /// The data as it goes on the wire: `None` is null.
    fn into_wire(self) -> Option<Bytes>;
}

/// ZooKeeper's null data (see [`NodeData`]): readers get `None`, not an empty value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NullData;

impl NodeData for NullData {
    fn into_wire(self) -> Option<Bytes> {
        None
    }
}

impl NodeData for Bytes {
    fn into_wire(self) -> Option<Bytes> {
        Some(self)
    }
}

impl NodeData for &Bytes {
    fn into_wire(self) -> Option<Bytes> {
        Some(self.clone())
    }
}

impl NodeData for Vec<u8> {
    fn into_wire(self) -> Option<Bytes> {
        Some(Bytes::from(self))
    }
}

impl NodeData for String {
    fn into_wire(self) -> Option<Bytes> {
        Some(Bytes::from(self))
    }
}

impl NodeData for &[u8] {
    fn into_wire(self) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(self))
    }
}

impl<const N: usize> NodeData for &[u8; N] {
    fn into_wire(self) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(self))
    }
}

impl NodeData for &Vec<u8> {
    fn into_wire(self) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(self))
    }
}

impl NodeData for &str {
    fn into_wire(self) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(self.as_bytes()))
    }
}

impl NodeData for &String {
    fn into_wire(self) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_converts_and_null_is_none() {
        let v = vec![1u8, 2];
        let s = String::from("ab");
        assert_eq!(b"ab".into_wire().as_deref(), Some(&b"ab"[..]));
        assert_eq!((&v[..]).into_wire().as_deref(), Some(&[1u8, 2][..]));
        assert_eq!((&v).into_wire().as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(v.into_wire().as_deref(), Some(&[1u8, 2][..]));
        assert_eq!((&s).into_wire().as_deref(), Some(&b"ab"[..]));
        assert_eq!(s.into_wire().as_deref(), Some(&b"ab"[..]));
        assert_eq!("ab".into_wire().as_deref(), Some(&b"ab"[..]));
        assert_eq!(
            b"".into_wire().as_deref(),
            Some(&b""[..]),
            "empty is not null"
        );
        assert_eq!(NullData.into_wire(), None);
        let big = Bytes::from(vec![7u8; 100_000]);
        let wire = (&big).into_wire().unwrap();
        assert_eq!(wire.as_ptr(), big.as_ptr(), "Bytes are not copied");
    }
}
