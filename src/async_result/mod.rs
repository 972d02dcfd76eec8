//! `AsyncResult<T>`: an Rc-based, cooperatively blocking result (kazoo's `IAsyncResult`).
