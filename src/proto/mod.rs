//! The ZooKeeper wire codec: frames and every jute record (PROTOCOL.md).
