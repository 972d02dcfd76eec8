//! The `Handler` trait (kazoo's `IHandler`) and its default implementation on the reactor.
